/** API group of every Haein resource. */
export const GROUP = 'gpu.haein.dev';
/** Served and stored version. */
export const VERSION = 'v1alpha1';
/** `apiVersion` string of Haein objects. */
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Plural resource names, as used in REST paths. */
export const PLURALS = {
  gpuPartition: 'gpupartitions',
  trainingJob: 'trainingjobs',
  gpuNode: 'gpunodes',
  gpuTenant: 'gputenants',
  gpuUsage: 'gpuusages',
} as const;

/** Label naming the tenant of a GpuUsage record (for selecting one tenant's records). */
export const TENANT_LABEL = `${GROUP}/tenant`;
/** Pod label naming the GpuPartition (same namespace) whose slice the pod consumes. */
export const PARTITION_LABEL = `${GROUP}/partition`;
/** Label the operator puts on TrainingJob worker pods and Services. */
export const JOB_LABEL = `${GROUP}/training-job`;
/** Label carrying a worker's rank. */
export const RANK_LABEL = `${GROUP}/rank`;
/** Scheduling gate the operator lifts once a pod may consume its partition's slice. */
export const PARTITION_GATE = `${GROUP}/partition`;
/** Finalizer that keeps a GpuPartition until no pod uses it and its slices are released. */
export const PARTITION_FINALIZER = `${GROUP}/release-slices`;
/** Finalizer that keeps a TrainingJob until every slice and GPU it held is released. */
export const JOB_FINALIZER = `${GROUP}/release-gpus`;

/** Node labels in the style of NVIDIA GPU feature discovery. */
export const NODE_LABELS = {
  product: 'nvidia.com/gpu.product',
  count: 'nvidia.com/gpu.count',
  memory: 'nvidia.com/gpu.memory',
  migCapable: 'nvidia.com/mig.capable',
  migStrategy: 'nvidia.com/mig.strategy',
  clique: 'nvidia.com/gpu.clique',
} as const;

/** Extended resource for whole GPUs. */
export const WHOLE_GPU_RESOURCE = 'nvidia.com/gpu';

/**
 * Extended resource name of a MIG profile under NVIDIA's "mixed" strategy. `+` is not allowed in a resource
 * name, and NVIDIA's plugin advertises media-extension instances under the base profile's name
 * (NVIDIA/k8s-device-plugin#1462), so `1g.23gb+me` becomes `nvidia.com/mig-1g.23gb`.
 */
export function migResourceName(profile: string): string {
  return `nvidia.com/mig-${profile.replace(/\+me$/, '')}`;
}
