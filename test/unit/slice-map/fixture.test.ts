import { buildSliceMap } from '../../../src/slice-map/build-model.js';
import { sliceMapFleet } from '../../../bench/slice-map-fleet.js';
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
