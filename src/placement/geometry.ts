/**
 * Slot-mask arithmetic for one GPU: occupancy is an 8-bit mask of memory slots, and every placement
 * question about a single GPU reduces to table look-ups over the 256 possible masks.
 */
import { MEMORY_SLOTS, slotMask, type GpuModel, type MigProfile } from './catalog.js';

/** Mask with every memory slot set. */
export const FULL_MASK = (1 << MEMORY_SLOTS) - 1;

/** Per-model tables over the 256 occupancy masks. */
export interface GeometryTables {
  /**
   * Placement potential of the free space left by an occupancy mask: a weighted count of every legal start
   * that is still free, bigger profiles weighing much more. A placement's "loss" is the drop in potential,
   * which is what makes small slices go to region edges instead of splitting space a `3g`/`4g` needs.
   */
  potential: Int32Array;
  /** Free memory slots of a mask. */
  free: Int8Array;
  /** Most compute slices that legal instances in the free slots of a mask can still use. */
  fill: Int8Array;
}

const TABLES = new WeakMap<GpuModel, GeometryTables>();

/** Tables for `model` (computed once per model). */
export function tablesFor(model: GpuModel): GeometryTables {
  let t = TABLES.get(model);
  if (!t) {
    t = buildTables(model.profiles);
    TABLES.set(model, t);
  }
  return t;
}

// 2^compute dominates so that keeping one 7g/4g/3g region outweighs any number of small starts.
function weight(p: MigProfile): number {
  return (1 << p.computeSlices) + p.memorySlots;
}

function buildTables(profiles: MigProfile[]): GeometryTables {
  const potential = new Int32Array(FULL_MASK + 1);
  const free = new Int8Array(FULL_MASK + 1);
  // +me profiles share their twin's placements; counting them again would only double-weight 1g.
  const distinct = profiles.filter((p) => !p.mediaExtensions);
  for (let m = 0; m <= FULL_MASK; m++) {
    let pot = 0;
    for (const p of distinct) {
      for (const s of p.starts) if ((slotMask(p, s) & m) === 0) pot += weight(p);
    }
    potential[m] = pot;
    free[m] = MEMORY_SLOTS - popcount(m);
  }
  // Masks only gain bits, so filling from the fullest mask down sees every successor computed.
  const fill = new Int8Array(FULL_MASK + 1);
  for (let m = FULL_MASK; m >= 0; m--) {
    let best = 0;
    for (const p of distinct) {
      for (const s of p.starts) {
        const sm = slotMask(p, s);
        if ((sm & m) === 0) best = Math.max(best, p.computeSlices + fill[m | sm]);
      }
    }
    fill[m] = best;
  }
  return { potential, free, fill };
}

/** Number of set bits of a small mask. */
export function popcount(m: number): number {
  let c = 0;
  for (let x = m; x; x &= x - 1) c++;
  return c;
}

/** How many instances of `profile` still fit in the free slots of `occupied` (greedy over legal starts). */
export function fitCount(profile: MigProfile, occupied: number): number {
  let m = occupied;
  let n = 0;
  // Legal starts of one profile are disjoint or nested by alignment, so taking them in order is optimal.
  for (const s of profile.starts) {
    const sm = slotMask(profile, s);
    if ((sm & m) === 0) {
      m |= sm;
      n++;
    }
  }
  return Math.min(n, profile.maxPerGpu);
}

const BEST_STARTS = new WeakMap<MigProfile, number[][]>();

/**
 * For each occupancy mask, the legal starts of `profile` that lose the least potential and then leave the
 * fewest free slots: the only starts on a GPU that can win the scorer's comparison (the fields before
 * these are the same for every start of one GPU).
 */
export function bestStartsFor(model: GpuModel, profile: MigProfile): number[][] {
  let table = BEST_STARTS.get(profile);
  if (table) return table;
  const t = tablesFor(model);
  table = [];
  for (let m = 0; m <= FULL_MASK; m++) {
    let best: number[] = [];
    let bestLoss = Infinity;
    let bestFree = Infinity;
    for (const s of profile.starts) {
      const sm = slotMask(profile, s);
      if ((sm & m) !== 0) continue;
      const loss = t.potential[m] - t.potential[m | sm];
      const free = t.free[m | sm];
      if (loss < bestLoss || (loss === bestLoss && free < bestFree)) {
        best = [s];
        bestLoss = loss;
        bestFree = free;
      } else if (loss === bestLoss && free === bestFree) {
        best.push(s);
      }
    }
    table.push(best);
  }
  BEST_STARTS.set(profile, table);
  return table;
}
