/**
 * Runs one `kubectl haein` command: reads what it needs from the API server with the user's kubeconfig and
 * context (never the operator), and prints a table, text, JSON or YAML. Returns the exit code.
 */
import yaml from 'js-yaml';
import { JOB_LABEL, PARTITION_LABEL } from '../api/constants.js';
import type { GpuNode, GpuPartition, GpuTenant, ObjectMeta, TrainingJob } from '../api/types.js';
import type { PodObject } from '../api/pods.js';
import type { NodeObject } from '../ledger/snapshot.js';
import { ApiError, KubeClient, RESOURCES, loadKubeConfig, type ResourceRef } from '../k8s/client.js';
import { place } from '../placement/engine.js';
import { buildSliceMap } from '../slice-map/build-model.js';
import { EXIT, USAGE, UsageError, parsePluginArgs, type PluginArgs } from './args.js';
import { namespaceInfo } from '../tenancy/tenant-resolution.js';
import { narrowMap, renderMap } from './map-text.js';
import { renderTenantTop, tenantRows } from './top-tenants.js';
import { renderTop, topRows } from './top.js';
import { explain, renderWhy, type EventLike } from './why.js';

/** Where output goes (stdout, stderr). */
export interface PluginIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Runs `argv` (without node and script); resolves with the exit code. */
export async function runPlugin(argv: string[], io: PluginIo): Promise<number> {
  let args: PluginArgs;
  try {
    args = parsePluginArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`error: ${err.message}\nSee 'kubectl haein --help' for usage.\n`);
    return EXIT.usage;
  }
  if (args.command === 'help') {
    io.out(`${USAGE}\n`);
    return EXIT.ok;
  }
  try {
    const kc = loadKubeConfig(args.kubeconfig);
    if (args.context) {
      if (!kc.getContextObject(args.context)) {
        io.err(`error: context "${args.context}" does not exist in the kubeconfig\n`);
        return EXIT.error;
      }
      kc.setCurrentContext(args.context);
    }
    const client = new KubeClient(kc, { userAgent: 'kubectl-haein', timeoutMs: 30_000 });
    const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
    const namespace = args.namespace ?? contextNamespace;
    if (args.command === 'why') return await why(client, args, namespace, io);
    return await mapOrTop(client, args, namespace, io);
  } catch (err) {
    io.err(`error: ${describeError(err)}\n`);
    return EXIT.error;
  }
}

function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) parts.push(e.message);
  return parts.join(': ') || String(err);
}

async function listAll<T>(client: KubeClient, ref: ResourceRef, opts: { namespace?: string; labelSelector?: string } = {}): Promise<T[]> {
  return (await client.list<T>(ref, opts)).items;
}

/** A cluster-scoped list the caller may not be allowed to read (403), or whose CRD is not installed (404): undefined then. */
async function listIfReadable<T>(client: KubeClient, ref: ResourceRef): Promise<T[] | undefined> {
  try {
    return await listAll<T>(client, ref);
  } catch (err) {
    if (err instanceof ApiError && (err.code === 403 || err.code === 404)) return undefined;
    throw err;
  }
}

/** Labelled pods (partition consumers and job workers) of one namespace or all. */
async function haeinPods(client: KubeClient, namespace?: string): Promise<PodObject[]> {
  const ns = namespace ? { namespace } : {};
  const [a, b] = await Promise.all([
    listAll<PodObject>(client, RESOURCES.pod, { ...ns, labelSelector: PARTITION_LABEL }),
    listAll<PodObject>(client, RESOURCES.pod, { ...ns, labelSelector: JOB_LABEL }),
  ]);
  return [...a, ...b];
}

function print(io: PluginIo, format: PluginArgs['output'], data: unknown, text: () => string): void {
  if (format === 'json') io.out(`${JSON.stringify(data, null, 2)}\n`);
  else if (format === 'yaml') io.out(yaml.dump(data, { noRefs: true, lineWidth: -1 }));
  else io.out(`${text()}\n`);
}

