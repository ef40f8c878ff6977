/**
 * The allocation ledger's edits and writes at their edges: layouts written with the right claims, victims
 * released only where the engine named them, nodes without a spec, write bookkeeping per node and per
 * namespace, and the errors a failed write reports.
 */
import type { ClaimRef, GpuNode } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/controllers/claims.js';
import { LedgerDraft, LedgerExpectations, commitLedger, overlay } from '../../../src/controllers/ledger.js';
import { ApiError } from '../../../src/k8s/errors.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { makeGpuNode } from './builders.js';
import { FakeClient } from './fakes.js';

const claim = (name: string, slot = 0): ClaimRef => ({ kind: 'TrainingJob', namespace: 'a', name, uid: `u-${name}`, slot, priority: 0, preemptible: true });
const holder = (key: string) => ({ key, priority: 0, preemptible: true });

describe('LedgerDraft edges', () => {
  test('a node without a name is left out of the draft', () => {
    const unnamed = makeGpuNode('x');
    delete unnamed.metadata.name;
    const draft = new LedgerDraft([unnamed, makeGpuNode('n1')]);
    expect(draft.nodes().map((n) => n.metadata.name)).toEqual(['n1']);
    expect(() => draft.applyLayouts([{ node: 'x', gpuIndex: 0, mode: 'whole', slices: [] }], () => undefined)).toThrow(
      'placement names GpuNode x, which is not in the snapshot',
    );
  });

  test('writes a whole-GPU holder as the GPU claim and MIG holders as slice claims, nothing else', () => {
    const draft = new LedgerDraft([makeGpuNode('n1', { gpus: 4 })]);
    const claims = new Map([
      ['TrainingJob/a/w/0', claim('w')],
      ['TrainingJob/a/s/0', claim('s')],
    ]);
    draft.applyLayouts(
      [
        { node: 'n1', gpuIndex: 3, mode: 'whole', slices: [], holder: holder('TrainingJob/a/w/0') },
        { node: 'n1', gpuIndex: 1, mode: 'mig', slices: [{ profile: '1g.23gb', start: 2, inUse: false, holder: holder('TrainingJob/a/s/0') }, { profile: '1g.23gb', start: 3, inUse: false }] },
        { node: 'n1', gpuIndex: 2, mode: 'whole', slices: [] },
        // A holder on a MIG layout is not a GPU claim (the engine never sends one; the ledger must not invent it).
        { node: 'n1', gpuIndex: 0, mode: 'mig', slices: [], holder: holder('TrainingJob/a/w/0') },
      ],
      (key) => claims.get(key),
    );
    const [written] = draft.changed();
    expect(written.spec?.gpus).toEqual([
      { index: 0, mode: 'mig', slices: [] },
      { index: 1, mode: 'mig', slices: [{ profile: '1g.23gb', start: 2, claim: claim('s') }, { profile: '1g.23gb', start: 3 }] },
      { index: 2, mode: 'whole', slices: [] },
      { index: 3, mode: 'whole', slices: [], claim: claim('w') },
    ]);
  });

  test('a whole-mode layout carries no slices into the ledger', () => {
    const draft = new LedgerDraft([makeGpuNode('n1')]);
    draft.applyLayouts([{ node: 'n1', gpuIndex: 0, mode: 'whole', slices: [{ profile: '1g.23gb', start: 0, inUse: false }] }], () => undefined);
    expect(draft.changed()[0].spec?.gpus).toEqual([{ index: 0, mode: 'whole', slices: [] }]);
  });

  test('keeps the GPUs of a spec in index order whatever order the layouts come in', () => {
    const gn = makeGpuNode('n1');
    gn.spec = { gpus: [{ index: 4, mode: 'whole', slices: [] }] };
    const draft = new LedgerDraft([gn]);
    draft.applyLayouts([6, 1, 5, 0].map((gpuIndex) => ({ node: 'n1', gpuIndex, mode: 'whole' as const, slices: [] })), () => undefined);
    expect(draft.changed()[0].spec?.gpus?.map((g) => g.index)).toEqual([0, 1, 4, 5, 6]);
  });

  test('releases a victim only on the node and GPU the engine named, even when its key holds more', () => {
    // One worker holding two whole GPUs on each of two nodes (a key may hold several GPUs).
    const nodes = ['n1', 'n2'].map((name) => {
      const gn = makeGpuNode(name, { gpus: 2 });
      gn.spec = { gpus: [0, 1].map((index) => ({ index, mode: 'whole' as const, slices: [], claim: claim('w') })) };
      return gn;
    });
    const draft = new LedgerDraft(nodes);
    draft.releaseVictims([{ holderKey: 'TrainingJob/a/w/0', node: 'n2', gpuIndex: 1, priority: 0 }]);
    expect(ledgerEntries(draft.nodes()).map((e) => `${e.node}/${e.gpuIndex}`)).toEqual(['n1/0', 'n1/1', 'n2/0']);
    draft.releaseVictims([{ holderKey: 'TrainingJob/a/other/0', node: 'n1', gpuIndex: 0, priority: 0 }]);
    expect(ledgerEntries(draft.nodes())).toHaveLength(3);
  });

  test('a node without a spec has nothing to release and can still be given a layout', () => {
    const bare = makeGpuNode('n1');
    delete bare.spec;
    const draft = new LedgerDraft([bare]);
    expect(draft.release(() => true)).toBe(0);
    expect(draft.changed()).toEqual([]);
    draft.applyLayouts([{ node: 'n1', gpuIndex: 2, mode: 'whole', slices: [], holder: holder('k') }], () => claim('w'));
    expect(draft.changed()[0].spec?.gpus).toEqual([{ index: 2, mode: 'whole', slices: [], claim: claim('w') }]);
  });
});

