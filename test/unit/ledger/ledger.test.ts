import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { isConflict } from '../../../src/k8s/errors.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { AssumedLedger } from '../../../src/ledger/assumed-ledger.js';
import { LedgerDraft } from '../../../src/ledger/ledger-draft.js';
import { LedgerConflict, writeLedgerNode } from '../../../src/ledger/ledger-write.js';
import type { CachePort } from '../../../src/runtime/ports.js';
import { makeGpuNode, makePartition } from '../support/builders.js';
import { FakeClient, cacheOf } from '../support/fakes.js';
import { OperatorSim } from '../support/operator-sim.js';
import { partitionClaim } from '../support/reconciler-fixtures.js';

const claim = (name: string, slot = 0) => ({ kind: 'GpuPartition' as const, namespace: 'a', name, uid: name, slot, priority: 0, preemptible: false });

describe('LedgerDraft', () => {
  test('release keeps the slice carved and reports only the changed nodes, in name order', () => {
    const a = makeGpuNode('b-node');
    a.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('x') }] }] };
    const b = makeGpuNode('a-node');
    b.spec = { gpus: [{ index: 1, mode: 'whole', slices: [], claim: claim('x', 1) }] };
    const c = makeGpuNode('c-node');
    const draft = new LedgerDraft([a, b, c]);
    expect(draft.release((cl) => cl.name === 'x')).toBe(2);
    expect(draft.changed().map((n) => n.metadata.name)).toEqual(['a-node', 'b-node']);
    expect(draft.changed()[1]?.spec?.gpus?.[0]?.slices).toEqual([{ profile: '1g.23gb', start: 0 }]);
    // The inputs are untouched.
    expect(a.spec.gpus?.[0]?.slices[0]?.claim?.name).toBe('x');
  });

  test('copies only the nodes it edits: a pass that changes nothing hands back the given objects', () => {
    const a = makeGpuNode('a');
    a.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('x') }] }] };
    const b = makeGpuNode('b');
    const draft = new LedgerDraft([a, b]);
    expect(draft.release((cl) => cl.name === 'nobody')).toBe(0);
    expect(draft.nodes()[0]).toBe(a);
    expect(draft.nodes()[1]).toBe(b);
    expect(draft.changed()).toEqual([]);
    draft.release((cl) => cl.name === 'x');
    expect(draft.nodes()[0]).not.toBe(a);
    expect(draft.nodes()[1]).toBe(b);
    expect(draft.original('a')).toBe(a);
    expect(a.spec.gpus?.[0]?.slices[0]?.claim?.name).toBe('x');
  });

  test('a node edited back to its original spec is not reported as changed (so not written)', () => {
    const a = makeGpuNode('a');
    const slice = { profile: '1g.23gb', start: 0, claim: claim('x') };
    a.spec = { gpus: [{ index: 0, mode: 'mig', slices: [slice] }] };
    const draft = new LedgerDraft([a]);
    const holder = { key: 'GpuPartition/a/x/0', priority: 0, preemptible: false };
    draft.applyLayouts([{ node: 'a', gpuIndex: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, inUse: false, holder }] }], () => claim('x'));
    expect(draft.changed()).toEqual([]);
    draft.applyLayouts([{ node: 'a', gpuIndex: 1, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, inUse: false, holder }] }], () => claim('x'));
    expect(draft.changed().map((n) => n.spec?.gpus?.map((g) => g.index))).toEqual([[0, 1]]);
  });

  test('a layout naming an unknown holder is refused rather than written without a claim', () => {
    const draft = new LedgerDraft([makeGpuNode('n1')]);
    const layout = { node: 'n1', gpuIndex: 0, mode: 'mig' as const, slices: [{ profile: '1g.23gb', start: 0, inUse: false, holder: { key: 'GpuPartition/a/ghost/0', priority: 0, preemptible: false } }] };
    expect(() => draft.applyLayouts([layout], () => undefined)).toThrow(/ghost/);
  });
});

describe('writeLedgerNode', () => {
  const planned = () => {
    const client = new FakeClient();
    const base = client.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
    const edited = structuredClone(base);
    edited.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('x') }] }] };
    return { client, base, edited };
  };

  test('writes the spec and returns the node with its new generation', async () => {
    const { client, base, edited } = planned();
    const out = await writeLedgerNode(client, edited, base);
    expect(out.spec).toEqual(edited.spec);
    expect(out.metadata.generation).toBe((base.metadata.generation ?? 1) + 1);
  });

  test('a status report of the agent in between (same generation) does not conflict', async () => {
    const { client, base, edited } = planned();
    client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => (gn.status!.observedGeneration = 1));
    const out = await writeLedgerNode(client, edited, base);
    expect(out.spec).toEqual(edited.spec);
  });

  test('another ledger writer in between (a new generation) is refused as a conflict, and nothing is written', async () => {
    const { client, base, edited } = planned();
    client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => (gn.spec = { gpus: [{ index: 3, mode: 'whole', slices: [] }] }), true);
    const err = await writeLedgerNode(client, edited, base).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerConflict);
    expect(isConflict(err)).toBe(true);
    expect((await client.get<GpuNode>(RESOURCES.gpuNode, 'n1'))?.spec?.gpus?.[0]?.index).toBe(3);
  });

  test('a spec the API server refuses while the node is unchanged is an error, not a conflict', async () => {
    const { client, base, edited } = planned();
    client.invalidOnce.add('GpuNode/n1');
    const err = await writeLedgerNode(client, edited, base).then(() => undefined, (e: unknown) => e);
    expect(err).not.toBeInstanceOf(LedgerConflict);
    expect(isConflict(err)).toBe(false);
    expect(String((err as Error).message)).toMatch(/writing target layout of GpuNode n1/);
  });

  test('a refused write carries the node as it is now, for the next plan', async () => {
    const { client, base, edited } = planned();
    client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => (gn.spec = { gpus: [{ index: 3, mode: 'whole', slices: [] }] }), true);
    const err = (await writeLedgerNode(client, edited, base).then(() => undefined, (e: unknown) => e)) as LedgerConflict;
    expect(err.current?.metadata.generation).toBe(2);
  });

  test('a node deleted and re-created under the same name (another uid) is refused', async () => {
    const { client, base, edited } = planned();
    client.store.delete(client.key(RESOURCES.gpuNode, 'n1'));
    client.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
    await expect(writeLedgerNode(client, edited, base)).rejects.toBeInstanceOf(LedgerConflict);
  });
});

