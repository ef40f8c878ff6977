/**
 * The ledger draft's finer edits: where a holder key's claim comes from, replacing one claim by another (a
 * defragmentation move keeps its claim's identity), releasing on some nodes only, and the edit log a caller
 * uses to tell which nodes one step touched.
 */
import type { ClaimRef, GpuNode } from '../../../src/api/types.js';
import { claimKey } from '../../../src/ledger/claims.js';
import { LedgerDraft } from '../../../src/ledger/ledger-draft.js';
import { makeGpuNode } from '../support/builders.js';

const claim = (name: string, slot = 0, uid = `u-${name}`): ClaimRef => ({ kind: 'GpuPartition', namespace: 'a', name, uid, slot, priority: 0, preemptible: false });
const holder = (key: string) => ({ key, priority: 0, preemptible: false });

/** Node `name` with GPU 0 in MIG mode holding `slice` at start 0 and GPU 1 whole, held by `gpu`. */
function held(name: string, slice: ClaimRef, gpu: ClaimRef): GpuNode {
  const gn = makeGpuNode(name, { gpus: 2 });
  gn.spec = {
    gpus: [
      { index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: slice }, { profile: '1g.23gb', start: 1 }] },
      { index: 1, mode: 'whole', slices: [], claim: gpu },
    ],
  };
  return gn;
}

describe('LedgerDraft.applyLayouts claim resolution', () => {
  test('a holder key resolves to the new claims first, then to the claim already on that GPU, then to the fallback', () => {
    const gn = held('n1', claim('old'), claim('whole'));
    const draft = new LedgerDraft([gn]);
    const fresh = claim('old', 0, 'u-new');
    const moved = claim('moved');
    draft.applyLayouts(
      [
        {
          node: 'n1',
          gpuIndex: 0,
          mode: 'mig',
          slices: [
            { profile: '1g.23gb', start: 0, inUse: false, holder: holder(claimKey(claim('old'))) },
            { profile: '1g.23gb', start: 1, inUse: false, holder: holder(claimKey(moved)) },
          ],
        },
      ],
      () => undefined,
      (key) => (key === claimKey(moved) ? moved : undefined),
    );
    expect(draft.node('n1')?.spec?.gpus?.[0]?.slices.map((s) => s.claim)).toEqual([claim('old'), moved]);
    // New claims win over the one on the GPU.
    draft.applyLayouts([{ node: 'n1', gpuIndex: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, inUse: false, holder: holder(claimKey(fresh)) }] }], (key) =>
      key === claimKey(fresh) ? fresh : undefined,
    );
    expect(draft.node('n1')?.spec?.gpus?.[0]?.slices[0]?.claim?.uid).toBe('u-new');
    // The whole GPU's claim is found on that GPU too; a claim on another GPU is not.
    draft.applyLayouts([{ node: 'n1', gpuIndex: 1, mode: 'whole', slices: [], holder: holder(claimKey(claim('whole'))) }], () => undefined);
    expect(draft.node('n1')?.spec?.gpus?.[1]?.claim).toEqual(claim('whole'));
    expect(() =>
      draft.applyLayouts([{ node: 'n1', gpuIndex: 1, mode: 'whole', slices: [], holder: holder(claimKey(moved)) }], () => undefined),
    ).toThrow(`placement names holder ${claimKey(moved)} on n1/1, which has no claim`);
  });
});

