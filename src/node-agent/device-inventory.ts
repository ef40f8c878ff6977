import { WHOLE_GPU_RESOURCE, migResourceName } from '../api/constants.js';
import type { PluginDevice } from '../device-plugin/plugin-server.js';
import type { SimGpu } from './simulated-gpu-types.js';

/** How GPUs are wired, for topology hints. */
export interface BoardTopology {
  gpuCount: number;
  /** GPUs per NVLink domain on the node; default all of them (an HGX board behind NVSwitch). */
  nvlinkGroupSize?: number;
}

/**
 * Devices per extended resource under NVIDIA's mixed strategy: whole-mode GPUs as `nvidia.com/gpu`
 * (device ID = GPU UUID) and every MIG instance as `nvidia.com/mig-<profile>` (device ID = MIG UUID). A failed
 * GPU's devices are listed as unhealthy. Resources with no device are absent.
 */
export function pluginDevices(gpus: readonly SimGpu[], topology: BoardTopology): Map<string, PluginDevice[]> {
  const groupSize = Math.max(1, topology.nvlinkGroupSize ?? topology.gpuCount);
  // Two NUMA nodes (two CPU sockets), GPUs split evenly between them as on HGX boards.
  const numaOf = (index: number): number => (index < Math.ceil(topology.gpuCount / 2) ? 0 : 1);
  const out = new Map<string, PluginDevice[]>();
  const add = (resource: string, d: PluginDevice): void => {
    out.set(resource, [...(out.get(resource) ?? []), d]);
  };
  for (const g of gpus) {
    const healthy = g.health === 'Healthy';
    const group = Math.floor(g.index / groupSize);
    if (g.mode === 'whole') {
      add(WHOLE_GPU_RESOURCE, { id: g.uuid, uuid: g.uuid, healthy, numaNode: numaOf(g.index), place: { group, order: g.index } });
      continue;
    }
    for (const s of g.slices) {
      add(migResourceName(s.profile), {
        id: s.uuid,
        uuid: s.uuid,
        healthy,
        numaNode: numaOf(g.index),
        place: { group, order: g.index * 8 + s.start },
      });
    }
  }
  return out;
}

/** Healthy device count per resource, the number the kubelet would publish as capacity/allocatable. */
export function healthyCounts(devices: ReadonlyMap<string, readonly PluginDevice[]>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [resource, list] of devices) counts[resource] = list.filter((d) => d.healthy).length;
  return counts;
}
