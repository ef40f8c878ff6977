/**
 * The operator in-process against the real API server of the local control plane: partitions become Ready
 * with exact placements, gated pods are admitted or told why not, a TrainingJob gets its Service and pods
 * with the torchrun environment, and deletion releases every slice. The node agent is simulated by
 * FakeAgent (spec → status).
 */
import { JOB_LABEL, PARTITION_GATE, PARTITION_LABEL, RANK_LABEL } from '../../../src/api/constants.js';
import type { GpuNode, GpuPartition, TrainingJob } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { ADMISSION_ANNOTATION } from '../../../src/controllers/pod-gate/pod-admission.js';
import { podTargetNode, type PodObject } from '../../../src/api/pods.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { eventually, type TestNamespace } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';

// Timeouts: the integration script runs jest with --testTimeout=120000.

let client: KubeClient;
let ns: TestNamespace;
let nodeNames: string[];
let selector: Record<string, string>;
const h = new OperatorHarness();

const gpuNodes = async () => (await client.list<GpuNode>(RESOURCES.gpuNode)).items.filter((n) => nodeNames.includes(n.metadata.name ?? ''));
const claimsOf = async (name: string) => ledgerEntries(await gpuNodes()).filter((e) => e.claim.namespace === ns.name && e.claim.name === name);
const events = async (name: string) =>
  (await client.list<{ reason: string; message: string; involvedObject: { name: string } }>(RESOURCES.event, { namespace: ns.name })).items.filter((e) => e.involvedObject.name === name);

beforeAll(async () => {
  await h.setUp('ctl', { count: 2, gpus: 8 });
  ({ client, ns, selector, nodeNames } = h);
  h.startAgent();
  await h.startOperator();
});

afterAll(() => h.stop());

function partition(name: string, spec: GpuPartition['spec']): GpuPartition {
  return { apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuPartition', metadata: { name, namespace: ns.name }, spec: { nodeSelector: selector, ...spec } };
}

/** A TrainingJob on this suite's nodes with a one-container template. */
function trainingJob(name: string, spec: Omit<TrainingJob['spec'], 'nodeSelector' | 'template'>): TrainingJob {
  return {
    apiVersion: 'gpu.haein.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name, namespace: ns.name },
    spec: { ...spec, nodeSelector: selector, template: { spec: { containers: [{ name: 'trainer', image: 'pytorch' }] } } },
  };
}

function gatedPod(name: string, part: string, resource: string): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns.name, labels: { [PARTITION_LABEL]: part } },
    spec: {
      schedulingGates: [{ name: PARTITION_GATE }],
      containers: [{ name: 'main', image: 'busybox', resources: { requests: { [resource]: '1' }, limits: { [resource]: '1' } } }],
    },
  };
}

test('a partition becomes Ready with exact placements realised by the node', async () => {
  await client.create(RESOURCES.gpuPartition, partition('notebook', { profile: '3g.90gb', count: 2 }));
  const p = await eventually(
    async () => {
      const x = await client.get<GpuPartition>(RESOURCES.gpuPartition, 'notebook', ns.name);
      return x?.status?.phase === 'Ready' ? x : undefined;
    },
    { timeoutMs: 30_000, what: 'GpuPartition notebook Ready' },
  );
  expect(p.status?.resourceName).toBe('nvidia.com/mig-3g.90gb');
  expect(p.status?.allocations).toHaveLength(2);
  const claims = await claimsOf('notebook');
  for (const a of p.status?.allocations ?? []) {
    expect(nodeNames).toContain(a.node);
    expect(a.uuid).toBe(`MIG-${a.node}-${a.gpuIndex}-${a.start}`);
    expect(claims.some((c) => c.node === a.node && c.gpuIndex === a.gpuIndex && c.start === a.start && c.claim.slot === a.slot)).toBe(true);
  }
  expect(p.status?.conditions?.find((c) => c.type === 'Allocated')?.reason).toBe('Placed');
});

