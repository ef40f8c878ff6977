import { type DevicePlace, preferredAllocation } from '../../../src/device-plugin/preferred-allocation.js';

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
});
