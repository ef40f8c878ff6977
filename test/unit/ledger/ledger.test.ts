import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { GpuPartitionReconciler } from '../../../src/controllers/gpupartition/gpupartition-reconciler.js';
import { CACHE_WAIT_MS, LedgerDraft, LedgerExpectations, commitLedger } from '../../../src/ledger/ledger.js';
import type { CachePort } from '../../../src/runtime/ports.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { place } from '../../../src/placement/engine.js';
import { makeGpuNode, makeNode, makePartition } from '../support/builders.js';
import { FakeClient, FakeRecorder, cacheOf, quietLog } from '../support/fakes.js';
import { claimantCaches, partitionClaim } from '../support/reconciler-fixtures.js';

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

describe('LedgerExpectations waiters', () => {
  test('held-back passes are handed back once the cache shows the write, once, and only for their kind', () => {
    const exp = new LedgerExpectations();
    const written = makeGpuNode('n1');
    written.metadata.generation = 2;
    exp.noteWritten(written);
    const cached = makeGpuNode('n1');
    cached.metadata.generation = 1;
    expect(exp.satisfied(() => cached)).toBe(false);
    exp.wait('GpuPartition', { namespace: 'a', name: 'p1' });
    exp.wait('GpuPartition', { namespace: 'a', name: 'p1' });
    exp.wait('TrainingJob', { namespace: 'a', name: 'j1' });
    expect(exp.wake('GpuPartition', () => cached)).toEqual([]);
    cached.metadata.generation = 2;
    expect(exp.wake('GpuPartition', () => cached)).toEqual([{ namespace: 'a', name: 'p1' }]);
    expect(exp.wake('GpuPartition', () => cached)).toEqual([]);
    expect(exp.wake('TrainingJob', () => cached)).toEqual([{ namespace: 'a', name: 'j1' }]);
  });

  test('wakes at most `limit` held-back passes at a time, oldest first', () => {
    const exp = new LedgerExpectations();
    for (const name of ['p1', 'p2', 'p3']) exp.wait('GpuPartition', { namespace: 'a', name });
    expect(exp.wake('GpuPartition', () => undefined, 2).map((r) => r.name)).toEqual(['p1', 'p2']);
    exp.wait('GpuPartition', { namespace: 'a', name: 'p1' });
    expect(exp.wake('GpuPartition', () => undefined, 2).map((r) => r.name)).toEqual(['p3', 'p1']);
    expect(exp.wake('GpuPartition', () => undefined, 2)).toEqual([]);
  });
});

describe('LedgerExpectations in-flight writes', () => {
  test('nobody is current while a write is unanswered; its end, even a failed one, is announced', () => {
    const exp = new LedgerExpectations();
    const settled: string[] = [];
    exp.onWritesSettled(() => settled.push('settled'));
    exp.noteWriting('n1');
    exp.noteWriting('n2');
    expect(exp.satisfied(() => undefined)).toBe(false);
    exp.noteWriteEnded('n1');
    expect(settled).toEqual([]);
    expect(exp.satisfied(() => undefined)).toBe(false);
    exp.noteWriteEnded('n2');
    expect(settled).toEqual(['settled']);
    expect(exp.satisfied(() => undefined)).toBe(true);
  });

  test('commitLedger marks each write in flight until it is answered, and notes what it wrote', async () => {
    const client = new FakeClient();
    const planned = client.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
    const exp = new LedgerExpectations();
    const seen: boolean[] = [];
    const replace = client.replace.bind(client);
    client.replace = async <T>(ref: Parameters<FakeClient['replace']>[0], obj: T): Promise<T> => {
      seen.push(exp.satisfied(() => undefined));
      return replace(ref, obj);
    };
    const draft = new LedgerDraft([planned]);
    draft.release(() => true);
    draft.applyLayouts(
      [{ node: 'n1', gpuIndex: 0, mode: 'whole', slices: [], holder: { key: 'GpuPartition/a/x/0', priority: 0, preemptible: false } }],
      () => claim('x'),
    );
    const [out] = await commitLedger(client, draft, undefined, undefined, exp);
    expect(seen).toEqual([false]);
    const stale = structuredClone(planned);
    expect(exp.satisfied(() => stale)).toBe(false);
    expect(exp.satisfied(() => out)).toBe(true);
  });
});

