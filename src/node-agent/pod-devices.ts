/**
 * In-use estimation for nodes without a kubelet (KWOK): no device manager hands devices to containers there,
 * so the agent plays that part and picks which devices the node's running pods hold. Pure.
 */
import type { PluginDevice } from '../device-plugin/plugin-server.js';

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

/**
 * Device IDs held when pods need `need[resource]` devices of each resource: devices already held stay held
 * (a running container keeps its device), the rest come from healthy free devices in board order.
 */
export function assignHeld(
  need: Readonly<Record<string, number>>,
  devices: ReadonlyMap<string, readonly PluginDevice[]>,
  previous: ReadonlySet<string>,
): Set<string> {
  const held = new Set<string>();
  for (const [resource, count] of Object.entries(need)) {
    const list = [...(devices.get(resource) ?? [])].sort((a, b) => a.place.order - b.place.order);
    const keep = list.filter((d) => previous.has(d.id)).slice(0, count);
    const fresh = list.filter((d) => !previous.has(d.id) && d.healthy).slice(0, count - keep.length);
    for (const d of [...keep, ...fresh]) held.add(d.id);
  }
  return held;
}
