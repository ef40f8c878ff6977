import type { ClusterSnapshot, GpuSnapshot, Holder, NodeSnapshot, SliceSnapshot } from '../../../src/placement/types.js';

/** An idle GPU in the given mode. */
export function gpu(index: number, mode: 'mig' | 'whole' = 'mig', slices: SliceSnapshot[] = []): GpuSnapshot {
  return { index, mode, healthy: true, slices };
}

/** A node of `count` idle GPUs. */
export function node(name: string, count = 8, extra: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    name,
    product: 'NVIDIA-B200',
    labels: {},
    schedulable: true,
    gpus: Array.from({ length: count }, (_, i) => gpu(i)),
    ...extra,
  };
}

/** A held slice. */
export function held(profile: string, start: number, key: string, opts: Partial<Holder> & { inUse?: boolean } = {}): SliceSnapshot {
  return { profile, start, holder: { key, priority: opts.priority ?? 0, preemptible: opts.preemptible ?? true }, inUse: opts.inUse ?? false };
}

/** A carved, unclaimed, idle slice. */
export function free(profile: string, start: number): SliceSnapshot {
  return { profile, start, inUse: false };
}

/** A cluster of the given nodes. */
export function cluster(...nodes: NodeSnapshot[]): ClusterSnapshot {
  return { nodes };
}