describe('AssumedLedger', () => {
  /** A cache frozen at the versions first listed, like an informer that has not seen a write yet. */
  function laggingCache(client: FakeClient) {
    const live = cacheOf<GpuNode>(client, RESOURCES.gpuNode);
    let frozen: GpuNode[] | undefined;
    const cache: CachePort<GpuNode> = {
      get: (n) => (frozen ?? live.list()).find((x) => x.metadata.name === n),
      list: () => (frozen ??= live.list()),
    };
    return { cache, catchUp: () => (frozen = live.list()) };
  }

  test('shows its own writes until the lagging cache catches up, then the cache (with its newer status)', async () => {
    const client = new FakeClient();
    const base = client.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
    const { cache, catchUp } = laggingCache(client);
    cache.list();
    const ledger = new AssumedLedger(cache);
    const p = makePartition('x', 'a', { profile: '1g.23gb' });
    p.metadata.uid = 'x';
    const edited = structuredClone(base);
    edited.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: partitionClaim(p) }] }] };
    ledger.assume(await writeLedgerNode(client, edited, base));
    expect(ledger.entriesOf({ kind: 'GpuPartition', namespace: 'a', name: 'x' })).toHaveLength(1);
    expect(cache.get('n1')?.spec).toEqual({});
    expect(ledger.pending()).toEqual(['n1']);
    client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => (gn.status!.observedGeneration = gn.metadata.generation));
    catchUp();
    expect(ledger.pending()).toEqual([]);
    expect(ledger.get('n1')?.status?.observedGeneration).toBe(2);
    expect(ledger.entriesOf({ kind: 'GpuPartition', namespace: 'a', name: 'x' })).toHaveLength(1);
  });

  test('an assumption older than the cache is ignored; a node gone from the cache is gone', () => {
    const client = new FakeClient();
    client.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
    const cache = cacheOf<GpuNode>(client, RESOURCES.gpuNode);
    const ledger = new AssumedLedger(cache);
    const old = structuredClone(cache.get('n1')!);
    client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => (gn.spec = { gpus: [] }), true);
    ledger.assume(old);
    expect(ledger.get('n1')?.metadata.generation).toBe(2);
    ledger.assume({ ...structuredClone(cache.get('n1')!), metadata: { ...cache.get('n1')!.metadata, generation: 9 } });
    client.store.delete(client.key(RESOURCES.gpuNode, 'n1'));
    expect(ledger.get('n1')).toBeUndefined();
    expect(ledger.list()).toEqual([]);
  });

  test('tells its own spec writes from somebody else\'s in watch events', () => {
    const client = new FakeClient();
    client.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
    const ledger = new AssumedLedger(cacheOf<GpuNode>(client, RESOURCES.gpuNode));
    const spec = { gpus: [{ index: 0, mode: 'mig' as const, slices: [] }] };
    ledger.sending('n1', spec);
    expect(ledger.ownSpec({ ...makeGpuNode('n1'), spec: structuredClone(spec) })).toBe(true);
    expect(ledger.ownSpec({ ...makeGpuNode('n1'), spec: { gpus: [] } })).toBe(false);
    ledger.reset();
    expect(ledger.ownSpec({ ...makeGpuNode('n1'), spec })).toBe(false);
  });
});

describe('restart safety', () => {
  test('a cycle planning while the GpuNode cache lags its own write does not place twice', async () => {
    const sim = new OperatorSim([makeGpuNode('n1'), makeGpuNode('n2')], { agent: false }).start();
    try {
      sim.client.seed(RESOURCES.gpuPartition, makePartition('nb', 'a', { profile: '7g.180gb' }));
      await sim.settle();
      // The partition's demand comes again (a resync) while the cache still lags: the assumed ledger answers.
      sim.cycle.capacityChanged('gpunode');
      await sim.settle();
      expect(sim.entries('nb')).toHaveLength(1);
    } finally {
      await sim.stop();
    }
  });

  test('a fresh operator (restart) adopts the claims already in the ledger without writing them again', async () => {
    const sim = new OperatorSim([], { agent: false });
    try {
      const part = sim.client.seed(RESOURCES.gpuPartition, makePartition('nb', 'a', { profile: '3g.90gb', count: 2 }));
      const gn = makeGpuNode('n1');
      gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: partitionClaim(part, 0) }, { profile: '3g.90gb', start: 4, claim: partitionClaim(part, 1) }] }] };
      sim.client.seed(RESOURCES.gpuNode, gn);
      sim.client.seed(RESOURCES.node, { metadata: { name: 'n1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
      sim.start();
      sim.tick(5_000);
      await sim.settle();
      expect(sim.client.writesOf('GpuNode')).toBe(0);
      const status = (sim.client.store.get(sim.client.key(RESOURCES.gpuPartition, 'nb', 'a')) as GpuPartition).status;
      expect(status?.allocations?.map((x) => `${x.gpuIndex}@${x.start}`)).toEqual(['0@0', '0@4']);
      expect(status?.phase).toBe('Allocating');
    } finally {
      await sim.stop();
    }
  });
});
