/**
 * A node agent wired to a fake API server, a fake kubelet (device manager + PodResources) and real gRPC over
 * unix sockets in a temp dir: the set-up of the agent tests that go through the device plugins.
 */
import { join } from 'node:path';
import type { Log } from '../../../src/device-plugin/log.js';
import { PodResourcesClient } from '../../../src/device-plugin/pod-resources-client.js';
import { DevicePluginManager } from '../../../src/device-plugin/plugin-manager.js';
import { RESOURCES } from '../../../src/k8s/client.js';
import { NodeAgent } from '../../../src/node-agent/agent.js';
import { SimulatedNode } from '../../../src/node-agent/simulated-gpu.js';
import { modelForProduct } from '../../../src/placement/catalog.js';
import { FakeKubelet } from '../device-plugin/fake-kubelet.js';
import { FakePodResources } from '../device-plugin/fake-pod-resources.js';
import { FakeClient } from './fake-client.js';

/** Options of {@link KubeletRig.start}. */
export interface KubeletRigOptions {
  /** GpuNode spec present before the agent starts (none: the agent creates the GpuNode). */
  spec?: object;
  reconfigureDelayMs?: number;
  podResourcesIntervalMs?: number;
  log?: Log;
}

/** One node `gpu-node` of 8 B200s with its agent, plugins, fake kubelet and PodResources; `stop()` tears down. */
export class KubeletRig {
  kubelet!: FakeKubelet;
  podResources!: FakePodResources;
  client!: FakeClient;
  sim!: SimulatedNode;
  agent!: NodeAgent;
  stateFile!: string;
  private prClient!: PodResourcesClient;
  private plugins!: DevicePluginManager;

  /** Starts everything in `dir`; resolves once the agent finished its first pass. */
  async start(dir: string, opts: KubeletRigOptions = {}): Promise<this> {
    this.kubelet = new FakeKubelet(dir);
    await this.kubelet.start();
    this.podResources = new FakePodResources(join(dir, 'pod-resources.sock'));
    await this.podResources.start();
    this.prClient = new PodResourcesClient(this.podResources.socketPath);
    this.client = new FakeClient();
    await this.client.create(RESOURCES.node, { metadata: { name: 'gpu-node' } });
    if (opts.spec) await this.client.create(RESOURCES.gpuNode, { metadata: { name: 'gpu-node' }, spec: opts.spec });
    this.stateFile = join(dir, 'state.json');
    const model = modelForProduct('NVIDIA-B200')!;
    this.sim = (await SimulatedNode.open({ node: 'gpu-node', model, gpuCount: 8, stateFile: this.stateFile, reconfigureDelayMs: opts.reconfigureDelayMs ?? 50, log: opts.log })).sim;
    const late: { agent?: NodeAgent } = {};
    this.plugins = new DevicePluginManager({ dir, pollIntervalMs: 100, log: opts.log, onAllocate: (_r, ids) => late.agent?.noteAllocated(ids) });
    this.plugins.start();
    this.agent = new NodeAgent({
      sim: this.sim,
      client: this.client,
      devicePlugins: this.plugins,
      podResources: this.prClient,
      podResourcesIntervalMs: opts.podResourcesIntervalMs ?? 50,
      log: opts.log,
    });
    late.agent = this.agent;
    await this.agent.start();
    return this;
  }

  async stop(): Promise<void> {
    await this.agent.stop();
    await this.plugins.stop();
    this.prClient.close();
    this.podResources.stop();
    await this.kubelet.stop();
  }
}
