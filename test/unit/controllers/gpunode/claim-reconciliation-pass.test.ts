import type { GpuNode, GpuPartition } from '../../../../src/api/types.js';
import { ClaimReconciliationPass } from '../../../../src/controllers/gpunode/claim-reconciliation-pass.js';
import { GpuNodeReconciler } from '../../../../src/controllers/gpunode/gpunode-reconciler.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { makeGpuNode, makePartition, makePartitionPod } from '../../support/builders.js';
import { quietLog } from '../../support/fakes.js';
import { OperatorSim } from '../../support/operator-sim.js';

let sims: OperatorSim[] = [];
afterEach(async () => {
  for (const s of sims) await s.stop();
  sims = [];
});

/** One node with two 1g.23gb partitions `a` and `b` placed and realised, and a GpuNode reconciler. */
async function setup(opts: { podCache?: boolean; watchNamespace?: string } = {}) {
  const sim = new OperatorSim([makeGpuNode('n1', { gpus: 1 })]).start();
  sims.push(sim);
  const { client, recorder } = sim;
  const claims = new ClaimReconciliationPass({
    client,
    recorder,
    ...(opts.podCache ? { pods: sim.pods } : {}),
    onWritten: (n) => sim.ledger.assume(n),
    sending: (name, spec) => sim.ledger.sending(name, spec),
    ...(opts.watchNamespace ? { owns: (x: string) => x === opts.watchNamespace } : {}),
  });
  const gpuNodes = new GpuNodeReconciler({ ledger: sim.ledger, claims });
  for (const name of ['a', 'b']) client.seed(RESOURCES.gpuPartition, makePartition(name, 'ns', { profile: '1g.23gb' }));
  await sim.settle();
  const startOf = (name: string) => sim.entries(name)[0]?.start as number;
  /** The agent reports `pod` on the slice at `start`. */
  const use = (start: number, pod: string) =>
    client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      const s = gn.status!.gpus![0]!.slices.find((x) => x.start === start)!;
      s.inUse = true;
      s.pod = { namespace: 'ns', name: pod };
    });
  return {
    client,
    recorder,
    startOf,
    use,
    observe: () => gpuNodes.reconcile({ name: 'n1' }, quietLog),
    partition: async (name: string) => {
      await sim.settle();
      return (await client.get<GpuPartition>(RESOURCES.gpuPartition, name, 'ns'))!;
    },
  };
}

describe('claim reconciliation in the GpuNode reconciler', () => {
  test.each([{ podCache: true }, { podCache: false }])('a pod of A given B’s slice: ledger swapped, Events on both, statuses follow (pod cache: $podCache)', async (opts) => {
    const t = await setup(opts);
    const [aStart, bStart] = [t.startOf('a'), t.startOf('b')];
    expect(aStart).not.toBe(bStart);
    t.client.seed(RESOURCES.pod, makePartitionPod('a-pod', 'ns', 'a', 'nvidia.com/mig-1g.23gb', { gated: false, phase: 'Running', node: 'n1' }));
    t.use(bStart, 'a-pod');
    await t.observe();
    expect(t.startOf('a')).toBe(bStart);
    expect(t.startOf('b')).toBe(aStart);
    const swapped = t.recorder.events.filter((e) => e.reason === 'ClaimSwapped');
    expect(swapped.map((e) => `${e.kind}/${e.name}/${e.type}`).sort()).toEqual(['GpuPartition/a/Normal', 'GpuPartition/b/Normal']);
    expect(swapped.find((e) => e.name === 'a')?.message).toContain('a-pod');
    const a = await t.partition('a');
    const b = await t.partition('b');
    expect(a.status?.allocations?.[0]).toMatchObject({ start: bStart, inUse: true, uuid: expect.stringContaining(`-${bStart}-`) });
    expect(b.status?.allocations?.[0]).toMatchObject({ start: aStart, inUse: false });
    // Level-triggered: another pass finds nothing to do.
    const writes = t.client.writesOf('GpuNode', 'jsonPatch');
    await t.observe();
    expect(t.client.writesOf('GpuNode', 'jsonPatch')).toBe(writes);
  });

  test('a write conflict changes nothing and asks for a retry; the retry swaps', async () => {
    const t = await setup({ podCache: true });
    const bStart = t.startOf('b');
    t.client.seed(RESOURCES.pod, makePartitionPod('a-pod', 'ns', 'a', 'nvidia.com/mig-1g.23gb', { gated: false, phase: 'Running', node: 'n1' }));
    t.use(bStart, 'a-pod');
    t.client.conflictOnce.add('GpuNode/n1');
    expect(await t.observe()).toEqual({ requeueAfterMs: expect.any(Number) });
    expect(t.startOf('b')).toBe(bStart);
    expect(t.recorder.reasons()).not.toContain('ClaimSwapped');
    await t.observe();
    expect(t.startOf('a')).toBe(bStart);
  });

  test('a pod of no partition on a held slice: Warning SliceMisused on the GpuNode, nothing moves', async () => {
    const t = await setup();
    const [aStart, bStart] = [t.startOf('a'), t.startOf('b')];
    t.client.seed(RESOURCES.pod, { ...makePartitionPod('intruder', 'ns', 'x', 'nvidia.com/mig-1g.23gb', { gated: false, node: 'n1' }), metadata: { name: 'intruder', namespace: 'ns' } });
    t.use(bStart, 'intruder');
    const writes = t.client.writesOf('GpuNode');
    await t.observe();
    expect(t.client.writesOf('GpuNode')).toBe(writes);
    expect([t.startOf('a'), t.startOf('b')]).toEqual([aStart, bStart]);
    const warn = t.recorder.events.find((e) => e.reason === 'SliceMisused');
    expect(warn).toMatchObject({ kind: 'GpuNode', name: 'n1', type: 'Warning' });
    expect(warn?.message).toContain('ns/intruder');
  });

  test('A with no idle slice left: SliceMisused, and A’s in-use slice keeps its claim', async () => {
    const t = await setup({ podCache: true });
    const [aStart, bStart] = [t.startOf('a'), t.startOf('b')];
    for (const n of ['a-1', 'a-2']) t.client.seed(RESOURCES.pod, makePartitionPod(n, 'ns', 'a', 'nvidia.com/mig-1g.23gb', { gated: false, node: 'n1' }));
    t.use(aStart, 'a-1');
    t.use(bStart, 'a-2');
    await t.observe();
    expect([t.startOf('a'), t.startOf('b')]).toEqual([aStart, bStart]);
    expect(t.recorder.events.filter((e) => e.reason === 'SliceMisused').map((e) => e.message)).toEqual([expect.stringContaining('holds no idle 1g.23gb')]);
  });

  test('a reported pod that no longer exists is skipped without an Event', async () => {
    const t = await setup();
    t.use(t.startOf('b'), 'ghost');
    await t.observe();
    expect(t.recorder.reasons().filter((r) => r === 'SliceMisused' || r === 'ClaimSwapped')).toEqual([]);
  });

  test('a namespace-scoped operator leaves pods of other namespaces alone', async () => {
    const t = await setup({ watchNamespace: 'elsewhere' });
    t.client.seed(RESOURCES.pod, makePartitionPod('a-pod', 'ns', 'a', 'nvidia.com/mig-1g.23gb', { gated: false, node: 'n1' }));
    const bStart = t.startOf('b');
    t.use(bStart, 'a-pod');
    await t.observe();
    expect(t.startOf('b')).toBe(bStart);
    expect(t.recorder.events.filter((e) => e.reason === 'ClaimSwapped' || e.reason === 'SliceMisused')).toEqual([]);
  });
});
