/**
 * The seeded object mix of the operator scale benchmark: GpuPartitions (mostly 1g/2g/3g by profile, some by
 * memory or compute, some with count > 1) and a few whole-GPU TrainingJobs (8 GPUs per worker, sameClique),
 * in one interleaved apply order. Pure.
 */
import type { GpuPartitionSpec, TrainingJobSpec } from '../../src/api/types.js';
import { pick, rng } from '../seeded-random.js';

/** One object to apply. */
export type PlannedObject =
  | { kind: 'GpuPartition'; name: string; spec: GpuPartitionSpec }
  | { kind: 'TrainingJob'; name: string; spec: TrainingJobSpec };

/** Sizing of a partition: the spec fields it sets, and its weight (also used by the chaos churn). */
export const PARTITION_SIZES: Array<[Pick<GpuPartitionSpec, 'profile' | 'memory' | 'computeSlices'>, number]> = [
  [{ profile: '1g.23gb' }, 30],
  [{ profile: '2g.45gb' }, 20],
  [{ profile: '3g.90gb' }, 15],
  [{ profile: '1g.45gb' }, 5],
  [{ profile: '4g.90gb' }, 4],
  [{ memory: '20Gi' }, 8],
  [{ memory: '40Gi' }, 6],
  [{ memory: '80Gi' }, 4],
  [{ computeSlices: 2 }, 4],
  [{ memory: '30Gi', computeSlices: 2 }, 4],
];
/** Partition counts (slices per partition) and their weights. */
export const COUNTS: Array<[number, number]> = [
  [1, 80],
  [2, 12],
  [3, 5],
  [4, 3],
];

/** Options of {@link planWorkload}. */
export interface WorkloadShape {
  partitions: number;
  jobs: number;
  /** Upper bound of a job's replicas (a clique's node count, so sameClique can be met). */
  maxReplicas: number;
  seed: number;
}

/**
 * The objects in apply order. Jobs (replicas 2…maxReplicas, at least 1 when a clique has one node) are
 * spread over the first half of the order so that they compete with partitions rather than arriving on an
 * empty or a full cluster.
 */
export function planWorkload(shape: WorkloadShape): PlannedObject[] {
  const r = rng(shape.seed);
  const out: PlannedObject[] = [];
  const width = String(Math.max(shape.partitions, shape.jobs, 1) - 1).length;
  for (let i = 0; i < shape.partitions; i++) {
    const size = pick(r, PARTITION_SIZES);
    const count = pick(r, COUNTS);
    out.push({ kind: 'GpuPartition', name: `p-${String(i).padStart(width, '0')}`, spec: { ...size, ...(count > 1 ? { count } : {}) } });
  }
  const lo = Math.min(2, shape.maxReplicas);
  for (let j = 0; j < shape.jobs; j++) {
    const replicas = lo + Math.floor(r() * (shape.maxReplicas - lo + 1));
    const job: PlannedObject = {
      kind: 'TrainingJob',
      name: `tj-${j}`,
      spec: {
        replicas,
        gpusPerWorker: 8,
        topology: 'sameClique',
        restartPolicy: 'Never',
        template: { spec: { containers: [{ name: 'trainer', image: 'registry.invalid/haein/trainer:bench', command: ['sleep', 'infinity'] }] } },
      },
    };
    const at = Math.floor(r() * (Math.floor(out.length / 2) + 1));
    out.splice(at, 0, job);
  }
  return out;
}

/** Whole GPUs the jobs of `objects` take and compute slices (of 7 per GPU) the partitions ask for at least. */
export function demand(objects: PlannedObject[]): { jobGpus: number; partitionComputeSlices: number } {
  let jobGpus = 0;
  let partitionComputeSlices = 0;
  for (const o of objects) {
    if (o.kind === 'TrainingJob') jobGpus += o.spec.replicas * (o.spec.gpusPerWorker ?? 0);
    else {
      const fromProfile = o.spec.profile ? Number(o.spec.profile.split('g.')[0]) : 0;
      partitionComputeSlices += Math.max(fromProfile, o.spec.computeSlices ?? 1) * (o.spec.count ?? 1);
    }
  }
  return { jobGpus, partitionComputeSlices };
}
