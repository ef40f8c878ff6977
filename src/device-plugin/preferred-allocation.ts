/** Where a device sits, for allocation preferences. */
export interface DevicePlace {
  /** NVLink domain on the node (devices in one group talk over NVLink). */
  group: number;
  /** Position along the board: GPU index for whole GPUs, `gpuIndex * 8 + start` for MIG slices. */
  order: number;
}

/**
 * Picks `size` device IDs out of `available` for one container, as an answer to the kubelet's
 * `GetPreferredAllocation`. Every `mustInclude` ID is kept. The rest come preferably from one NVLink group
 * (the group of the must-include devices if any, else the smallest group that still fits the request, so big
 * groups stay whole) and, inside it, from the window of adjacent positions with the smallest span. When no
 * group can hold the request, the remainder spills over to other groups in board order.
 */
export function preferredAllocation(
  places: ReadonlyMap<string, DevicePlace>,
  available: readonly string[],
  mustInclude: readonly string[],
  size: number,
): string[] {
  const chosen = [...new Set(mustInclude)];
  if (chosen.length >= size) return chosen;
  const taken = new Set(chosen);
  const known = [...new Set(available)].filter((id) => !taken.has(id) && places.has(id));
  const unknown = [...new Set(available)].filter((id) => !taken.has(id) && !places.has(id));
  const byOrder = (a: string, b: string): number => places.get(a)!.order - places.get(b)!.order || a.localeCompare(b);
  let need = size - chosen.length;

  const groups = new Map<number, string[]>();
  for (const id of known) {
    const g = places.get(id)!.group;
    groups.set(g, [...(groups.get(g) ?? []), id]);
  }
  for (const ids of groups.values()) ids.sort(byOrder);

  const mustGroups = new Set(chosen.filter((id) => places.has(id)).map((id) => places.get(id)!.group));
  const orderedGroups = [...groups.keys()].sort((a, b) => {
    // Must-include groups first; then groups that fit the remainder, smallest first; then the largest.
    const ma = mustGroups.has(a) ? 0 : 1;
    const mb = mustGroups.has(b) ? 0 : 1;
    if (ma !== mb) return ma - mb;
    const la = groups.get(a)!.length;
    const lb = groups.get(b)!.length;
    const fa = la >= need ? 0 : 1;
    const fb = lb >= need ? 0 : 1;
    if (fa !== fb) return fa - fb;
    return fa === 0 ? la - lb || a - b : lb - la || a - b;
  });

  for (const g of orderedGroups) {
    if (need === 0) break;
    const ids = groups.get(g)!;
    const pick = ids.length <= need ? ids : tightestWindow(ids, need, places);
    chosen.push(...pick);
    need -= pick.length;
  }
  if (need > 0) chosen.push(...unknown.slice(0, need));
  return chosen;
}

/** The `k` consecutive IDs (already sorted by order) whose positions span the least; the leftmost on ties. */
function tightestWindow(sorted: string[], k: number, places: ReadonlyMap<string, DevicePlace>): string[] {
  let best = 0;
  let bestSpan = Number.POSITIVE_INFINITY;
  for (let i = 0; i + k <= sorted.length; i++) {
    const span = places.get(sorted[i + k - 1])!.order - places.get(sorted[i])!.order;
    if (span < bestSpan) {
      bestSpan = span;
      best = i;
    }
  }
  return sorted.slice(best, best + k);
}
