import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/controllers/claims.js';
import { GpuPartitionReconciler } from '../../../src/controllers/gpupartition-reconciler.js';
import { CACHE_WAIT_MS, LedgerDraft, LedgerExpectations } from '../../../src/controllers/ledger.js';
import type { CachePort } from '../../../src/controllers/ports.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { place } from '../../../src/placement/engine.js';
import { makeGpuNode, makeNode, makePartition } from './builders.js';
import { FakeClient, FakeRecorder, cacheOf, quietLog } from './fakes.js';
import { claimantCaches, partitionClaim } from './reconciler-fixtures.js';

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

  test('a layout naming an unknown holder is refused rather than written without a claim', () => {
    const draft = new LedgerDraft([makeGpuNode('n1')]);
    const layout = { node: 'n1', gpuIndex: 0, mode: 'mig' as const, slices: [{ profile: '1g.23gb', start: 0, inUse: false, holder: { key: 'GpuPartition/a/ghost/0', priority: 0, preemptible: false } }] };
    expect(() => draft.applyLayouts([layout], () => undefined)).toThrow(/ghost/);
  });
});

describe('LedgerExpectations', () => {
  test('satisfied only once the cache shows the written generation (or the node is gone)', () => {
    const exp = new LedgerExpectations();
    const written = makeGpuNode('n1');
    written.metadata.generation = 4;
    exp.noteWritten(written);
    const cached = makeGpuNode('n1');
    cached.metadata.generation = 3;
    expect(exp.satisfied(() => cached)).toBe(false);
    cached.metadata.generation = 4;
    expect(exp.satisfied(() => cached)).toBe(true);
    exp.noteWritten(written);
    expect(exp.satisfied(() => undefined)).toBe(true);
  });
});

describe('restart safety', () => {
  test('a pass planning from a GpuNode cache older than its own write waits instead of placing twice', async () => {
    const client = new FakeClient();
    client.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
    client.seed(RESOURCES.gpuNode, makeGpuNode('n2'));
    client.seed(RESOURCES.node, makeNode('n1'));
    client.seed(RESOURCES.node, makeNode('n2'));
    client.seed(RESOURCES.gpuPartition, makePartition('nb', 'a', { profile: '7g.180gb' }));
    // A cache that freezes the GpuNodes as first listed, like an informer that has not seen the write yet.
    const live = cacheOf<GpuNode>(client, RESOURCES.gpuNode);
    let frozen: GpuNode[] | undefined;
    const stale: CachePort<GpuNode> = {
      get: (n) => (frozen ?? live.list()).find((x) => x.metadata.name === n),
      list: () => (frozen ??= live.list()),
    };
    const r = new GpuPartitionReconciler({
      client,
      ...claimantCaches(client),
      gpuNodes: stale,
      recorder: new FakeRecorder(),
      place,
      expectations: new LedgerExpectations(),
    });
    await r.reconcile({ namespace: 'a', name: 'nb' }, quietLog);
    const second = await r.reconcile({ namespace: 'a', name: 'nb' }, quietLog);
    expect(second).toEqual({ requeueAfterMs: CACHE_WAIT_MS });
    expect(ledgerEntries(client.all<GpuNode>(RESOURCES.gpuNode))).toHaveLength(1);
  });

  test('a fresh reconciler (operator restart) adopts the claims already in the ledger without writing them again', async () => {
    const client = new FakeClient();
    const part = client.seed(RESOURCES.gpuPartition, makePartition('nb', 'a', { profile: '3g.90gb', count: 2 }));
    const gn = makeGpuNode('n1');
    const c = (slot: number) => partitionClaim(part, slot);
    gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: c(0) }, { profile: '3g.90gb', start: 4, claim: c(1) }] }] };
    client.seed(RESOURCES.gpuNode, gn);
    client.seed(RESOURCES.node, makeNode('n1'));
    const r = new GpuPartitionReconciler({
      client,
      ...claimantCaches(client),
      recorder: new FakeRecorder(),
      place,
    });
    await r.reconcile({ namespace: 'a', name: 'nb' }, quietLog);
    expect(client.writesOf('GpuNode')).toBe(0);
    const status = (client.store.get(client.key(RESOURCES.gpuPartition, 'nb', 'a')) as GpuPartition).status;
    expect(status?.allocations?.map((x) => `${x.gpuIndex}@${x.start}`)).toEqual(['0@0', '0@4']);
    expect(status?.phase).toBe('Allocating');
  });
});
