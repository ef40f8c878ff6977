import type { ClaimRef } from '../../../src/api/types.js';
import { SLOT_GLYPH, mapForNamespace, renderMap, slotBar } from '../../../src/kubectl-plugin/map-text.js';
import { renderTop, topRows } from '../../../src/kubectl-plugin/top.js';
import { buildSliceMap } from '../../../src/slice-map/build-model.js';
import { makeGpuNode, makeNode, realise } from '../support/builders.js';

const claim = (kind: ClaimRef['kind'], ns: string, name: string, slot: number): ClaimRef => ({ kind, namespace: ns, name, uid: name, slot, priority: 0, preemptible: false });

function model() {
  const a = makeGpuNode('a', { gpus: 2 });
  a.spec = {
    gpus: [
      { index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: claim('GpuPartition', 'team-a', 'inf', 0) }, { profile: '1g.23gb', start: 4, claim: claim('GpuPartition', 'team-b', 'nb', 0) }, { profile: '1g.23gb', start: 5 }] },
      { index: 1, mode: 'whole', slices: [], claim: claim('TrainingJob', 'team-a', 'llm', 0) },
    ],
  };
  realise(a);
  a.status!.gpus![0]!.slices[0]!.inUse = true;
  const b = makeGpuNode('b', { gpus: 1 });
  return buildSliceMap({ gpuNodes: [a, b], node: (n) => makeNode(n), partitions: [], jobs: [], pods: [], synced: true, now: new Date() });
}

test('one line per GPU with a bar of its memory slots', () => {
  const m = model();
  expect(slotBar(m.nodes[0]!.gpus[0]!)).toBe(`${SLOT_GLYPH['in-use'].repeat(4)}${SLOT_GLYPH.allocated}${SLOT_GLYPH.free}··`);
  const text = renderMap(m, false).split('\n');
  expect(text[0]).toMatch(/^NODE\s+GPU\s+MODE\s+SLOTS\s+SLICES$/);
  expect(text[1]).toContain('3g.90gb@0 in-use gpup/team-a/inf#0 | 1g.23gb@4 allocated gpup/team-b/nb#0 | 1g.23gb@5 free');
  expect(text[2]).toContain('whole allocated tj/team-a/llm#0');
  expect(text[3]).toMatch(/^b\s+0\s+mig\s+········\s+-$/);
  expect(text.at(-1)).toBe('2 node(s), 3 GPU(s); slices: 1 in use, 2 allocated, 0 realising, 1 free; 0 waiting');
  expect(renderMap(m, true).split('\n')[1]).toContain('MIG-a-0-0-3g.90gb');
});

test('-n keeps the GPUs holding that namespace', () => {
  const m = mapForNamespace(model(), 'team-b');
  expect(m.nodes.map((n) => [n.name, n.gpus.map((g) => g.index)])).toEqual([['a', [0]]]);
  expect(renderMap(mapForNamespace(model(), 'nobody'), false)).toBe('No GPUs found.');
});

test('top: slices per namespace and profile, with the share of memory', () => {
  const rows = topRows(model());
  expect(rows).toEqual([
    { namespace: 'team-a', profile: '3g.90gb', allocated: 1, inUse: 1, realising: 0, memorySlots: 4, holders: ['gpup/inf'] },
    { namespace: 'team-a', profile: 'whole', allocated: 1, inUse: 0, realising: 0, memorySlots: 8, holders: ['tj/llm'] },
    { namespace: 'team-b', profile: '1g.23gb', allocated: 1, inUse: 0, realising: 0, memorySlots: 1, holders: ['gpup/nb'] },
  ]);
  expect(topRows(model(), new Set(['team-b']))).toHaveLength(1);
  const text = renderTop(rows, 24, true).split('\n');
  expect(text[0]).toMatch(/^NAMESPACE\s+PROFILE\s+ALLOCATED\s+IN-USE\s+REALISING\s+GPU-SHARE\s+HOLDERS$/);
  expect(text[2]).toMatch(/^team-a\s+whole\s+1\s+0\s+0\s+33\.3%\s+tj\/llm$/);
  expect(renderTop([], 24, false)).toBe('No slices allocated.');
});