describe('commitLedger', () => {
  const layoutFor = (draft: LedgerDraft) =>
    draft.applyLayouts(
      [{ node: 'n1', gpuIndex: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, inUse: false, holder: { key: 'GpuPartition/a/x/0', priority: 0, preemptible: false } }] }],
      () => claim('x'),
    );

  // A node whose GPU 0 is targeted as one free 1g.23gb slice, not yet realised.
  const carved = () => {
    const n = makeGpuNode('n1');
    n.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0 }] }] };
    return n;
  };

  test('writes over a newer version whose change placement cannot see (an idle slice realised)', async () => {
    const client = new FakeClient();
    const planned = client.seed(RESOURCES.gpuNode, carved());
    const draft = new LedgerDraft([planned]);
    layoutFor(draft);
    const latest = client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (n) => {
      n.status!.gpus![0]!.slices = [{ profile: '1g.23gb', start: 0, uuid: 'MIG-0', deviceId: 'MIG-0', inUse: false }];
    });
    const written = await commitLedger(client, draft, undefined, () => latest);
    expect(ledgerEntries(written).map((e) => e.claim.name)).toEqual(['x']);
    expect(ledgerEntries(client.all<GpuNode>(RESOURCES.gpuNode))).toHaveLength(1);
  });

  test('on a conflict, reads the node once and repeats the write when only a status placement ignores changed', async () => {
    const client = new FakeClient();
    const planned = client.seed(RESOURCES.gpuNode, carved());
    const draft = new LedgerDraft([planned]);
    layoutFor(draft);
    client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (n) => (n.status!.observedGeneration = 2));
    // The cache has not seen the agent's report: the first write conflicts, the re-read one succeeds.
    const written = await commitLedger(client, draft, undefined, () => planned);
    expect(ledgerEntries(written).map((e) => e.claim.name)).toEqual(['x']);
    expect(client.writesOf('GpuNode')).toBe(1);
  });

  test('still conflicts when the newer version changed what placement sees, or when nothing newer is cached', async () => {
    const client = new FakeClient();
    const planned = client.seed(RESOURCES.gpuNode, carved());
    const busy = new LedgerDraft([planned]);
    layoutFor(busy);
    const latest = client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (n) => {
      n.status!.gpus![0]!.slices = [{ profile: '1g.23gb', start: 0, uuid: 'MIG-0', deviceId: 'MIG-0', inUse: true }];
    });
    await expect(commitLedger(client, busy, undefined, () => latest)).rejects.toThrow(/writing target layout of GpuNode n1/);
    const unseen = new LedgerDraft([planned]);
    layoutFor(unseen);
    await expect(commitLedger(client, unseen, undefined, () => planned)).rejects.toThrow(/n1/);
    expect(ledgerEntries(client.all<GpuNode>(RESOURCES.gpuNode))).toHaveLength(0);
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

  test('while the cache lags, a partition that holds its slices still reports status, and one that must place waits', async () => {
    const client = new FakeClient();
    const held = client.seed(RESOURCES.gpuPartition, makePartition('held', 'a', { profile: '1g.23gb' }));
    client.seed(RESOURCES.gpuPartition, makePartition('new', 'a', { profile: '1g.23gb' }));
    const gn = makeGpuNode('n1');
    gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: partitionClaim(held) }] }] };
    client.seed(RESOURCES.gpuNode, gn);
    client.seed(RESOURCES.node, makeNode('n1'));
    const expectations = new LedgerExpectations();
    // A write of this process the cache has not shown yet.
    const ahead = makeGpuNode('n1');
    ahead.metadata.generation = 7;
    expectations.noteWritten(ahead);
    const r = new GpuPartitionReconciler({ client, ...claimantCaches(client), recorder: new FakeRecorder(), place, expectations });
    expect(await r.reconcile({ namespace: 'a', name: 'held' }, quietLog)).toBeUndefined();
    expect((client.store.get(client.key(RESOURCES.gpuPartition, 'held', 'a')) as GpuPartition).status?.phase).toBe('Allocating');
    expect(await r.reconcile({ namespace: 'a', name: 'new' }, quietLog)).toEqual({ requeueAfterMs: CACHE_WAIT_MS });
    expect(client.writesOf('GpuNode')).toBe(0);
    client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (n) => (n.metadata.generation = 7));
    expect(expectations.wake('GpuPartition', (n) => client.all<GpuNode>(RESOURCES.gpuNode).find((x) => x.metadata.name === n))).toEqual([{ namespace: 'a', name: 'new' }]);
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
