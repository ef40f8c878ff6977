/** Memory-slot arithmetic shared by the map builder and the page. Pure. */
import type { GpuView } from './types.js';

/** Memory slots covered by any slice (a slice being realised may overlap one being removed). */
export function coveredSlots(g: Pick<GpuView, 'slices' | 'slots'>): number {
  const covered = new Set<number>();
  for (const s of g.slices) for (let i = s.start; i < Math.min(g.slots, s.start + s.size); i++) covered.add(i);
  return covered.size;
}
