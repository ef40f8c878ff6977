import type { Condition, GpuInventory, PodRef, RealisedGpu } from '../api/types.js';
import type { GpuModel } from '../placement/catalog.js';
import type { SimGpu } from './simulated-gpu-types.js';

/** Condition types the node agent owns. */
export const CONDITIONS = { layoutRealised: 'LayoutRealised', agentReady: 'AgentReady' } as const;

/** The inventory published in status and as node labels. */
export function gpuInventory(model: GpuModel, gpuCount: number, clique?: string): GpuInventory {
  return {
    product: model.product,
    gpuCount,
    memoryMiB: model.memoryMiB,
    migCapable: model.migCapable,
    ...(clique ? { clique } : {}),
  };
}

/** Status view of the GPUs with in-use flags and, where `podOf` knows it, the pod holding each held device. */
export function realisedGpus(gpus: readonly SimGpu[], held: ReadonlySet<string>, podOf: (deviceId: string) => PodRef | undefined = () => undefined): RealisedGpu[] {
  const holder = (id: string) => {
    const pod = held.has(id) ? podOf(id) : undefined;
    return pod ? { pod } : {};
  };
  return gpus.map((g) => ({
    index: g.index,
    uuid: g.uuid,
    mode: g.mode,
    health: g.health,
    slices: g.slices.map((s) => ({ profile: s.profile, start: s.start, uuid: s.uuid, deviceId: s.uuid, inUse: held.has(s.uuid), ...holder(s.uuid) })),
    ...(g.mode === 'whole' ? { deviceId: g.uuid, inUse: held.has(g.uuid), ...holder(g.uuid) } : {}),
  }));
}

/**
 * Sets a condition in a list, keeping `lastTransitionTime` unless the status flips (metav1 semantics).
 * Returns a new list.
 */
export function setCondition(conditions: readonly Condition[] | undefined, next: Omit<Condition, 'lastTransitionTime'>, now: Date): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const previous = i >= 0 ? list[i] : undefined;
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const condition: Condition = { ...next, lastTransitionTime };
  if (i >= 0) list[i] = condition;
  else list.push(condition);
  return list;
}
