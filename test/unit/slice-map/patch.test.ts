import fc from 'fast-check';
import { applyPatch, diffModel, indexModel } from '../../../src/slice-map/patch.js';
import type { NodeView, SliceMapModel, SliceView, TenantView } from '../../../src/slice-map/types.js';

const nodeArb = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
  product: fc.constantFrom('NVIDIA-B200', 'NVIDIA-GB200'),
  schedulable: fc.boolean(),
  gpus: fc.array(fc.record({ index: fc.nat(7), mode: fc.constant('mig' as const), healthy: fc.boolean(), slots: fc.constant(8), slices: fc.constant<SliceView[]>([]), reconfiguring: fc.boolean() }), { maxLength: 2 }),
});
const modelArb = fc.record({
  nodes: fc.uniqueArray(nodeArb, { selector: (n) => n.name }).map((ns) => [...ns].sort((x, y) => x.name.localeCompare(y.name)) as NodeView[]),
  pendingCount: fc.nat(3),
  tenantUsed: fc.option(fc.nat(3), { nil: undefined }),
});
const tenant = (used: number): TenantView => ({
  name: 't', nominal: 2, weight: 1, reported: true, used, borrowed: Math.max(0, used - 2), lent: 0, waiting: 0, byProfile: [], profileLimits: [], namespaces: ['n'], conflicts: [], held: used, heldBorrowed: 0,
});
const model = (m: { nodes: NodeView[]; pendingCount: number; tenantUsed: number | undefined }): SliceMapModel => ({
  generatedAt: '2026-01-01T00:00:00Z',
  synced: true,
  nodes: m.nodes,
  pending: [...Array(m.pendingCount).keys()].map((i) => ({ kind: 'Pod' as const, namespace: 'n', name: `p${i}`, wants: 'x', reason: 'Gated', message: '' })),
  tenants: m.tenantUsed === undefined ? [] : [tenant(m.tenantUsed)],
  reconfigurations: [],
  fragmentation: [],
  totals: { nodes: m.nodes.length, gpus: 0, slices: { 'in-use': 0, allocated: 0, realising: 0, free: 0, removing: 0 }, uncarvedSlots: 0, borrowed: 0 },
});

test('applying the diff of two models to the first gives the second; equal models give no patch', () => {
  fc.assert(
    fc.property(modelArb, modelArb, (x, y) => {
      const a = model(x);
      const b = model(y);
      const patch = diffModel(indexModel(a), indexModel(b));
      if (patch === undefined) expect(JSON.stringify(a)).toBe(JSON.stringify(b));
      else expect(applyPatch(a, patch)).toEqual(b);
      expect(diffModel(indexModel(b), indexModel(structuredClone(b)))).toBeUndefined();
    }),
  );
});

test('a patch carries only the nodes that changed, and unchanged nodes keep their identity when applied', () => {
  const a = model({ nodes: [{ name: 'a', product: 'P', schedulable: true, gpus: [] }, { name: 'b', product: 'P', schedulable: true, gpus: [] }], pendingCount: 0, tenantUsed: undefined });
  const b = structuredClone(a);
  b.nodes[1]!.schedulable = false;
  b.generatedAt = 'later';
  const patch = diffModel(indexModel(a), indexModel(b))!;
  expect(patch.nodes.map((n) => n.name)).toEqual(['b']);
  expect(patch.removed).toEqual([]);
  const next = applyPatch(a, patch);
  expect(next.nodes[0]).toBe(a.nodes[0]);
  expect(next.generatedAt).toBe('later');
});

test("a tenant's figures changing alone is a patch with no node and the tenants in full", () => {
  const a = model({ nodes: [{ name: 'a', product: 'P', schedulable: true, gpus: [] }], pendingCount: 0, tenantUsed: 1 });
  const b = model({ nodes: a.nodes, pendingCount: 0, tenantUsed: 3 });
  const patch = diffModel(indexModel(a), indexModel(b))!;
  expect(patch.nodes).toEqual([]);
  expect(patch.tenants).toEqual([expect.objectContaining({ name: 't', used: 3, borrowed: 1 })]);
});
