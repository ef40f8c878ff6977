import type { GpuNode, TargetGpu } from '../../../src/api/types.js';
import { RESOURCES } from '../../../src/k8s/client.js';
import { FAILED_GPUS_ANNOTATION, NodeAgent } from '../../../src/node-agent/agent.js';
import { NodeAgentMetrics } from '../../../src/node-agent/metrics.js';
import { SimulatedNode } from '../../../src/node-agent/simulated-gpu.js';
import { modelForProduct } from '../../../src/placement/catalog.js';
import { FakeClient } from './fake-client.js';

const b200 = modelForProduct('NVIDIA-B200')!;

async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('NodeAgent', () => {
  let client: FakeClient;
  let sim: SimulatedNode;
  let agent: NodeAgent;
  let held: Set<string>;
  let metrics: NodeAgentMetrics;

  const gpuNode = async (): Promise<GpuNode> => (await client.get<GpuNode>(RESOURCES.gpuNode, 'node-a'))!;
  const condition = async (type: string) => (await gpuNode()).status?.conditions?.find((c) => c.type === type);
  const setSpec = (gpus: TargetGpu[]) => client.mergePatch(RESOURCES.gpuNode, 'node-a', { spec: { gpus } });

  beforeEach(async () => {
    client = new FakeClient();
    await client.create(RESOURCES.node, { metadata: { name: 'node-a' }, status: { capacity: { cpu: '8' } } });
    sim = (await SimulatedNode.open({ node: 'node-a', model: b200, gpuCount: 8, reconfigureDelayMs: 1 })).sim;
    held = new Set();
    metrics = new NodeAgentMetrics();
    agent = new NodeAgent({
      metrics,
      sim,
      client,
      clique: 'c0ffee.1',
      patchNodeCapacity: true,
      podResources: { list: async () => new Map([['any', held]]) },
      podResourcesIntervalMs: 20,
    });
    await agent.start();
  });
  afterEach(() => agent.stop());

  it('creates its GpuNode with the inventory, labels the Node and publishes whole GPUs as capacity', async () => {
    const obj = await gpuNode();
    expect(obj.status?.inventory).toEqual({ product: 'NVIDIA-B200', gpuCount: 8, memoryMiB: 184320, migCapable: true, clique: 'c0ffee.1' });
    expect(obj.status?.gpus).toHaveLength(8);
    expect((await condition('AgentReady'))?.status).toBe('True');
    expect((await condition('LayoutRealised'))?.reason).toBe('Realised');
    const node = (await client.get<{ metadata: { labels: Record<string, string> }; status: { capacity: Record<string, string> } }>(RESOURCES.node, 'node-a'))!;
    expect(node.metadata.labels).toMatchObject({
      'nvidia.com/gpu.product': 'NVIDIA-B200',
      'nvidia.com/gpu.count': '8',
      'nvidia.com/gpu.memory': '184320',
      'nvidia.com/mig.capable': 'true',
      'nvidia.com/mig.strategy': 'mixed',
      'nvidia.com/gpu.clique': 'c0ffee.1',
    });
    expect(node.status.capacity).toEqual({ cpu: '8', 'nvidia.com/gpu': '8' });
  });

  it('realises a new target, reports it with the generation and duration, and updates capacity', async () => {
    await setSpec([{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0 }, { profile: '1g.23gb', start: 1 }, { profile: '3g.90gb', start: 4 }] }]);
    await until(async () => (await gpuNode()).status?.observedGeneration === 2 && (await condition('LayoutRealised'))?.status === 'True');
    const status = (await gpuNode()).status!;
    expect(status.gpus![0].mode).toBe('mig');
    expect(status.gpus![0].slices.map((s) => `${s.profile}@${s.start}`)).toEqual(['1g.23gb@0', '1g.23gb@1', '3g.90gb@4']);
    expect(status.gpus![0].slices.every((s) => s.uuid.startsWith('MIG-') && s.deviceId === s.uuid)).toBe(true);
    expect(status.lastReconfiguration?.generation).toBe(2);
    // Initial publish, Reconfiguring, Realised (+ at most one in-use refresh): no write storm from our own events.
    expect(client.calls.filter((c) => c.startsWith('status gpunodes')).length).toBeLessThanOrEqual(5);
    expect(status.lastReconfiguration!.durationSeconds).toBeGreaterThan(0);
    expect(await metrics.registry.getSingleMetricAsString('haein_node_agent_reconfiguration_seconds')).toContain(
      'haein_node_agent_reconfiguration_seconds_count{node="node-a",outcome="Realised"} 1',
    );
    await until(async () => {
      const cap = (await client.get<{ status: { capacity: Record<string, string> } }>(RESOURCES.node, 'node-a'))!.status.capacity;
      return cap['nvidia.com/gpu'] === '7' && cap['nvidia.com/mig-1g.23gb'] === '2' && cap['nvidia.com/mig-3g.90gb'] === '1';
    });
  });

  it('refuses to destroy an in-use slice, changes nothing, and realises once it is released', async () => {
    await setSpec([{ index: 0, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0 }] }]);
    await until(async () => (await condition('LayoutRealised'))?.status === 'True' && (await gpuNode()).status?.observedGeneration === 2);
    const uuid = sim.gpus()[0].slices[0].uuid;
    held.add(uuid);
    await until(async () => (await gpuNode()).status?.gpus?.[0].slices[0]?.inUse === true);

    await setSpec([{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0 }] }]);
    await until(async () => (await condition('LayoutRealised'))?.reason === 'SliceInUse');
    expect((await condition('LayoutRealised'))?.message).toContain('7g.180gb@0');
    expect(sim.gpus()[0].slices.map((s) => s.profile)).toEqual(['7g.180gb']);

    held.delete(uuid);
    await until(async () => (await condition('LayoutRealised'))?.status === 'True');
    expect(sim.gpus()[0].slices.map((s) => s.profile)).toEqual(['1g.23gb']);
  });

  it('a restarted agent keeps the published transition times and last reconfiguration', async () => {
    await setSpec([{ index: 2, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0 }] }]);
    await until(async () => (await gpuNode()).status?.lastReconfiguration?.generation === 2 && (await condition('LayoutRealised'))?.status === 'True');
    const before = (await gpuNode()).status!;
    await agent.stop();
    agent = new NodeAgent({ sim, client, patchNodeCapacity: true });
    await agent.start();
    const after = (await gpuNode()).status!;
    expect(after.lastReconfiguration).toEqual(before.lastReconfiguration);
    expect(after.conditions?.find((c) => c.type === 'LayoutRealised')?.lastTransitionTime).toBe(
      before.conditions?.find((c) => c.type === 'LayoutRealised')?.lastTransitionTime,
    );
    expect(after.conditions?.find((c) => c.type === 'AgentReady')?.status).toBe('True');
  });

  it('reports an illegal target as IllegalLayout and keeps the hardware unchanged', async () => {
    const before = sim.gpus();
    await setSpec([{ index: 1, mode: 'mig', slices: [{ profile: '3g.90gb', start: 2 }] }]);
    await until(async () => (await condition('LayoutRealised'))?.reason === 'IllegalLayout');
    expect(sim.gpus()).toEqual(before);
    expect((await gpuNode()).status?.observedGeneration).toBe(2);
    // Counted once per refused generation, however often the agent re-checks it.
    await agent.trigger();
    const refusals = await metrics.registry.getSingleMetricAsString('haein_node_agent_layout_refusals_total');
    expect(refusals).toContain('haein_node_agent_layout_refusals_total{node="node-a",reason="IllegalLayout"} 1');
  });

  it('on a kubelet-less node, running pods\' requests mark devices in use and block their destruction', async () => {
    // A kubelet-less node has no PodResources: run an agent whose only in-use source is the pods.
    await agent.stop();
    agent = new NodeAgent({ sim, client, patchNodeCapacity: true });
    await agent.start();
    const trainer = { metadata: { namespace: 'team', name: 'trainer' }, spec: { containers: [{ resources: { limits: { 'nvidia.com/gpu': '2' } } }] } };
    await agent.observePods([trainer]);
    await until(async () => ((await gpuNode()).status?.gpus ?? []).filter((g) => g.inUse).length === 2);
    const busy = (await gpuNode()).status!.gpus!.find((g) => g.inUse)!.index;
    await setSpec([{ index: busy, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0 }] }]);
    await until(async () => (await condition('LayoutRealised'))?.reason === 'SliceInUse');
    expect(sim.gpus()[busy].mode).toBe('whole');
    await agent.observePods([]);
    await until(async () => (await condition('LayoutRealised'))?.status === 'True');
    expect(sim.gpus()[busy].mode).toBe('mig');
  });

  it('injects GPU failures from a GpuNode annotation and heals them when it goes away', async () => {
    const capacity = async () => (await client.get<{ status: { capacity: Record<string, string> } }>(RESOURCES.node, 'node-a'))!.status.capacity['nvidia.com/gpu'];
    await client.mergePatch(RESOURCES.gpuNode, 'node-a', { metadata: { annotations: { [FAILED_GPUS_ANNOTATION]: '1, 6' } } });
    await until(async () => (await capacity()) === '6');
    expect(sim.gpus().filter((g) => g.health === 'Unhealthy').map((g) => g.index)).toEqual([1, 6]);
    await client.mergePatch(RESOURCES.gpuNode, 'node-a', { metadata: { annotations: { [FAILED_GPUS_ANNOTATION]: null } } });
    await until(async () => (await capacity()) === '8');
  });

  it('marks devices unhealthy in capacity when a GPU fails', async () => {
    await sim.setHealth(3, 'Unhealthy');
    await until(async () => (await client.get<{ status: { capacity: Record<string, string> } }>(RESOURCES.node, 'node-a'))!.status.capacity['nvidia.com/gpu'] === '7');
    await until(async () => (await gpuNode()).status?.gpus?.[3].health === 'Unhealthy');
  });
});
