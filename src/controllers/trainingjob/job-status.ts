/** Status pieces of a TrainingJob: condition types, per-worker status, phase predicates. Pure. */
import type { TrainingJobPhase, WorkerStatus } from '../../api/types.js';
import type { RankAllocation } from './job-placement.js';
import type { PodObject } from '../../api/pods.js';

/** Phases after which a job holds no GPU and creates no pod. */
export function isTerminal(phase: TrainingJobPhase | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

/** One status entry per rank: where it runs, on which devices, in which pod and pod phase. */
export function workerStatuses(allocs: RankAllocation[], podsByRank: Map<number, PodObject>): WorkerStatus[] {
  return allocs.map((a) => {
    const pod = podsByRank.get(a.rank);
    return {
      rank: a.rank,
      node: a.node,
      gpuIndices: a.gpuIndices,
      ...(a.devices.length ? { devices: a.devices } : {}),
      ...(pod ? { pod: pod.metadata.name as string, phase: pod.status?.phase ?? 'Pending' } : {}),
    };
  });
}

/** Short description of why a worker pod failed, from its status. */
export function failureReason(pod: PodObject): string {
  const s = pod.status;
  return [s?.reason, s?.message].filter(Boolean).join(': ') || 'pod failed';
}

/** Human summary of where the ranks run, e.g. `0→n1/gpu0,1 1→n2/gpu3`. */
export function describeRanks(allocs: RankAllocation[]): string {
  return allocs.map((a) => `${a.rank}→${a.node}/gpu${a.gpuIndices.join(',')}${a.start !== undefined ? `@${a.start}` : ''}`).join(' ');
}
