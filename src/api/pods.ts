/** The core/v1 Pod fields the controllers read and write, and small predicates over them. Pure. */
import { PARTITION_GATE, PARTITION_LABEL } from './constants.js';
import type { ObjectMeta } from './types.js';

/** A node selector requirement (`matchExpressions` / `matchFields` entry). */
export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

/** One node selector term. */
export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

/** A container, as far as the controllers care. */
export interface ContainerSpec {
  name: string;
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  [key: string]: unknown;
}

/** Pod spec subset. */
export interface PodSpec {
  containers: ContainerSpec[];
  initContainers?: ContainerSpec[];
  nodeName?: string;
  hostname?: string;
  subdomain?: string;
  restartPolicy?: string;
  schedulingGates?: Array<{ name: string }>;
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
      [key: string]: unknown;
    };
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** Pod subset. */
export interface PodObject {
  apiVersion?: 'v1';
  kind?: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: { phase?: string; reason?: string; message?: string; containerStatuses?: unknown[] };
}

/** True once the pod has finished (Succeeded or Failed) and holds no device. */
export function podTerminated(pod: PodObject): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** True while the pod still carries the partition scheduling gate. */
export function podGated(pod: PodObject): boolean {
  return (pod.spec.schedulingGates ?? []).some((g) => g.name === PARTITION_GATE);
}

/** The partition a pod names, if any. */
export function podPartition(pod: PodObject): string | undefined {
  return pod.metadata.labels?.[PARTITION_LABEL];
}

/** The node a pod is bound or pinned to: `nodeName`, else a required `metadata.name` node affinity. */
export function podTargetNode(pod: PodObject): string | undefined {
  if (pod.spec.nodeName) return pod.spec.nodeName;
  const terms = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const term of terms) {
    for (const f of term.matchFields ?? []) {
      if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
    }
  }
  return undefined;
}

/** Extended-resource quantities a pod's containers request (requests, else limits), summed per resource name. */
export function podExtendedRequests(pod: PodObject, prefix = 'nvidia.com/'): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of pod.spec.containers) {
    const merged = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    for (const [name, qty] of Object.entries(merged)) {
      if (!name.startsWith(prefix)) continue;
      out.set(name, (out.get(name) ?? 0) + Number(qty));
    }
  }
  return out;
}

/** Slices of `resource` (e.g. `nvidia.com/mig-3g.90gb`) a pod's containers request. */
export function podSlices(pod: PodObject, resource: string): number {
  return podExtendedRequests(pod).get(resource) ?? 0;
}

/** Node affinity that pins a pod to `node`, merged into the pod's existing required terms. */
export function pinToNode(spec: PodSpec, node: string): NonNullable<PodSpec['affinity']> {
  const req: NodeSelectorRequirement = { key: 'metadata.name', operator: 'In', values: [node] };
  const affinity = structuredClone(spec.affinity ?? {});
  const nodeAffinity = (affinity.nodeAffinity ??= {});
  const existing = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  // Terms are ORed: the requirement must be added to every term (or form the only term).
  const terms = existing.length === 0 ? [{ matchFields: [req] }] : existing.map((t) => ({ ...t, matchFields: [...(t.matchFields ?? []), req] }));
  nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: terms };
  return affinity;
}

/** Pods of a namespace naming partition `name`, split into admitted (gate lifted, not finished) and gated. */
export function partitionPods(pods: PodObject[], name: string): { admitted: PodObject[]; gated: PodObject[] } {
  const admitted: PodObject[] = [];
  const gated: PodObject[] = [];
  for (const pod of pods) {
    if (podPartition(pod) !== name || podTerminated(pod)) continue;
    if (podGated(pod)) gated.push(pod);
    else admitted.push(pod);
  }
  return { admitted, gated };
}