async function mapOrTop(client: KubeClient, args: PluginArgs, namespace: string, io: PluginIo): Promise<number> {
  // map and tenants are cluster-scoped like `kubectl get nodes` unless -n narrows them; top per namespace follows
  // `kubectl top pod` (-n or -A).
  const byTenant = args.command === 'top' && args.by === 'tenant';
  const onlyNs = args.command === 'map' || byTenant ? args.namespace : args.allNamespaces ? undefined : namespace;
  const ns = onlyNs ? { namespace: onlyNs } : {};
  const [gpuNodes, nodes, partitions, jobs, pods, tenants, namespaces] = await Promise.all([
    listAll<GpuNode>(client, RESOURCES.gpuNode),
    listAll<NodeObject>(client, RESOURCES.node),
    listAll<GpuPartition>(client, RESOURCES.gpuPartition, ns),
    listAll<TrainingJob>(client, RESOURCES.trainingJob, ns),
    haeinPods(client, onlyNs),
    listIfReadable<GpuTenant>(client, RESOURCES.gpuTenant),
    listIfReadable<{ metadata: ObjectMeta }>(client, RESOURCES.namespace),
  ]);
  if (tenants === undefined && (byTenant || args.tenant !== undefined)) {
    io.err('error: cannot list gputenants.gpu.haein.dev (forbidden, or the CRD is not installed)\n');
    return EXIT.error;
  }
  const byName = new Map(nodes.map((n) => [n.metadata.name ?? '', n]));
  const model = buildSliceMap({
    gpuNodes,
    node: (n) => byName.get(n),
    partitions,
    jobs,
    pods,
    tenants: tenants ?? [],
    namespaces: (namespaces ?? []).map(namespaceInfo),
    synced: true,
    now: new Date(),
  });
  if (args.tenant !== undefined && !model.tenants.some((t) => t.name === args.tenant)) {
    io.err(`Error from server (NotFound): gputenants.gpu.haein.dev "${args.tenant}" not found\n`);
    return EXIT.error;
  }
  if (args.command === 'map') {
    const scope = { ...(onlyNs ? { namespace: onlyNs } : {}), ...(args.tenant !== undefined ? { tenant: args.tenant } : {}) };
    const shown = scope.namespace !== undefined || scope.tenant !== undefined ? narrowMap(model, scope) : model;
    print(io, args.output, shown, () => renderMap(shown, args.output === 'wide'));
    return EXIT.ok;
  }
  if (byTenant) {
    const rows = tenantRows(model.tenants, { ...(onlyNs ? { namespace: onlyNs } : {}), ...(args.tenant !== undefined ? { tenant: args.tenant } : {}) });
    print(io, args.output, rows, () => renderTenantTop(rows, args.output === 'wide'));
    return EXIT.ok;
  }
  const rows = topRows(model, onlyNs ? new Set([onlyNs]) : undefined, args.tenant);
  const totalSlots = model.nodes.reduce((s, n) => s + n.gpus.reduce((t, g) => t + (g.healthy ? g.slots : 0), 0), 0);
  print(io, args.output, rows, () => renderTop(rows, totalSlots, args.output === 'wide'));
  return EXIT.ok;
}

async function why(client: KubeClient, args: PluginArgs, namespace: string, io: PluginIo): Promise<number> {
  const target = args.target as NonNullable<PluginArgs['target']>;
  // The queue spans every namespace; a user who may list only their own still gets an answer for it.
  let scope: 'cluster' | 'namespace' = 'cluster';
  let partitions: GpuPartition[];
  let jobs: TrainingJob[];
  try {
    [partitions, jobs] = await Promise.all([listAll<GpuPartition>(client, RESOURCES.gpuPartition), listAll<TrainingJob>(client, RESOURCES.trainingJob)]);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 403)) throw err;
    scope = 'namespace';
    [partitions, jobs] = await Promise.all([
      listAll<GpuPartition>(client, RESOURCES.gpuPartition, { namespace }),
      listAll<TrainingJob>(client, RESOURCES.trainingJob, { namespace }),
    ]);
  }
  const [gpuNodes, nodes, pods, events, tenants, ownNamespace] = await Promise.all([
    listAll<GpuNode>(client, RESOURCES.gpuNode),
    listAll<NodeObject>(client, RESOURCES.node),
    target.kind === 'Pod' ? client.get<PodObject>(RESOURCES.pod, target.name, namespace).then((p) => (p ? [p] : [])) : Promise.resolve([]),
    listAll<EventLike>(client, RESOURCES.event, { namespace }),
    listIfReadable<GpuTenant>(client, RESOURCES.gpuTenant),
    // Its labels decide which tenant's selector takes it; a user who may not read it still gets tenants by name.
    client.get<{ metadata: ObjectMeta }>(RESOURCES.namespace, namespace).catch((err: unknown) => {
      if (err instanceof ApiError && err.code === 403) return undefined;
      throw err;
    }),
  ]);
  const e = explain({
    kind: target.kind,
    namespace,
    name: target.name,
    gpuNodes,
    nodes,
    partitions,
    jobs,
    pods,
    events,
    queueScope: scope,
    place,
    tenants: tenants ?? [],
    namespaces: ownNamespace ? [namespaceInfo(ownNamespace)] : [],
  });
  if (!e) {
    const plural = target.kind === 'Pod' ? 'pods' : target.kind === 'GpuPartition' ? 'gpupartitions.gpu.haein.dev' : 'trainingjobs.gpu.haein.dev';
    io.err(`Error from server (NotFound): ${plural} "${target.name}" not found in namespace "${namespace}"\n`);
    return EXIT.error;
  }
  print(io, args.output, e, () => renderWhy(e));
  return EXIT.ok;
}
