/** REST coordinates of the resource types the operator and node agent use. */
import { GROUP, PLURALS, VERSION } from '../api/constants.js';

/** Identifies a resource type for REST calls. `group` is '' for the core API. */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

/** Well-known resources: the Haein CRDs, core v1 kinds, the coordination Lease and apps/v1 Deployments (examples, tests). */
export const RESOURCES: Record<
  'gpuNode' | 'gpuPartition' | 'trainingJob' | 'gpuTenant' | 'gpuUsage' | 'pod' | 'node' | 'service' | 'event' | 'lease' | 'namespace' | 'deployment',
  ResourceRef
> = {
  gpuNode: { group: GROUP, version: VERSION, plural: PLURALS.gpuNode, kind: 'GpuNode', namespaced: false },
  gpuPartition: { group: GROUP, version: VERSION, plural: PLURALS.gpuPartition, kind: 'GpuPartition', namespaced: true },
  trainingJob: { group: GROUP, version: VERSION, plural: PLURALS.trainingJob, kind: 'TrainingJob', namespaced: true },
  gpuTenant: { group: GROUP, version: VERSION, plural: PLURALS.gpuTenant, kind: 'GpuTenant', namespaced: false },
  gpuUsage: { group: GROUP, version: VERSION, plural: PLURALS.gpuUsage, kind: 'GpuUsage', namespaced: false },
  pod: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  node: { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false },
  service: { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  event: { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
  namespace: { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
};

/** `apiVersion` string of a resource type (`v1` for core, `group/version` otherwise). */
export function apiVersionOf(ref: ResourceRef): string {
  return ref.group === '' ? ref.version : `${ref.group}/${ref.version}`;
}

/**
 * REST path of a collection or, with `name`, of one object (and optionally a subresource).
 * A namespaced resource without a namespace addresses the all-namespaces collection.
 */
export function resourcePath(ref: ResourceRef, opts: { namespace?: string; name?: string; subresource?: string } = {}): string {
  const base = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  const ns = ref.namespaced && opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : '';
  if (ref.namespaced && opts.name !== undefined && !opts.namespace) {
    throw new Error(`${ref.kind} ${opts.name}: a namespace is required for a namespaced resource`);
  }
  let path = `${base}${ns}/${ref.plural}`;
  if (opts.name !== undefined) path += `/${encodeURIComponent(opts.name)}`;
  if (opts.subresource !== undefined) path += `/${opts.subresource}`;
  return path;
}