test('gated pods: one admitted per slice and pinned to the partition node, the rest told why', async () => {
  await client.create(RESOURCES.gpuPartition, partition('infer', { profile: '1g.23gb', count: 1 }));
  await eventually(async () => (await client.get<GpuPartition>(RESOURCES.gpuPartition, 'infer', ns.name))?.status?.phase === 'Ready', { what: 'infer Ready' });
  await client.create(RESOURCES.pod, gatedPod('infer-a', 'infer', 'nvidia.com/mig-1g.23gb'));
  await client.create(RESOURCES.pod, gatedPod('infer-b', 'infer', 'nvidia.com/mig-1g.23gb'));
  const [admitted, waiting] = await eventually(
    async () => {
      const pods = await Promise.all(['infer-a', 'infer-b'].map((n) => client.get<PodObject>(RESOURCES.pod, n, ns.name)));
      const open = pods.filter((p) => !(p?.spec.schedulingGates ?? []).some((g) => g.name === PARTITION_GATE));
      const told = pods.filter((p) => p?.metadata.annotations?.[ADMISSION_ANNOTATION]);
      return open.length === 1 && told.length === 1 ? [open[0]!, told[0]!] : undefined;
    },
    { what: 'one pod admitted, one waiting' },
  );
  const p = await client.get<GpuPartition>(RESOURCES.gpuPartition, 'infer', ns.name);
  expect(podTargetNode(admitted)).toBe(p?.status?.allocations?.[0]?.node);
  expect(waiting.metadata.annotations?.[ADMISSION_ANNOTATION]).toMatch(/in use/);
  // The admitted pod is scheduled onto the node and run by KWOK.
  await eventually(async () => (await client.get<PodObject>(RESOURCES.pod, admitted.metadata.name as string, ns.name))?.spec.nodeName === podTargetNode(admitted), { what: 'admitted pod bound' });
});

test('a pod naming a partition that does not exist keeps its gate and gets a PartitionNotFound event', async () => {
  await client.create(RESOURCES.pod, gatedPod('lost', 'nope', 'nvidia.com/mig-1g.23gb'));
  await eventually(async () => (await events('lost')).some((e) => e.reason === 'PartitionNotFound'), { what: 'PartitionNotFound event' });
  const pod = await client.get<PodObject>(RESOURCES.pod, 'lost', ns.name);
  expect(pod?.spec.schedulingGates?.map((g) => g.name)).toContain(PARTITION_GATE);
});

test('an unknown profile fails with a reason and an event', async () => {
  await client.create(RESOURCES.gpuPartition, partition('bad', { profile: '5g.100gb' }));
  const p = await eventually(async () => {
    const x = await client.get<GpuPartition>(RESOURCES.gpuPartition, 'bad', ns.name);
    return x?.status?.phase === 'Failed' ? x : undefined;
  }, { what: 'bad Failed' });
  expect(p.status?.conditions?.find((c) => c.type === 'Allocated')?.reason).toBe('UnknownProfile');
  await eventually(async () => (await events('bad')).some((e) => e.reason === 'UnknownProfile'), { what: 'UnknownProfile event' });
});

test('deleting a partition used by a pod waits, then releases its slices once the pod is gone', async () => {
  await client.delete(RESOURCES.gpuPartition, 'infer', ns.name);
  const blocked = await eventually(async () => {
    const x = await client.get<GpuPartition>(RESOURCES.gpuPartition, 'infer', ns.name);
    return x?.status?.conditions?.find((c) => c.reason === 'DeletionBlocked') ? x : undefined;
  }, { what: 'deletion blocked' });
  expect(blocked.status?.phase).toBe('Terminating');
  for (const n of ['infer-a', 'infer-b']) await client.delete(RESOURCES.pod, n, ns.name);
  await eventually(async () => (await client.get(RESOURCES.gpuPartition, 'infer', ns.name)) === undefined, { timeoutMs: 60_000, what: 'infer deleted' });
  expect(await claimsOf('infer')).toHaveLength(0);
});

