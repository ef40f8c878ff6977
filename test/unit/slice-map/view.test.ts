import type { NodeView, SliceView } from '../../../src/slice-map/types.js';
import { NO_FILTER, PALETTE_HUES, age, assignHues, colourKey, colourKeys, filterChoices, nodeVisible, sliceDimmed, sliceTitle } from '../../../src/slice-map/page/view.js';

const slice = (start: number, size: number, state: SliceView['state'], ns?: string, name = 'p'): SliceView => ({
  profile: size === 8 ? '7g.180gb' : '1g.23gb',
  start,
  size,
  state,
  pods: [],
  ...(ns ? { holder: { kind: 'GpuPartition' as const, namespace: ns, name, slot: 0, priority: 0 } } : {}),
});
const node = (name: string, slices: SliceView[][], extra: Partial<NodeView> = {}): NodeView => ({
  name,
  product: 'NVIDIA-B200',
  schedulable: true,
  gpus: slices.map((s, index) => ({ index, mode: 'mig' as const, healthy: true, slots: 8, slices: s, reconfiguring: false })),
  ...extra,
});

const full = node('full', [[slice(0, 8, 'in-use', 'a')]], { clique: 'c1' });
const roomy = node('roomy', [[slice(0, 1, 'allocated', 'b')]], { clique: 'c2', product: 'NVIDIA-GB200' });
const freeSlice = node('free', [[slice(0, 8, 'free')]]);
const cordoned = node('cordoned', [[]], { schedulable: false });

test.each([
  [{ ...NO_FILTER }, ['full', 'roomy', 'free', 'cordoned']],
  [{ ...NO_FILTER, product: 'NVIDIA-GB200' }, ['roomy']],
  [{ ...NO_FILTER, clique: 'c1' }, ['full']],
  [{ ...NO_FILTER, namespace: 'b' }, ['roomy']],
  [{ ...NO_FILTER, show: 'free' as const }, ['roomy', 'free']],
  [{ ...NO_FILTER, show: 'used' as const }, ['full', 'roomy']],
])('filter %j keeps %j', (f, names) => {
  expect([full, roomy, freeSlice, cordoned].filter((n) => nodeVisible(n, f)).map((n) => n.name)).toEqual(names);
});

test('a namespace filter dims the other namespaces and unheld slices', () => {
  const f = { ...NO_FILTER, namespace: 'a' };
  expect(sliceDimmed(slice(0, 1, 'in-use', 'a'), f)).toBe(false);
  expect(sliceDimmed(slice(0, 1, 'in-use', 'b'), f)).toBe(true);
  expect(sliceDimmed(slice(0, 1, 'free'), f)).toBe(true);
  expect(sliceDimmed(slice(0, 1, 'free'), NO_FILTER)).toBe(false);
});

test('filter choices and colour keys', () => {
  expect(filterChoices([full, roomy, freeSlice])).toEqual({ namespaces: ['a', 'b'], cliques: ['c1', 'c2'], products: ['NVIDIA-B200', 'NVIDIA-GB200'] });
  expect(colourKey(slice(0, 1, 'in-use', 'a', 'nb'), 'partition')).toBe('a/nb');
  expect(colourKey(slice(0, 1, 'free'), 'namespace')).toBeUndefined();
  expect(colourKeys([full, roomy], 'namespace').sort()).toEqual(['a', 'b']);
});

test('hues: distinct palette entries while they last, stable per key, spread beyond', () => {
  const keys = ['research', 'inference', 'notebooks', 'vision', 'speech'];
  const hues = assignHues(keys);
  expect(new Set(hues.values()).size).toBe(5);
  for (const h of hues.values()) expect(PALETTE_HUES).toContain(h);
  expect(assignHues([...keys].reverse())).toEqual(hues);
  const many = assignHues([...Array(30).keys()].map((i) => `ns-${i}`));
  expect(many.size).toBe(30);
  for (const h of many.values()) expect(h).toBeGreaterThanOrEqual(0);
});

test.each([
  [5_000, '5s'],
  [120_000, '2m'],
  [3 * 3600_000, '3h'],
  [3 * 86400_000, '3d'],
])('age of %d ms is %s', (ms, text) => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  expect(age(new Date(now - ms).toISOString(), now)).toBe(text);
});

test('hover text names holder, state and pods', () => {
  expect(sliceTitle('n1', 2, { ...slice(4, 1, 'in-use', 'a', 'nb'), pods: ['a/x'] })).toBe('n1 GPU 2 · 1g.23gb @4 · in-use · GpuPartition a/nb #0 · pods a/x');
});
