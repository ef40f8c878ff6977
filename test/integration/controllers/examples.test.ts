/**
 * The manifests in examples/ through the in-process operator: the notebook and inference partitions become
 * Ready with exact placements, the 2 × 8-GPU TrainingJob gets pods with the torchrun environment, and the
 * notebook pod is admitted. For isolation on a shared cluster the objects go to a test namespace and carry a
 * node selector for this suite's simulated nodes; nothing else is changed.
 */
import { JOB_LABEL, PARTITION_GATE } from '../../../src/api/constants.js';
import type { GpuPartition, GpuTenant, TrainingJob } from '../../../src/api/types.js';
import { podTargetNode, type PodObject } from '../../../src/api/pods.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { eventually, kubectl, type TestNamespace } from '../../support/cluster.js';
import { createExamples } from '../../support/examples.js';
import { OperatorHarness } from '../../support/operator-harness.js';

let client: KubeClient;
let ns: TestNamespace;
const h = new OperatorHarness();
let tenants: string[] = [];


beforeAll(async () => {
  // One NVLink domain, as the job's sameClique topology asks.
  await h.setUp('ex', { count: 3, gpus: 8, oneClique: true });
  ({ client, ns } = h);
  const selector = h.selector;
  h.startAgent();
  await h.startOperator();

  tenants = await createExamples(client, ns.name, selector);
});

afterAll(async () => {
  for (const t of tenants) await client.delete(RESOURCES.gpuTenant, t).catch(() => undefined);
  await h.stop();
});

const ready = (name: string) =>
  eventually(async () => {
    const p = await client.get<GpuPartition>(RESOURCES.gpuPartition, name, ns.name);
    return p?.status?.phase === 'Ready' ? p : undefined;
  }, { timeoutMs: 60_000, what: `GpuPartition ${name} Ready` });

test('notebook: one 1g.23gb slice, and the example pod is admitted onto its node', async () => {
  const p = await ready('notebook');
  expect(p.status?.resourceName).toBe('nvidia.com/mig-1g.23gb');
  expect(p.status?.allocations).toHaveLength(1);
  const pod = await eventually(async () => {
    const x = await client.get<PodObject>(RESOURCES.pod, 'notebook', ns.name);
    return x && !(x.spec.schedulingGates ?? []).some((g) => g.name === PARTITION_GATE) ? x : undefined;
  }, { what: 'notebook pod admitted' });
  expect(podTargetNode(pod)).toBe(p.status?.allocations?.[0]?.node);
});

test('inference: 80Gi × 3 compute resolves to 3g.90gb, two slices at legal 3g starts', async () => {
  const p = await ready('inference');
  expect(p.status?.profile).toBe('3g.90gb');
  const allocs = p.status?.allocations ?? [];
  expect(allocs).toHaveLength(2);
  // 3g instances may only start at memory slot 0 or 4; the engine chooses which (it avoids stranding compute).
  for (const a of allocs) expect([0, 4]).toContain(a.start);
  expect(new Set(allocs.map((a) => `${a.node}/${a.gpuIndex}/${a.start}`)).size).toBe(2);
  for (const a of p.status?.allocations ?? []) expect(a.uuid).toMatch(/^MIG-/);
});

test('llm-pretrain: two workers with 8 whole GPUs each on two nodes of the clique, torchrun environment set', async () => {
  const pods = await eventually(async () => {
    const list = (await client.list<PodObject>(RESOURCES.pod, { namespace: ns.name, labelSelector: `${JOB_LABEL}=llm-pretrain` })).items;
    return list.length === 2 ? list : undefined;
  }, { timeoutMs: 60_000, what: 'llm-pretrain pods' });
  expect(pods.map((p) => p.metadata.name).sort()).toEqual(['llm-pretrain-0', 'llm-pretrain-1']);
  expect(new Set(pods.map((p) => podTargetNode(p))).size).toBe(2);
  for (const pod of pods) {
    const env = Object.fromEntries((pod.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ WORLD_SIZE: '2', MASTER_ADDR: `llm-pretrain-0.llm-pretrain.${ns.name}.svc`, MASTER_PORT: '29500' });
    expect(pod.spec.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('8');
  }
  const job = await eventually(async () => {
    const j = await client.get<TrainingJob>(RESOURCES.trainingJob, 'llm-pretrain', ns.name);
    return j?.status?.phase === 'Running' ? j : undefined;
  }, { timeoutMs: 60_000, what: 'llm-pretrain Running' });
  expect(job.status?.workers?.map((w) => w.gpuIndices?.length)).toEqual([8, 8]);
});

test('tenants: research runs all of the above on 16 GPU-eq of its own and 1.429 borrowed from vision, its cohort peer', async () => {
  const [research, vision] = ['research', 'vision'].map((t) => `${t}-${ns.name}`) as [string, string];
  expect(tenants.sort()).toEqual([research, vision].sort());
  // 2 × 8 whole GPUs + one 1g (1/7) + two 3g (6/7) + the serving partition's one 3g (3/7) = 17.429 GPU-eq.
  // Each tenant's status is written by its own reconcile: wait for both.
  const [status, lenderStatus] = await eventually(async () => {
    const s = (await client.get<GpuTenant>(RESOURCES.gpuTenant, research))?.status;
    const v = (await client.get<GpuTenant>(RESOURCES.gpuTenant, vision))?.status;
    return s?.used === 17.429 && v?.lent === 1.429 ? ([s, v] as const) : undefined;
  }, { timeoutMs: 60_000, what: 'research uses 17.429 GPU-eq, lent by vision' });
  expect(status).toMatchObject({ borrowed: 1.429, waiting: 0, namespaces: [ns.name] });
  expect(lenderStatus).toMatchObject({ used: 0, lent: 1.429 });
});

test('llm-serving: the Deployment\'s replica runs on the elastic 3g.90gb partition, and a second replica grows it to 2 slices', async () => {
  const servers = async () => (await client.list<PodObject>(RESOURCES.pod, { namespace: ns.name, labelSelector: 'app.kubernetes.io/name=llm-serving' })).items;
  await eventually(async () => (await servers()).some((x) => !(x.spec.schedulingGates ?? []).some((g) => g.name === PARTITION_GATE)), { timeoutMs: 60_000, what: 'first replica admitted' });
  expect((await ready('llm-serving')).spec.count).toBe(1);
  await kubectl(['-n', ns.name, 'scale', 'deployment/llm-serving', '--replicas=2']);
  const p = await eventually(async () => {
    const x = await client.get<GpuPartition>(RESOURCES.gpuPartition, 'llm-serving', ns.name);
    return x?.spec.count === 2 && x.status?.phase === 'Ready' && x.status.replicas === 2 ? x : undefined;
  }, { timeoutMs: 60_000, what: 'llm-serving grown to 2 slices' });
  expect(p.status?.autoscale?.consumers).toBe(2);
  const admitted = await eventually(async () => {
    const open = (await servers()).filter((x) => !(x.spec.schedulingGates ?? []).some((g) => g.name === PARTITION_GATE));
    return open.length === 2 ? open : undefined;
  }, { timeoutMs: 60_000, what: 'both replicas admitted' });
  const nodes = new Set(p.status?.allocations?.map((a) => a.node));
  for (const pod of admitted) expect(nodes.has(podTargetNode(pod) as string)).toBe(true);
});