test('a 2-node × 8-GPU TrainingJob gets its Service and pinned pods with the torchrun environment, and releases on delete', async () => {
  // The notebook partition holds MIG slices on these nodes; free them so 8 whole GPUs fit per node.
  await client.delete(RESOURCES.gpuPartition, 'notebook', ns.name);
  await eventually(async () => (await claimsOf('notebook')).length === 0, { what: 'notebook released' });
  await client.create(RESOURCES.trainingJob, trainingJob('llm', { replicas: 2, gpusPerWorker: 8 }));
  const pods = await eventually(async () => {
    const list = (await client.list<PodObject>(RESOURCES.pod, { namespace: ns.name, labelSelector: `${JOB_LABEL}=llm` })).items;
    return list.length === 2 ? list : undefined;
  }, { timeoutMs: 60_000, what: 'two worker pods' });
  const svc = await client.get<{ spec: { clusterIP: string } }>(RESOURCES.service, 'llm', ns.name);
  expect(svc?.spec.clusterIP).toBe('None');
  const nodesUsed = new Set<string>();
  for (const pod of pods) {
    const env = Object.fromEntries((pod.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ WORLD_SIZE: '2', RANK: pod.metadata.labels?.[RANK_LABEL], MASTER_ADDR: `llm-0.llm.${ns.name}.svc`, MASTER_PORT: '29500' });
    expect(pod.spec.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('8');
    nodesUsed.add(podTargetNode(pod) as string);
  }
  expect([...nodesUsed].sort()).toEqual([...nodeNames].sort());
  const running = await eventually(async () => {
    const j = await client.get<TrainingJob>(RESOURCES.trainingJob, 'llm', ns.name);
    return j?.status?.phase === 'Running' ? j : undefined;
  }, { timeoutMs: 60_000, what: 'job Running' });
  expect(running.status?.workers?.every((w) => w.devices?.length === 8)).toBe(true);

  await client.delete(RESOURCES.trainingJob, 'llm', ns.name);
  await eventually(async () => (await client.get(RESOURCES.trainingJob, 'llm', ns.name)) === undefined, { timeoutMs: 60_000, what: 'job deleted' });
  expect(await claimsOf('llm')).toHaveLength(0);
});

test('a failed worker restarts the whole gang; suspend releases the GPUs', async () => {
  await client.create(RESOURCES.trainingJob, trainingJob('ft', { replicas: 2, profile: '2g.45gb', backoffLimit: 2 }));
  const workers = async () => (await client.list<PodObject>(RESOURCES.pod, { namespace: ns.name, labelSelector: `${JOB_LABEL}=ft` })).items;
  await eventually(async () => (await client.get<TrainingJob>(RESOURCES.trainingJob, 'ft', ns.name))?.status?.phase === 'Running', { timeoutMs: 60_000, what: 'ft Running' });
  const victim = (await workers()).find((p) => p.metadata.labels?.[RANK_LABEL] === '1')!;
  await client.mergePatchStatus(RESOURCES.pod, victim.metadata.name as string, { status: { phase: 'Failed', reason: 'Error', message: 'simulated crash' } }, ns.name);
  await eventually(async () => (await client.get<TrainingJob>(RESOURCES.trainingJob, 'ft', ns.name))?.status?.restarts === 1, { timeoutMs: 60_000, what: 'restart counted' });
  const next = await eventually(async () => {
    const names = (await workers()).filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name).sort();
    return names.length === 2 && names.every((n) => n?.endsWith('-r1')) ? names : undefined;
  }, { timeoutMs: 60_000, what: 'second attempt pods' });
  expect(next).toEqual(['ft-0-r1', 'ft-1-r1']);
  expect((await events('ft')).some((e) => e.reason === 'GangRestart')).toBe(true);

  await client.mergePatch(RESOURCES.trainingJob, 'ft', { spec: { suspend: true } }, ns.name);
  // Suspended at once; the status says the GPUs are released only once the ledger no longer holds them.
  await eventually(async () => {
    const j = await client.get<TrainingJob>(RESOURCES.trainingJob, 'ft', ns.name);
    return j?.status?.phase === 'Suspended' && /its GPUs are released$/.test(j.status.conditions?.find((c) => c.type === 'Suspended')?.message ?? '');
  }, { timeoutMs: 60_000, what: 'ft Suspended with its GPUs released' });
  expect(await claimsOf('ft')).toHaveLength(0);
});