describe('LedgerDraft.replaceClaim', () => {
  test('replaces a slice claim or a whole-GPU claim only when every part of the identity matches', () => {
    const gn = held('n1', claim('p', 2), claim('w'));
    const draft = new LedgerDraft([gn]);
    const to = claim('p', 2, 'u-successor');
    for (const wrong of [claim('p', 2, 'u-other'), claim('p', 1), claim('q', 2, 'u-p'), { ...claim('p', 2), namespace: 'b' }, { ...claim('p', 2), kind: 'TrainingJob' as const }]) {
      expect(draft.replaceClaim('n1', 0, 0, wrong, to)).toBe(false);
    }
    expect(draft.replaceClaim('n1', 0, 1, claim('p', 2), to)).toBe(false);
    expect(draft.replaceClaim('n1', 3, 0, claim('p', 2), to)).toBe(false);
    expect(draft.replaceClaim('n1', 0, undefined, claim('p', 2), to)).toBe(false);
    expect(draft.changed()).toEqual([]);
    expect(draft.nodes()[0]).toBe(gn);

    expect(draft.replaceClaim('n1', 0, 0, claim('p', 2), to)).toBe(true);
    expect(draft.replaceClaim('n1', 1, undefined, claim('w'), claim('w', 0, 'u-w2'))).toBe(true);
    const [written] = draft.changed();
    expect(written?.spec?.gpus?.[0]?.slices).toEqual([{ profile: '1g.23gb', start: 0, claim: to }, { profile: '1g.23gb', start: 1 }]);
    expect(written?.spec?.gpus?.[1]?.claim?.uid).toBe('u-w2');
    // The given node is untouched.
    expect(gn.spec?.gpus?.[0]?.slices[0]?.claim).toEqual(claim('p', 2));
    expect(draft.original('n1')).toBe(gn);
  });

  test('a node without a spec has no claim to replace', () => {
    const bare = makeGpuNode('n1');
    delete bare.spec;
    const draft = new LedgerDraft([bare]);
    expect(draft.replaceClaim('n1', 0, 0, claim('p'), claim('q'))).toBe(false);
    expect(draft.replaceClaim('n1', 0, undefined, claim('p'), claim('q'))).toBe(false);
    expect(draft.changed()).toEqual([]);
  });
});

describe('LedgerDraft.release on some nodes', () => {
  test('looks only at the nodes named (unknown names skipped) and tells the predicate where each claim is', () => {
    const draft = new LedgerDraft([held('n1', claim('p'), claim('w')), held('n2', claim('p'), claim('w'))]);
    const seen: string[] = [];
    const n = draft.release((c, node, gpuIndex, start) => {
      seen.push(`${c.name}@${node}/${gpuIndex}/${start}`);
      return c.name === 'p';
    }, ['ghost', 'n2']);
    expect(n).toBe(1);
    expect(seen).toEqual(['p@n2/0/0', 'w@n2/1/undefined']);
    expect(draft.changed().map((x) => x.metadata.name)).toEqual(['n2']);
    expect(draft.node('n1')?.spec?.gpus?.[0]?.slices[0]?.claim?.name).toBe('p');
    expect(draft.node('ghost')).toBeUndefined();
  });
});

describe('LedgerDraft.releaseVictims', () => {
  test('counts the claims it released', () => {
    const draft = new LedgerDraft([held('n1', claim('p'), claim('p'))]);
    expect(draft.releaseVictims([{ holderKey: claimKey(claim('p')), node: 'n1', gpuIndex: 0, priority: 0 }, { holderKey: claimKey(claim('p')), node: 'n1', gpuIndex: 1, priority: 0 }])).toBe(2);
    expect(draft.releaseVictims([{ holderKey: claimKey(claim('p')), node: 'n1', gpuIndex: 1, priority: 0 }])).toBe(0);
  });
});

describe('LedgerDraft edit log', () => {
  test('tells which nodes were edited after a mark, repeated edits once', () => {
    const draft = new LedgerDraft([held('n1', claim('p'), claim('w')), held('n2', claim('q'), claim('v')), makeGpuNode('n3')]);
    draft.release((c) => c.name === 'p');
    const mark = draft.editMark();
    expect(mark).toBe(1);
    expect(draft.editedSince(mark)).toEqual(new Set());
    draft.release((c) => c.name === 'q');
    draft.applyLayouts([{ node: 'n3', gpuIndex: 0, mode: 'whole', slices: [] }], () => undefined);
    draft.replaceClaim('n2', 1, undefined, claim('v'), claim('v', 1));
    expect(draft.editedSince(mark)).toEqual(new Set(['n2', 'n3']));
    expect(draft.editedSince(0)).toEqual(new Set(['n1', 'n2', 'n3']));
    expect(draft.editMark()).toBe(4);
  });
});
