/**
 * The ledger draft at its edges: layouts written with the right claims, victims released only where the engine
 * named them, nodes without a spec. (The write itself, its conflicts and errors: ledger.test.ts.)
 */
import type { ClaimRef } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { LedgerDraft } from '../../../src/ledger/ledger-draft.js';
import { makeGpuNode } from '../support/builders.js';

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
