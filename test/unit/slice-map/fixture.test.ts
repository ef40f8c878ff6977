import { buildSliceMap } from '../../../src/slice-map/build-model.js';
import { FLEET_TENANTS, fleetTenants, sliceMapFleet } from '../../../bench/slice-map-fleet.js';
import { makeNode } from '../support/builders.js';

test('the browser-test fleet is busy and legal: 128 nodes × 8 GPUs, every state but removing present', () => {
  const fleet = sliceMapFleet({ nodes: 128 });
  const m = buildSliceMap({ gpuNodes: fleet, node: (n) => makeNode(n), partitions: [], jobs: [], pods: [], synced: true, now: new Date() });
  expect(m.totals.gpus).toBe(1024);
  expect(m.totals.slices['in-use']).toBeGreaterThan(500);
  expect(m.totals.slices.allocated).toBeGreaterThan(100);
  expect(m.totals.slices.realising).toBeGreaterThan(0);
  expect(m.nodes.flatMap((n) => n.gpus).filter((g) => g.mode === 'whole').length).toBeGreaterThanOrEqual(16 * 21);
  for (const g of m.nodes.flatMap((n) => n.gpus)) {
    const covered = g.slices.reduce((s, x) => s + x.size, 0);
    expect(covered).toBeLessThanOrEqual(8);
  }
});

test('the fleet with tenants: every claim names its tenant, some are borrowed, the tenants add up; without tenants the fleet is unchanged', () => {
  const fleet = sliceMapFleet({ nodes: 16, tenants: FLEET_TENANTS, now: 0 });
  const tenants = fleetTenants(fleet, FLEET_TENANTS);
  const m = buildSliceMap({ gpuNodes: fleet, node: (n) => makeNode(n), partitions: [], jobs: [], pods: [], tenants, synced: true, now: new Date(0) });
  const held = m.nodes.flatMap((n) => n.gpus.flatMap((g) => g.slices.flatMap((s) => (s.holder ? [s.holder] : []))));
  for (const h of held) expect(h.tenant).toBe(FLEET_TENANTS[h.namespace]);
  expect(m.totals.borrowed).toBeGreaterThan(0);
  expect(m.totals.borrowed).toBeLessThan(held.length / 3);
  expect(m.tenants.map((t) => t.name)).toEqual(['lab', 'notebooks', 'serving']);
  expect(m.tenants.reduce((s, t) => s + t.held, 0)).toBe(held.length);
  const lent = m.tenants.find((t) => t.name === 'notebooks')!.lent;
  expect(Math.abs(m.tenants.reduce((s, t) => s + t.borrowed, 0) - lent)).toBeLessThan(0.01);
  for (const t of m.tenants) expect(t.used).toBeCloseTo(t.byProfile.reduce((s, p) => s + p.gpuEq, 0), 2);
  // Same carving as without tenants: only the claims' tenant fields differ.
  const plain = sliceMapFleet({ nodes: 16, now: 0 });
  const strip = (gns: typeof plain) => JSON.stringify(gns).replace(/,"tenant":"[a-z]+","allocatedAt":"[^"]+"(,"borrowed":true)?/g, '');
  expect(strip(fleet)).toBe(strip(plain));
});
