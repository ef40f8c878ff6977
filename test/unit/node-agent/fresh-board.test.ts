/**
 * A fresh board (every GPU in whole mode) whose GpuNode already carries a target layout: until the agent has
 * read that target, it must not offer the GPUs the target carves as whole `nvidia.com/gpu` devices, or the
 * kubelet could hand one to a pod just before it is cut into slices.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WHOLE_GPU_RESOURCE } from '../../../src/api/constants.js';
import { DevicePluginManager } from '../../../src/device-plugin/plugin-manager.js';
import { RESOURCES } from '../../../src/k8s/client.js';
import { type AgentClient, NodeAgent } from '../../../src/node-agent/agent.js';
import { SimulatedNode } from '../../../src/node-agent/simulated-gpu.js';
import { modelForProduct } from '../../../src/placement/catalog.js';
import { FakeKubelet } from '../device-plugin/fake-kubelet.js';
import { FakeClient } from './fake-client.js';

const MIG = 'nvidia.com/mig-3g.90gb';
/** GPUs 0–5 are carved by the target; 6 and 7 stay whole. */
const TARGET = [
  ...[0, 1, 2, 3, 4, 5].map((index) => ({ index, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0 }, { profile: '3g.90gb', start: 4 }] })),
  { index: 6, mode: 'whole', slices: [] },
];

/** The fake API server answering reads slowly, as a loaded API server does. */
function slowReads(client: FakeClient, ms: number): AgentClient {
  const later = <T>(p: Promise<T>): Promise<T> => new Promise((r) => setTimeout(r, ms)).then(() => p);
  return {
    get: (ref, name) => later(client.get(ref, name)),
    list: (ref, opts) => later(client.list(ref, opts)),
    create: (ref, obj) => client.create(ref, obj),
    mergePatch: (ref, name, patch) => client.mergePatch(ref, name, patch),
    mergePatchStatus: (ref, name, patch) => client.mergePatchStatus(ref, name, patch),
    watch: (ref, opts, onEvent, onDone) => client.watch(ref, opts, onEvent, onDone),
  } as AgentClient;
}

describe('agent on a fresh board with a target already written', () => {
  let dir: string;
  let client: FakeClient;
  let sim: SimulatedNode;
  let agent: NodeAgent | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haein-fresh-'));
    client = new FakeClient();
    await client.create(RESOURCES.node, { metadata: { name: 'gpu-node' } });
    await client.create(RESOURCES.gpuNode, { metadata: { name: 'gpu-node' }, spec: { gpus: TARGET } });
    sim = (await SimulatedNode.open({ node: 'gpu-node', model: modelForProduct('NVIDIA-B200')!, gpuCount: 8, reconfigureDelayMs: 5 })).sim;
  });
  afterEach(async () => {
    await agent?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('never advertises a GPU the target carves as a whole device to the kubelet', async () => {
    const kubelet = new FakeKubelet(dir);
    await kubelet.start();
    const plugins = new DevicePluginManager({ dir, pollIntervalMs: 50 });
    plugins.start();
    const carved = new Set(sim.gpus().filter((g) => g.index < 6).map((g) => g.uuid));
    try {
      agent = new NodeAgent({ sim, client: slowReads(client, 150), devicePlugins: plugins });
      await agent.start();
      const mig = await kubelet.waitForConnection(MIG);
      await mig.waitFor((c) => c.latest().length === 12);
      const whole = await kubelet.waitForConnection(WHOLE_GPU_RESOURCE);
      await whole.waitFor((c) => c.latest().length === 2);
      const everWhole = kubelet.connections.filter((c) => c.request.resource_name === WHOLE_GPU_RESOURCE).flatMap((c) => c.updates.flatMap((u) => u.devices.map((d) => d.ID)));
      expect(everWhole.filter((id) => carved.has(id))).toEqual([]);
    } finally {
      await agent?.stop();
      agent = undefined;
      await plugins.stop();
      await kubelet.stop();
    }
  });

  it('without a kubelet, never writes the carved GPUs into the Node capacity', async () => {
    const patches: unknown[] = [];
    const recording = slowReads(client, 150);
    const patchStatus = recording.mergePatchStatus.bind(recording);
    recording.mergePatchStatus = (ref, name, patch) => {
      if (ref.plural === RESOURCES.node.plural) patches.push(structuredClone(patch));
      return patchStatus(ref, name, patch);
    };
    agent = new NodeAgent({ sim, client: recording, patchNodeCapacity: true });
    await agent.start();
    const deadline = Date.now() + 3000;
    while (patches.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const wholeCounts = patches.map((p) => (p as { status: { capacity: Record<string, string | null> } }).status.capacity[WHOLE_GPU_RESOURCE]);
    expect(wholeCounts.length).toBeGreaterThan(0);
    expect(wholeCounts.filter((n) => n !== '2')).toEqual([]);
  });
});
