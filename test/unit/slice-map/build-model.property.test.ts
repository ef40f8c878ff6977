import fc from 'fast-check';
import { buildSliceMap } from '../../../src/slice-map/build-model.js';
import { coveredSlots } from '../../../src/slice-map/covered-slots.js';
import { sliceMapFleet } from '../../../bench/slice-map-fleet.js';
import { makeNode } from '../support/builders.js';

test('for any engine-carved fleet: every GPU appears once, every target slice once, totals add up', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 1_000_000 }), (nodes, seed) => {
      const fleet = sliceMapFleet({ nodes, nodesPerClique: 2, seed, now: 0 });
      const m = buildSliceMap({ gpuNodes: fleet, node: (n) => makeNode(n), partitions: [], jobs: [], pods: [], synced: true, now: new Date(0) });
      expect(m.totals.gpus).toBe(nodes * 8);
      const slices = m.nodes.flatMap((n) => n.gpus.flatMap((g) => g.slices));
      expect(Object.values(m.totals.slices).reduce((a, b) => a + b, 0)).toBe(slices.length);
      for (const gn of fleet) {
        const view = m.nodes.find((n) => n.name === gn.metadata.name)!;
        for (const t of gn.spec?.gpus ?? []) {
          const g = view.gpus.find((x) => x.index === t.index)!;
          expect(g.mode).toBe(t.mode);
          // Each target slice is drawn exactly once, with its holder; nothing else is drawn (no realised extras here).
          const want = t.mode === 'whole' ? [{ start: 0, holder: t.claim?.name }] : t.slices.map((s) => ({ start: s.start, holder: s.claim?.name }));
          expect(g.slices.map((s) => ({ start: s.start, holder: s.holder?.name }))).toEqual(want);
          expect(coveredSlots(g)).toBeLessThanOrEqual(g.slots);
        }
      }
    }),
    { numRuns: 40 },
  );
});