describe('LedgerExpectations bookkeeping', () => {
  test('two writes in flight to one node settle only when both are answered', () => {
    const exp = new LedgerExpectations();
    let settled = 0;
    exp.onWritesSettled(() => settled++);
    exp.noteWriting('n1');
    exp.noteWriting('n1');
    exp.noteWriteEnded('n1');
    expect(settled).toBe(0);
    expect(exp.satisfied(() => undefined)).toBe(false);
    exp.noteWriteEnded('n1');
    expect(settled).toBe(1);
    expect(exp.satisfied(() => undefined)).toBe(true);
  });

  test('a written node without a name or a generation is not waited for', () => {
    const exp = new LedgerExpectations();
    const noGen = makeGpuNode('n1');
    delete noGen.metadata.generation;
    const noName = makeGpuNode('n2');
    noName.metadata.generation = 9;
    delete noName.metadata.name;
    exp.noteWritten(noGen);
    exp.noteWritten(noName);
    const old = makeGpuNode('n1');
    old.metadata.generation = 1;
    expect(exp.satisfied(() => old)).toBe(true);
  });

  test('remembers held-back passes per namespace, and knows which are waiting', () => {
    const exp = new LedgerExpectations();
    exp.wait('GpuPartition', { namespace: 'team-a', name: 'nb' });
    exp.wait('GpuPartition', { namespace: 'team-b', name: 'nb' });
    exp.wait('GpuPartition', { name: 'cluster-wide' });
    expect(exp.isWaiting('GpuPartition', { namespace: 'team-a', name: 'nb' })).toBe(true);
    expect(exp.isWaiting('GpuPartition', { namespace: 'team-c', name: 'nb' })).toBe(false);
    expect(exp.isWaiting('GpuPartition', { name: 'cluster-wide' })).toBe(true);
    expect(exp.isWaiting('TrainingJob', { namespace: 'team-a', name: 'nb' })).toBe(false);
    expect(exp.wake('GpuPartition', () => undefined)).toEqual([
      { namespace: 'team-a', name: 'nb' },
      { namespace: 'team-b', name: 'nb' },
      { name: 'cluster-wide' },
    ]);
    expect(exp.isWaiting('GpuPartition', { namespace: 'team-a', name: 'nb' })).toBe(false);
  });

  test('waking a kind nobody waited for returns nothing', () => {
    const exp = new LedgerExpectations();
    expect(exp.wake('TrainingJob', () => undefined)).toEqual([]);
  });
});

