/** Where a device sits, for allocation preferences. */
export interface DevicePlace {
  /** NVLink domain on the node (devices in one group talk over NVLink). */
  group: number;
  /** Position along the board: GPU index for whole GPUs, `gpuIndex * 8 + start` for MIG slices. */
  order: number;
}

/**
 * How willingly a device is handed out, lowest first: 0 reserved in the ledger for a claimant, 1 spare, 2 about to
 * be destroyed by the target layout. A pod given a spare slice may lose it to a re-carve the operator plans at any
 * moment, and one given a doomed slice makes the target unreachable while it runs.
 */
export type DevicePreference = (deviceId: string) => number;

/**
 * Why a `GetPreferredAllocation` container request has no correct answer, or undefined when it has one: the
 * size must be a whole number no larger than the distinct available devices, and the must-include devices
 * (which the kubelet also lists as available) must be available and no more than the size.
 */
export function preferredAllocationProblem(available: readonly string[], mustInclude: readonly string[], size: number): string | undefined {
  if (!Number.isInteger(size) || size < 0) return `allocation size ${size} is not a whole number ≥ 0`;
  const offered = new Set(available);
  const must = new Set(mustInclude);
  const missing = [...must].filter((id) => !offered.has(id));
  if (missing.length > 0) return `must-include device(s) ${missing.join(', ')} not in the available list`;
  if (must.size > size) return `${must.size} must-include devices exceed the allocation size ${size}`;
  if (size > offered.size) return `allocation size ${size} but ${offered.size} available device(s)`;
  return undefined;
}

/**
 * Picks `size` distinct device IDs out of `available` for one container, as an answer to the kubelet's
 * `GetPreferredAllocation`; throws when {@link preferredAllocationProblem} finds the request has no correct
 * answer. Every `mustInclude` ID is kept. The rest come preferably from one NVLink group
 * (the group of the must-include devices if any, else the smallest group that still fits the request, so big
 * groups stay whole) and, inside it, from the window of adjacent positions with the smallest span. When no
 * group can hold the request, the remainder spills over to other groups in board order. With `preference`, the
 * devices it ranks lowest are taken first (reserved before spare before doomed), each rank chosen as above.
 */
export function preferredAllocation(
  places: ReadonlyMap<string, DevicePlace>,
  available: readonly string[],
  mustInclude: readonly string[],
  size: number,
  preference?: DevicePreference,
): string[] {
  const problem = preferredAllocationProblem(available, mustInclude, size);
  if (problem) throw new RangeError(problem);
  const chosen = [...new Set(mustInclude)];
  if (chosen.length === size || !preference) return pick(places, available, chosen, size);
  const rankOf = new Map([...new Set(available)].filter((id) => !chosen.includes(id)).map((id) => [id, preference(id)]));
  for (const rank of [...new Set(rankOf.values())].sort((a, b) => a - b)) {
    if (chosen.length === size) break;
    const tier = [...rankOf.keys()].filter((id) => rankOf.get(id) === rank);
    const want = Math.min(size, chosen.length + tier.length);
    chosen.splice(0, chosen.length, ...pick(places, [...chosen, ...tier], chosen, want));
  }
  return chosen;
}

/** `size` IDs out of `available`, keeping `chosen` (already valid): the NVLink-group and window rules above. */
function pick(places: ReadonlyMap<string, DevicePlace>, available: readonly string[], mustInclude: readonly string[], size: number): string[] {
  const chosen = [...new Set(mustInclude)];
  if (chosen.length === size) return chosen;
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
