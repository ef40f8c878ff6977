/**
 * In-use estimation for nodes without a kubelet (KWOK): no device manager hands devices to containers there,
 * so the agent plays that part and picks which devices the node's running pods hold. Pure.
 */
/** The part of a Pod this module reads. */
export interface PodLike {
  spec?: { containers?: Array<{ resources?: { limits?: Record<string, string | number> } }> };
}

/** Extended `nvidia.com/*` resources a pod's containers ask for (limits; they equal requests for these). */
export function podDeviceRequests(pod: PodLike): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of pod.spec?.containers ?? []) {
    for (const [name, value] of Object.entries(c.resources?.limits ?? {})) {
      if (!name.startsWith('nvidia.com/')) continue;
      const n = Number(value);
      if (Number.isInteger(n) && n > 0) out[name] = (out[name] ?? 0) + n;
    }
  }
  return out;
}