describe('commitLedger failures', () => {
  const draftFor = (planned: GpuNode): LedgerDraft => {
    const draft = new LedgerDraft([planned]);
    draft.applyLayouts([{ node: 'n1', gpuIndex: 0, mode: 'whole', slices: [], holder: holder('TrainingJob/a/w/0') }], () => claim('w'));
    return draft;
  };

  test('a write that fails for another reason than a conflict is reported with its cause and not retried', async () => {
    const client = new FakeClient();
    const planned = client.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
    const failure = new ApiError('etcd timeout', 500, { reason: 'InternalError' });
    let replaces = 0;
    let gets = 0;
    client.replace = async () => {
      replaces++;
      throw failure;
    };
    const get = client.get.bind(client);
    client.get = async (...args: Parameters<FakeClient['get']>) => {
      gets++;
      return get(...args);
    };
    const err = await commitLedger(client, draftFor(planned), undefined, () => planned).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('writing target layout of GpuNode n1');
    expect((err as Error).cause).toBe(failure);
    expect([replaces, gets]).toEqual([1, 0]);
  });

  test('a conflict with no newer cached version, or with a newer spec, is reported as the conflict after one re-read', async () => {
    const client = new FakeClient();
    const planned = client.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
    client.conflictOnce.add('GpuNode/n1');
    const first = await commitLedger(client, draftFor(planned)).catch((e: unknown) => e as Error);
    expect(((first as Error).cause as ApiError).code).toBe(409);
    // Someone changed the spec meanwhile: the write must not go over it.
    client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (n) => (n.spec = { gpus: [{ index: 1, mode: 'whole', slices: [] }] }), true);
    let replaces = 0;
    const replace = client.replace.bind(client);
    client.replace = async <T>(ref: Parameters<FakeClient['replace']>[0], obj: T): Promise<T> => {
      replaces++;
      return replace(ref, obj);
    };
    const second = await commitLedger(client, draftFor(planned), undefined, () => planned).catch((e: unknown) => e as Error);
    expect(((second as Error).cause as ApiError).code).toBe(409);
    expect(replaces).toBe(1);
    expect(ledgerEntries(client.all<GpuNode>(RESOURCES.gpuNode))).toEqual([]);
  });

  test.each<[string, (n: GpuNode) => void]>([
    ['re-created (new uid)', (n) => (n.metadata.uid = 'another-object')],
    ['a newer generation', (n) => (n.metadata.generation = (n.metadata.generation ?? 1) + 1)],
    ['a changed spec', (n) => (n.spec = { gpus: [{ index: 3, mode: 'whole', slices: [] }] })],
    ['a GPU turned unhealthy', (n) => (n.status!.gpus![0].health = 'Unhealthy')],
  ])('a newer cached version that was %s is not written over', async (_what, change) => {
    const client = new FakeClient();
    const planned = client.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
    const latest = client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, change);
    const err = await commitLedger(client, draftFor(planned), undefined, () => latest).catch((e: unknown) => e as Error);
    expect(((err as Error).cause as ApiError).code).toBe(409);
    expect(ledgerEntries(client.all<GpuNode>(RESOURCES.gpuNode))).toEqual([]);
  });
});

test('overlay puts this pass\'s written nodes in place of the cached ones, by name', () => {
  const cached = ['a', 'b', 'c'].map((n) => makeGpuNode(n));
  const written = makeGpuNode('b');
  written.metadata.generation = 5;
  const out = overlay(cached, [written]);
  expect(out.map((n) => n.metadata.name)).toEqual(['a', 'b', 'c']);
  expect(out[1]).toBe(written);
  expect(out[0]).toBe(cached[0]);
  expect(overlay(cached, [])).toEqual(cached);
});
