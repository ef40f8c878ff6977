import { formatGpuEq } from '../../../src/slice-map/gpu-eq-text.js';
import type { HolderView, NodeView, PendingView, SliceView, TenantView } from '../../../src/slice-map/types.js';
import {
  NO_FILTER,
  PALETTE_HUES,
  age,
  assignHues,
  colourKey,
  colourKeys,
  filterChoices,
  nodeVisible,
  quotaWait,
  sliceDimmed,
  sliceTitle,
  tenantLabel,
  tenantsByCohort,
} from '../../../src/slice-map/page/view.js';

const slice = (start: number, size: number, state: SliceView['state'], ns?: string, name = 'p', tenant: Partial<HolderView> = {}): SliceView => ({
  profile: size === 8 ? '7g.180gb' : '1g.23gb',
  start,
  size,
  state,
  pods: [],
  ...(ns ? { holder: { kind: 'GpuPartition' as const, namespace: ns, name, slot: 0, priority: 0, ...tenant } } : {}),
});
const node = (name: string, slices: SliceView[][], extra: Partial<NodeView> = {}): NodeView => ({
  name,
  product: 'NVIDIA-B200',
  schedulable: true,
  gpus: slices.map((s, index) => ({ index, mode: 'mig' as const, healthy: true, slots: 8, slices: s, reconfiguring: false })),
  ...extra,
});

const full = node('full', [[slice(0, 8, 'in-use', 'a', 'p', { tenant: 'acme' })]], { clique: 'c1' });
const roomy = node('roomy', [[slice(0, 1, 'allocated', 'b', 'p', { tenant: 'globex', borrowed: true })]], { clique: 'c2', product: 'NVIDIA-GB200' });
const freeSlice = node('free', [[slice(0, 8, 'free')]]);
const cordoned = node('cordoned', [[]], { schedulable: false });

test.each([
  [{ ...NO_FILTER }, ['full', 'roomy', 'free', 'cordoned']],
  [{ ...NO_FILTER, product: 'NVIDIA-GB200' }, ['roomy']],
  [{ ...NO_FILTER, clique: 'c1' }, ['full']],
  [{ ...NO_FILTER, namespace: 'b' }, ['roomy']],
  [{ ...NO_FILTER, tenant: 'acme' }, ['full']],
  [{ ...NO_FILTER, tenant: 'acme', namespace: 'b' }, []],
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

test("a tenant filter dims other tenants' slices, slices held for no tenant and unheld ones", () => {
  const f = { ...NO_FILTER, tenant: 'acme' };
  expect(sliceDimmed(slice(0, 1, 'in-use', 'a', 'p', { tenant: 'acme' }), f)).toBe(false);
  expect(sliceDimmed(slice(0, 1, 'in-use', 'a', 'p', { tenant: 'globex' }), f)).toBe(true);
  expect(sliceDimmed(slice(0, 1, 'in-use', 'a'), f)).toBe(true);
  expect(sliceDimmed(slice(0, 1, 'free'), f)).toBe(true);
});

test('filter choices and colour keys', () => {
  expect(filterChoices([full, roomy, freeSlice])).toEqual({ namespaces: ['a', 'b'], tenants: ['acme', 'globex'], cliques: ['c1', 'c2'], products: ['NVIDIA-B200', 'NVIDIA-GB200'] });
  // Tenants holding nothing yet can be chosen too.
  expect(filterChoices([freeSlice], [tenantView('initech')]).tenants).toEqual(['initech']);
  expect(colourKey(slice(0, 1, 'in-use', 'a', 'nb', { tenant: 'acme' }), 'tenant')).toBe('acme');
  expect(colourKey(slice(0, 1, 'in-use', 'a', 'nb'), 'tenant')).toBeUndefined();
  expect(colourKeys([full, roomy, freeSlice], 'tenant').sort()).toEqual(['acme', 'globex']);
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

test('hover text names holder, tenant, state and pods', () => {
  expect(sliceTitle('n1', 2, { ...slice(4, 1, 'in-use', 'a', 'nb'), pods: ['a/x'] })).toBe('n1 GPU 2 · 1g.23gb @4 · in-use · GpuPartition a/nb #0 · pods a/x');
  expect(sliceTitle('n1', 2, slice(4, 1, 'allocated', 'a', 'nb', { tenant: 'acme', borrowed: true }))).toBe('n1 GPU 2 · 1g.23gb @4 · allocated · GpuPartition a/nb #0 · tenant acme*');
});

test.each([
  [{ tenant: 'acme' }, 'acme'],
  [{ tenant: 'acme', borrowed: true as const }, 'acme*'],
  [{ tenant: 'acme', tenantByNamespace: true as const }, 'acme (by namespace)'],
  [{}, 'no tenant'],
])('tenant label of %j is %s', (tenant, label) => {
  expect(tenantLabel(slice(0, 1, 'in-use', 'a', 'p', tenant))).toBe(label);
});

function tenantView(name: string, cohort?: string): TenantView {
  return { name, ...(cohort ? { cohort } : {}), nominal: 1, weight: 1, reported: true, used: 0, borrowed: 0, lent: 0, waiting: 0, byProfile: [], profileLimits: [], namespaces: [], conflicts: [], held: 0, heldBorrowed: 0 };
}

test('tenants grouped by cohort, cohorts by name, tenants without one last', () => {
  const groups = tenantsByCohort([tenantView('zeta', 'lab'), tenantView('solo'), tenantView('alpha', 'lab'), tenantView('beta', 'ai')]);
  expect(groups.map((g) => [g.cohort, g.tenants.map((t) => t.name)])).toEqual([
    ['ai', ['beta']],
    ['lab', ['alpha', 'zeta']],
    [undefined, ['solo']],
  ]);
});

test('a quota wait is a QuotaReserved=False; GPU-equivalents print with at most 3 decimals', () => {
  const p: PendingView = { kind: 'GpuPartition', namespace: 'a', name: 'x', wants: '1 × 7g.180gb', reason: 'QuotaExceeded', message: '' };
  expect(quotaWait(p)).toBe(false);
  expect(quotaWait({ ...p, quota: { reserved: false, reason: 'QuotaExceeded', message: '' } })).toBe(true);
  expect(quotaWait({ ...p, quota: { reserved: true, reason: 'QuotaAvailable', message: '' } })).toBe(false);
  expect([16, 2.2857142, 0.5, 0].map(formatGpuEq)).toEqual(['16', '2.286', '0.5', '0']);
});
