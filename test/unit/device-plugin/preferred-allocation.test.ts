import fc from 'fast-check';
import { type DevicePlace, preferredAllocation, preferredAllocationProblem } from '../../../src/device-plugin/preferred-allocation.js';

function places(groupOf: (i: number) => number, n = 8): Map<string, DevicePlace> {
  return new Map(Array.from({ length: n }, (_, i) => [`g${i}`, { group: groupOf(i), order: i }]));
}

describe('preferredAllocation', () => {
  const twoGroups = places((i) => (i < 4 ? 0 : 1));

  it('keeps the request inside the smallest NVLink group that fits', () => {
    expect(preferredAllocation(twoGroups, ['g7', 'g0', 'g2', 'g5', 'g6'], [], 2)).toEqual(['g0', 'g2']);
    expect(preferredAllocation(twoGroups, ['g7', 'g0', 'g2', 'g5', 'g6'], [], 3)).toEqual(['g5', 'g6', 'g7']);
  });

  it('chooses adjacent indices inside a group', () => {
    const one = places(() => 0);
    expect(preferredAllocation(one, ['g0', 'g3', 'g4', 'g5', 'g7'], [], 3)).toEqual(['g3', 'g4', 'g5']);
  });

  it('keeps must-include devices and fills from their group first', () => {
    const got = preferredAllocation(twoGroups, ['g1', 'g2', 'g4', 'g5', 'g6'], ['g6'], 3);
    expect(got[0]).toBe('g6');
    expect(got.slice(1).sort()).toEqual(['g4', 'g5']);
  });

  it('spills across groups only when no group can hold the request', () => {
    const got = preferredAllocation(twoGroups, ['g0', 'g1', 'g4', 'g5', 'g6'], [], 5);
    expect(got.sort()).toEqual(['g0', 'g1', 'g4', 'g5', 'g6']);
  });

  it('returns exactly the requested size from devices it does not know', () => {
    expect(preferredAllocation(new Map(), ['x', 'y', 'z'], [], 2)).toHaveLength(2);
  });

  it('rejects requests it cannot answer, naming the problem', () => {
    expect(preferredAllocationProblem(['g0', 'g1'], ['g5'], 2)).toMatch(/must-include device\(s\) g5 not in the available list/);
    expect(preferredAllocationProblem(['g0', 'g1', 'g2'], ['g0', 'g1'], 1)).toMatch(/2 must-include devices exceed the allocation size 1/);
    expect(preferredAllocationProblem(['g0', 'g0', 'g1'], [], 3)).toMatch(/allocation size 3 but 2 available/);
    expect(preferredAllocationProblem(['g0'], [], -1)).toMatch(/not a whole number/);
    expect(preferredAllocationProblem(['g0'], [], 1.5)).toMatch(/not a whole number/);
    expect(preferredAllocationProblem(['g0', 'g1'], ['g1', 'g1'], 1)).toBeUndefined();
    expect(() => preferredAllocation(twoGroups, ['g0'], ['g1'], 1)).toThrow(/not in the available list/);
  });

  it('with a preference: reserved devices first, then spare, doomed ones last; locality within each rank', () => {
    const one = places(() => 0);
    // g1, g5 reserved; g2, g3 doomed; the rest spare.
    const rank = (id: string) => ({ g1: 0, g5: 0, g2: 2, g3: 2 })[id] ?? 1;
    const all = ['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7'];
    expect(preferredAllocation(one, all, [], 1, rank)).toEqual(['g1']);
    expect(preferredAllocation(one, all, [], 2, rank).sort()).toEqual(['g1', 'g5']);
    // Then a spare one (the leftmost of the spare ones' tightest window).
    expect(preferredAllocation(one, all, [], 3, rank).sort()).toEqual(['g0', 'g1', 'g5']);
    // Doomed only when nothing else is left: 6 reserved or spare, then the leftmost doomed one.
    expect(preferredAllocation(one, all, [], 7, rank).sort()).toEqual(['g0', 'g1', 'g2', 'g4', 'g5', 'g6', 'g7']);
    expect(preferredAllocation(one, ['g2', 'g3', 'g6'], [], 1, rank)).toEqual(['g6']);
    // A must-include device is kept whatever its rank.
    expect(preferredAllocation(one, all, ['g3'], 2, rank).sort()).toEqual(['g1', 'g3']);
    // Across NVLink groups: a reserved device in the other group still goes first.
    expect(preferredAllocation(twoGroups, ['g0', 'g1', 'g6'], [], 1, (id) => (id === 'g6' ? 0 : 1))).toEqual(['g6']);
  });

  it('answers exactly `size` distinct available devices including every must-include one (property)', () => {
    const request = fc
      .record({
        groups: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 10 }),
        extraUnknown: fc.integer({ min: 0, max: 3 }),
      })
      .chain(({ groups, extraUnknown }) => {
        const known = groups.map((_, i) => `d${i}`);
        const all = [...known, ...Array.from({ length: extraUnknown }, (_, i) => `u${i}`)];
        return fc
          .record({
            available: fc.subarray(all, { minLength: 1 }),
            dupes: fc.array(fc.constantFrom(...all), { maxLength: 3 }),
            mustPick: fc.array(fc.boolean(), { minLength: all.length, maxLength: all.length }),
            sizeFrac: fc.double({ min: 0, max: 1, noNaN: true }),
            order: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: groups.length, maxLength: groups.length }),
          })
          .map(({ available, dupes, mustPick, sizeFrac, order }) => {
            const avail = [...available, ...dupes.filter((d) => available.includes(d))];
            const must = available.filter((id) => mustPick[all.indexOf(id)]).slice(0, 3);
            const distinct = new Set(avail).size;
            const size = must.length + Math.floor(sizeFrac * (distinct - must.length));
            const places = new Map(known.map((id, i) => [id, { group: groups[i], order: order[i] * 10 + i }]));
            return { places, available: avail, must: [...must, ...must.slice(0, 1)], size };
          });
      });
    fc.assert(
      fc.property(request, ({ places, available, must, size }) => {
        expect(preferredAllocationProblem(available, must, size)).toBeUndefined();
        const got = preferredAllocation(places, available, must, size);
        expect(got).toHaveLength(size);
        // The same with a preference; and nothing ranked worse is taken while something ranked better is left.
        const rank = (id: string) => (id.charCodeAt(id.length - 1) % 3);
        const ranked = preferredAllocation(places, available, must, size, rank);
        expect(new Set(ranked).size).toBe(size);
        for (const id of must) expect(ranked).toContain(id);
        const worst = Math.max(-1, ...ranked.filter((id) => !must.includes(id)).map(rank));
        for (const id of new Set(available)) if (!ranked.includes(id)) expect(rank(id)).toBeGreaterThanOrEqual(worst);
        expect(new Set(got).size).toBe(size);
        for (const id of got) expect(available).toContain(id);
        for (const id of must) expect(got).toContain(id);
      }),
      { numRuns: 500, seed: 311 },
    );
  });
});
