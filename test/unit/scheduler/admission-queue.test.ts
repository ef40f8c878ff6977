import { AdmissionQueue, compareDemands } from '../../../src/scheduler/admission-queue.js';
import { partitionDemand, type Demand } from '../../../src/scheduler/demand.js';
import { makePartition } from '../support/builders.js';

const demand = (name: string, opts: { priority?: number; created?: string; count?: number; release?: boolean; generation?: number; inUse?: boolean } = {}): Demand => {
  const p = makePartition(name, 'ns', { profile: '1g.23gb', count: opts.count ?? 1, priority: opts.priority ?? 0 });
  p.metadata.uid = `uid-${name}`;
  p.metadata.generation = opts.generation ?? 1;
  p.metadata.creationTimestamp = opts.created ?? '2026-01-01T00:00:00Z';
  return partitionDemand(p, { release: opts.release ?? false, inUse: opts.inUse ?? false });
};

describe('AdmissionQueue', () => {
  test('hands out releases first, then by priority, age and name', () => {
    const q = new AdmissionQueue();
    for (const d of [
      demand('b'),
      demand('a'),
      demand('old', { created: '2025-01-01T00:00:00Z' }),
      demand('high', { priority: 9, created: '2027-01-01T00:00:00Z' }),
      demand('gone', { release: true, priority: -5 }),
    ]) q.submit(d);
    expect(q.take(10).map((d) => d.who.name)).toEqual(['gone', 'high', 'old', 'a', 'b']);
    expect(q.take(2).map((d) => d.who.name)).toEqual(['gone', 'high']);
    expect([demand('x'), demand('y', { release: true })].sort(compareDemands).map((d) => d.who.name)).toEqual(['y', 'x']);
  });

  test('a parked demand stays parked through unchanged resubmissions and wakes when capacity moves past it', () => {
    const q = new AdmissionQueue();
    const d = demand('w');
    expect(q.submit(d)).toBe(true);
    q.park(d, 3, false);
    expect(q.readyCount()).toBe(0);
    expect(q.submit(demand('w'))).toBe(false);
    expect(q.wake(3)).toBe(0);
    expect(q.wake(4)).toBe(1);
    expect(q.take(5).map((x) => x.who.name)).toEqual(['w']);
  });

  test('a changed demand (new generation, count or use) is ready at once; a permanent park waits only for that', () => {
    const q = new AdmissionQueue();
    const d = demand('w');
    q.submit(d);
    q.park(d, 1, true);
    expect(q.wake(1_000)).toBe(0);
    expect(q.submit(demand('w', { inUse: true }))).toBe(true);
    q.park(demand('w', { inUse: true }), 1, true);
    expect(q.submit(demand('w', { generation: 2 }))).toBe(true);
    expect(q.readyCount()).toBe(1);
  });

  test('settling or parking a decided demand leaves a newer submission of the same key alone', () => {
    const q = new AdmissionQueue();
    const old = demand('w');
    q.submit(old);
    const newer = demand('w', { count: 2 });
    q.submit(newer);
    q.park(old, 1, false);
    q.settle(old);
    expect(q.get(newer.key)).toBe(newer);
    expect(q.isParked(newer.key)).toBe(false);
    q.settle(newer);
    expect(q.size()).toBe(0);
  });

  test('counts a demand planned twice at the same capacity without a change (never, in the cycle), not one that changed', () => {
    const q = new AdmissionQueue();
    const d = demand('w');
    q.submit(d);
    q.noteDecided(d.key, 1);
    q.noteDecided(d.key, 2);
    expect(q.replansWithoutChange()).toBe(0);
    q.noteDecided(d.key, 2);
    expect(q.replansWithoutChange()).toBe(1);
    q.submit(demand('w', { generation: 2 }));
    q.noteDecided(d.key, 2);
    expect(q.replansWithoutChange()).toBe(1);
  });

  test('reports how many parked demands wait ahead of one', () => {
    const q = new AdmissionQueue();
    const high = demand('high', { priority: 5 });
    const low = demand('low');
    const mine = demand('mine', { priority: 1 });
    for (const d of [high, low, mine]) {
      q.submit(d);
      q.park(d, 0, false);
    }
    expect(q.waitingAhead(mine)).toBe(1);
    expect(q.waitingAhead(low)).toBe(2);
  });
});
