import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GpuNode } from '../../../src/api/types.js';
import { silentLog } from '../../../src/device-plugin/log.js';
import { RESOURCES } from '../../../src/k8s/client.js';
import { type NodeAgentConfig, parseConfig } from '../../../src/node-agent/config.js';
import { NodeAgentRunner } from '../../../src/node-agent/runner.js';
import { FakeClient } from './fake-client.js';

async function until(pred: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('NodeAgentRunner serving many simulated nodes', () => {
  let dir: string;
  let client: FakeClient;
  let runner: NodeAgentRunner | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haein-runner-'));
    client = new FakeClient();
    for (const name of ['sim-0', 'sim-1', 'sim-2']) {
      await client.create(RESOURCES.node, { metadata: { name, labels: { type: name === 'sim-2' ? 'real' : 'kwok' } }, status: { capacity: {} } });
    }
  });
  afterEach(async () => {
    await runner?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const config = (argv: string[]): NodeAgentConfig =>
    parseConfig([...argv, '--no-device-plugin', '--state-dir', dir, '--reconfigure-delay-ms', '1', '--model', 'NVIDIA-GB200', '--gpus', '4'], {}) as NodeAgentConfig;

  it('serves the nodes a label selector picks, with per-rack cliques and one state file each', async () => {
    runner = new NodeAgentRunner(config(['--node-selector', 'type=kwok', '--nodes-per-clique', '1', '--clique', 'nvl72.0']), client, silentLog);
    await runner.start();
    expect(runner.ready()).toBe(true);
    const a = (await client.get<GpuNode>(RESOURCES.gpuNode, 'sim-0'))!;
    const b = (await client.get<GpuNode>(RESOURCES.gpuNode, 'sim-1'))!;
    expect(await client.get<GpuNode>(RESOURCES.gpuNode, 'sim-2')).toBeUndefined();
    expect([a.status?.inventory?.clique, b.status?.inventory?.clique]).toEqual(['nvl72.0', 'nvl72.1']);
    expect(a.status?.inventory).toMatchObject({ product: 'NVIDIA-GB200', gpuCount: 4 });
    const node = (await client.get<{ status: { capacity: Record<string, string> } }>(RESOURCES.node, 'sim-1'))!;
    expect(node.status.capacity['nvidia.com/gpu']).toBe('4');
  });

  it('marks devices in use from the running pods bound to each node', async () => {
    runner = new NodeAgentRunner(config(['--nodes', 'sim-0,sim-1']), client, silentLog);
    await runner.start();
    await client.create(RESOURCES.pod, {
      metadata: { name: 'trainer', namespace: 'default' },
      spec: { nodeName: 'sim-1', containers: [{ resources: { limits: { 'nvidia.com/gpu': '3' } } }] },
      status: { phase: 'Running' },
    });
    await client.create(RESOURCES.pod, {
      metadata: { name: 'done', namespace: 'default' },
      spec: { nodeName: 'sim-0', containers: [{ resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
      status: { phase: 'Succeeded' },
    });
    const inUse = async (n: string) => ((await client.get<GpuNode>(RESOURCES.gpuNode, n))!.status?.gpus ?? []).filter((g) => g.inUse).length;
    await until(async () => (await inUse('sim-1')) === 3);
    expect(await inUse('sim-0')).toBe(0);
  });
});
