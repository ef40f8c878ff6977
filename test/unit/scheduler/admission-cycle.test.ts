import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { makeGpuNode, makePartition } from '../support/builders.js';
import { OperatorSim } from '../support/operator-sim.js';
import { partitionClaim } from '../support/reconciler-fixtures.js';

const NS = 'ns';
let sim: OperatorSim;
afterEach(() => sim?.stop());

describe('AdmissionCycle', () => {
  test('a deleted Node: its claims are released, the claimants warned and placed again elsewhere', async () => {
    sim = new OperatorSim([makeGpuNode('n1', { gpus: 1 }), makeGpuNode('n2', { gpus: 1 })]).start();
    sim.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '7g.180gb' }));
    await sim.settle();
    const first = sim.entries('nb')[0]!.node;
    sim.client.store.delete(sim.client.key(RESOURCES.node, first));
    sim.cycle.ownersChanged();
    sim.cycle.capacityChanged('gpunode');
    await sim.settle();
    expect(sim.entries('nb').map((e) => e.node)).toEqual([first === 'n1' ? 'n2' : 'n1']);
    expect(sim.recorder.events.find((e) => e.reason === 'NodeLost')).toMatchObject({ kind: 'GpuPartition', name: 'nb', type: 'Warning' });
    expect(sim.partition('nb', NS)?.status?.phase).toBe('Ready');
  });

  test('claims whose claimant no longer exists are released after the grace period; live claims stay', async () => {
    sim = new OperatorSim([makeGpuNode('n1')], { cycle: { gcGraceMs: 5_000 } }).start();
    sim.client.seed(RESOURCES.gpuPartition, makePartition('keep', NS, { profile: '1g.23gb' }));
    const gone = sim.client.seed(RESOURCES.gpuPartition, makePartition('gone', NS, { profile: '1g.23gb' }));
    await sim.settle();
    expect(sim.entries('gone')).toHaveLength(1);
    // Deleted without its finalizer running (e.g. forced): the claim is an orphan.
    sim.client.store.delete(sim.client.key(RESOURCES.gpuPartition, 'gone', NS));
    sim.cycle.ownersChanged();
    await sim.settle();
    // Not yet: an owner missing from the cache may just not be shown yet.
    expect(sim.entries('gone').map((e) => e.claim.uid)).toEqual([gone.metadata.uid]);
    sim.tick(5_000);
    sim.cycle.ownersChanged();
    await sim.settle();
    expect(sim.entries().map((e) => e.claim.name)).toEqual(['keep']);
  });

  test('a write refused on one node re-plans only the demands placed there', async () => {
    let placements = 0;
    sim = new OperatorSim([makeGpuNode('n1', { gpus: 1 }), makeGpuNode('n2', { gpus: 1 })], { planner: { observePlacement: () => void placements++ } }).start();
    // Two 7g partitions: one per node, decided in the same cycle.
    sim.client.seed(RESOURCES.gpuPartition, makePartition('a', NS, { profile: '7g.180gb' }));
    sim.client.seed(RESOURCES.gpuPartition, makePartition('b', NS, { profile: '7g.180gb' }));
    sim.client.conflictOnce.add('GpuNode/n2');
    await sim.settle();
    expect(sim.entries().map((e) => `${e.claim.name}@${e.node}`).sort()).toEqual(['a@n1', 'b@n2']);
    // Two placements in the first cycle, one more for the partition on the refused node.
    expect(placements).toBe(3);
    expect(sim.recorder.events.filter((e) => e.reason === 'Placed').map((e) => e.name).sort()).toEqual(['a', 'b']);
  });

  test('a cycle decides at most maxBatch demands; the rest are taken by the next cycles in order', async () => {
    sim = new OperatorSim([makeGpuNode('n1')], { cycle: { maxBatch: 3 } }).start();
    for (let i = 0; i < 7; i++) sim.client.seed(RESOURCES.gpuPartition, makePartition(`p${i}`, NS, { profile: '1g.23gb' }));
    await sim.settle();
    expect(sim.cycle.cycles()).toBe(3);
    expect(sim.client.all<GpuPartition>(RESOURCES.gpuPartition).every((p) => p.status?.phase === 'Ready')).toBe(true);
  });

  test('out of planning time, the rest of the batch is deferred, not lost', async () => {
    // Each placement takes 2 ms of the cycle's clock, past the 1 ms budget: one placement per cycle.
    sim = new OperatorSim([makeGpuNode('n1')], { cycle: { maxPlanMs: 1 }, planner: { observePlacement: () => sim.tick(2) } }).start();
    for (let i = 0; i < 4; i++) sim.client.seed(RESOURCES.gpuPartition, makePartition(`p${i}`, NS, { profile: '1g.23gb' }));
    await sim.settle();
    expect(sim.entries()).toHaveLength(4);
    expect(sim.cycle.cycles()).toBe(4);
    expect(sim.cycle.replansWithoutChange()).toBe(0);
  });

  test('a flood that cannot fit is decided at memo speed: a failed shape is not planned again while capacity stands still', async () => {
    // Each engine call takes 2 ms of the cycle's clock, past the 1 ms budget.
    let placements = 0;
    sim = new OperatorSim([makeGpuNode('n1', { gpus: 1 })], {
      cycle: { maxPlanMs: 1 },
      planner: { observePlacement: () => (placements++, sim.tick(2)) },
    }).start();
    sim.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, { profile: '7g.180gb' }));
    await sim.settle();
    for (let i = 0; i < 20; i++) sim.client.seed(RESOURCES.gpuPartition, makePartition(`w${i}`, NS, { profile: '7g.180gb' }));
    const before = { cycles: sim.cycle.cycles(), placements };
    await sim.settle();
    const waiting = sim.client.all<GpuPartition>(RESOURCES.gpuPartition).filter((p) => p.metadata.name !== 'big');
    expect(waiting.map((p) => p.status?.conditions?.find((c) => c.type === 'Allocated')?.reason)).toEqual(Array(20).fill('InsufficientCapacity'));
    // One engine call finds the shape does not fit (with its defragmentation search); the other 19 reuse it,
    // in the same cycle or the next ones, instead of one engine call per cycle each.
    expect(placements - before.placements).toBe(1);
    expect(sim.cycle.cycles() - before.cycles).toBeLessThanOrEqual(3);
    // Capacity comes back: the memo no longer holds, and the oldest waiting partition is placed.
    await sim.client.delete(RESOURCES.gpuPartition, 'big', NS);
    await sim.settle();
    expect(sim.entries().map((e) => e.claim.name)).toEqual(['w0']);
    expect(sim.cycle.replansWithoutChange()).toBe(0);
  });

  test('usage is settled before a release is written; a failed settlement writes nothing and the release is retried', async () => {
    const calls: Array<{ claims: string[]; at: string; stillInLedger: number }> = [];
    let fail = 1;
    sim = new OperatorSim([makeGpuNode('n1')], {
      beforeRelease: async (released, at) => {
        calls.push({ claims: released.map((e) => `${e.claim.name}/${e.claim.slot}`), at: at.toISOString(), stillInLedger: sim.entries('nb').length });
        if (fail-- > 0) throw new Error('usage store unavailable');
      },
    }).start();
    sim.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb', count: 2 }));
    await sim.settle();
    expect(sim.entries('nb').every((e) => e.claim.allocatedAt === sim.now().toISOString())).toBe(true);
    expect(calls).toEqual([]);
    await sim.client.delete(RESOURCES.gpuPartition, 'nb', NS);
    await sim.settle();
    expect(sim.entries('nb')).toEqual([]);
    // First attempt refused: nothing written; the second settled, then released.
    expect(calls.map((c) => [c.claims.sort(), c.stillInLedger])).toEqual([
      [['nb/0', 'nb/1'], 2],
      [['nb/0', 'nb/1'], 2],
    ]);
  });

  test('stop drops the queue and what was assumed; a new start plans from the ledger as the cache shows it', async () => {
    sim = new OperatorSim([makeGpuNode('n1', { gpus: 1 })]).start();
    const p = sim.client.seed(RESOURCES.gpuPartition, makePartition('held', NS, { profile: '7g.180gb' }));
    sim.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0, claim: partitionClaim(p) }] }] };
    }, true);
    sim.client.seed(RESOURCES.gpuPartition, makePartition('waiting', NS, { profile: '7g.180gb' }));
    await sim.settle();
    expect(sim.cycle.verdict('GpuPartition', NS, 'waiting')?.code).toBe('InsufficientCapacity');
    await sim.cycle.stop();
    expect(sim.cycle.verdict('GpuPartition', NS, 'waiting')).toBeUndefined();
    expect(sim.ledger.pending()).toEqual([]);
    sim.cycle.start();
    await sim.settle();
    expect(sim.cycle.verdict('GpuPartition', NS, 'waiting')?.code).toBe('InsufficientCapacity');
    expect(sim.entries().map((e) => e.claim.name)).toEqual(['held']);
  });
});
