/**
 * Worker pods of a TrainingJob: one per rank, pinned to the rank's node, with the torchrun rendezvous
 * environment and the GPU resource of the rank. Pure builders and predicates.
 */
import { GROUP, JOB_LABEL, RANK_LABEL, WHOLE_GPU_RESOURCE, migResourceName } from '../../api/constants.js';
import type { TrainingJob } from '../../api/types.js';
import type { RankAllocation } from './job-placement.js';
import { pinToNode, type ContainerSpec, type PodObject, type PodSpec } from '../../api/pods.js';

/** Label carrying the gang attempt (status.restarts when the pod was created). */
export const ATTEMPT_LABEL = `${GROUP}/attempt`;
/** Annotation listing the device UUIDs the rank was given (a hint for the device plugin's preferred allocation). */
export const DEVICES_ANNOTATION = `${GROUP}/devices`;
/** Default rendezvous port (torchrun's). */
export const DEFAULT_MASTER_PORT = 29500;

/** Name of the pod of `rank` in gang attempt `attempt`: `<job>-<rank>`, then `<job>-<rank>-r<attempt>` after restarts. */
export function workerPodName(job: string, rank: number, attempt: number): string {
  return attempt === 0 ? `${job}-${rank}` : `${job}-${rank}-r${attempt}`;
}

/** DNS name of rank 0 through the headless Service: `<job>-0.<job>.<ns>.svc`. */
export function masterAddress(job: TrainingJob): string {
  return `${job.metadata.name}-0.${job.metadata.name}.${job.metadata.namespace}.svc`;
}

/** Processes each worker runs: one per whole GPU, one for a slice. */
export function procsPerWorker(job: TrainingJob): number {
  return job.spec.profile ? 1 : (job.spec.gpusPerWorker ?? 1);
}

/** Builds the pod of one rank. */
export function buildWorkerPod(job: TrainingJob, alloc: RankAllocation, attempt: number): PodObject {
  const name = job.metadata.name as string;
  const ns = job.metadata.namespace as string;
  const tmpl = structuredClone(job.spec.template);
  const spec = structuredClone(tmpl.spec) as unknown as PodSpec;
  const resource = job.spec.profile ? migResourceName(job.spec.profile) : WHOLE_GPU_RESOURCE;
  const qty = String(job.spec.profile ? 1 : (job.spec.gpusPerWorker ?? 1));
  const nproc = String(procsPerWorker(job));
  const port = String(job.spec.masterPort ?? DEFAULT_MASTER_PORT);
  const env: Record<string, string> = {
    WORLD_SIZE: String(job.spec.replicas),
    RANK: String(alloc.rank),
    MASTER_ADDR: masterAddress(job),
    MASTER_PORT: port,
    NODE_RANK: String(alloc.rank),
    LOCAL_WORLD_SIZE: nproc,
    NPROC_PER_NODE: nproc,
    // torchrun reads PET_<ARG> as defaults for its arguments (as Kubeflow's PyTorchJob sets them).
    PET_NNODES: String(job.spec.replicas),
    PET_NODE_RANK: String(alloc.rank),
    PET_NPROC_PER_NODE: nproc,
    PET_MASTER_ADDR: masterAddress(job),
    PET_MASTER_PORT: port,
  };
  spec.containers = spec.containers.map((c, i) => withEnv(i === 0 ? withResource(c, resource, qty) : c, env));
  spec.hostname = `${name}-${alloc.rank}`;
  spec.subdomain = name;
  // Restarts are the operator's (whole gang), so a failed container fails its pod.
  spec.restartPolicy = 'Never';
  spec.affinity = pinToNode(spec, alloc.node);
  delete spec.nodeName;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: workerPodName(name, alloc.rank, attempt),
      namespace: ns,
      labels: { ...(tmpl.metadata?.labels ?? {}), [JOB_LABEL]: name, [RANK_LABEL]: String(alloc.rank), [ATTEMPT_LABEL]: String(attempt) },
      annotations: { ...(tmpl.metadata?.annotations ?? {}), ...(alloc.devices.length ? { [DEVICES_ANNOTATION]: alloc.devices.join(',') } : {}) },
      ownerReferences: [ownerRef(job)],
    },
    spec,
  };
}

/** Controller owner reference to the job. */
export function ownerRef(job: TrainingJob) {
  return { apiVersion: job.apiVersion, kind: 'TrainingJob', name: job.metadata.name as string, uid: job.metadata.uid as string, controller: true, blockOwnerDeletion: true };
}

/** The rank and attempt of a worker pod, from its labels. */
export function workerIdentity(pod: PodObject): { rank: number; attempt: number } | undefined {
  const rank = Number(pod.metadata.labels?.[RANK_LABEL]);
  const attempt = Number(pod.metadata.labels?.[ATTEMPT_LABEL] ?? '0');
  return Number.isInteger(rank) && Number.isInteger(attempt) ? { rank, attempt } : undefined;
}

function withResource(c: ContainerSpec, resource: string, qty: string): ContainerSpec {
  return {
    ...c,
    resources: {
      ...(c.resources ?? {}),
      requests: { ...(c.resources?.requests ?? {}), [resource]: qty },
      limits: { ...(c.resources?.limits ?? {}), [resource]: qty },
    },
  };
}

function withEnv(c: ContainerSpec, env: Record<string, string>): ContainerSpec {
  // The operator's values win over template entries of the same name.
  const kept = (c.env ?? []).filter((e) => !(e.name in env));
  return { ...c, env: [...kept, ...Object.entries(env).map(([name, value]) => ({ name, value }))] };
}
