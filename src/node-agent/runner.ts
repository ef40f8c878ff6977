import { join } from 'node:path';
import { PodResourcesClient } from '../device-plugin/pod-resources-client.js';
import { DevicePluginManager } from '../device-plugin/plugin-manager.js';
import type { Log } from '../device-plugin/log.js';
import { RESOURCES } from '../k8s/client.js';
import { modelForProduct } from '../placement/catalog.js';
import { type AgentClient, NodeAgent } from './agent.js';
import { cliqueFor, type NodeAgentConfig } from './config.js';
import { NodeAgentMetrics } from './metrics.js';
import type { PodLike } from './pod-devices.js';

/** A running pod as the runner lists it. */
type ServedPod = PodLike & { metadata?: { namespace?: string; name?: string; uid?: string }; spec?: { nodeName?: string } };
import { SimulatedNode } from './simulated-gpu.js';

/** The API calls the runner needs on top of the agent's: listing Nodes for `--node-selector`. */
export type RunnerClient = AgentClient & Pick<import('../k8s/client.js').KubeClient, 'list'>;

interface Served {
  agent: NodeAgent;
  plugins?: DevicePluginManager;
  podResources?: PodResourcesClient;
}

const SELECTOR_RELIST_MS = 30_000;
const SELECTOR_RETRY_MS = 3_000;
const POD_POLL_MS = 2_000;

/**
 * Runs one {@link NodeAgent} per served node: a single node with its kubelet device plugins, or many
 * kubelet-less simulated nodes (`--nodes`, `--node-selector`) that publish their devices as Node capacity.
 */
export class NodeAgentRunner {
  private readonly served = new Map<string, Served>();
  /** Metrics of every agent this process runs. */
  readonly metrics = new NodeAgentMetrics();
  private readonly positions = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private podTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private started = false;

  constructor(
    private readonly config: NodeAgentConfig,
    private readonly client: RunnerClient,
    private readonly log: Log,
  ) {
    if (!modelForProduct(config.model)) throw new Error(`unknown GPU model '${config.model}'`);
  }

  /** Starts the agents; resolves when each has finished its first reconcile. */
  async start(): Promise<void> {
    if (this.config.nodeSelector) {
      // An unreachable API server at start is retried sooner than the regular relist, never fatal.
      const sync = async (): Promise<number> => {
        try {
          await this.syncSelected();
          return SELECTOR_RELIST_MS;
        } catch (err) {
          this.log.error('Listing selected nodes failed; retrying', { selector: this.config.nodeSelector, err: String(err) });
          return SELECTOR_RETRY_MS;
        }
      };
      const loop = (delay: number): void => {
        this.timer = setTimeout(() => {
          void sync().then((next) => {
            if (!this.stopped) loop(next);
          });
        }, delay);
      };
      loop(await sync());
    } else {
      this.config.nodes.forEach((n, i) => this.positions.set(n, i));
      await Promise.all(this.config.nodes.map((n) => this.startNode(n)));
    }
    if (!this.config.devicePlugin) this.pollPods();
    this.started = true;
  }

  /**
   * Kubelet-less nodes: one list of running pods for all served nodes every couple of seconds (not one per
   * node), handed to each node's agent so it can say which pod holds which device.
   */
  private pollPods(): void {
    const tick = async (): Promise<void> => {
      try {
        const { items } = await this.client.list<ServedPod>(RESOURCES.pod, { fieldSelector: 'status.phase=Running' });
        const byNode = new Map<string, ServedPod[]>();
        for (const pod of items) {
          const node = pod.spec?.nodeName;
          if (!node || !this.served.has(node)) continue;
          const list = byNode.get(node);
          if (list) list.push(pod);
          else byNode.set(node, [pod]);
        }
        await Promise.all([...this.served].map(([node, s]) => s.agent.observePods(byNode.get(node) ?? [])));
      } catch (err) {
        this.log.warn('Listing running pods for in-use failed', { err: String(err) });
      }
    };
    const loop = (): void => {
      this.podTimer = setTimeout(() => {
        void tick().finally(() => {
          if (!this.stopped) loop();
        });
      }, POD_POLL_MS);
    };
    loop();
  }

  /** Whether every served node finished its first reconcile. */
  ready(): boolean | string {
    if (!this.started) return 'starting';
    const waiting = [...this.served].filter(([, s]) => !s.agent.isReady()).map(([n]) => n);
    return waiting.length === 0 ? true : `not ready: ${waiting.slice(0, 5).join(', ')}`;
  }

  /** Stops every agent and device plugin. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.podTimer) clearTimeout(this.podTimer);
    await Promise.all([...this.served.keys()].map((n) => this.stopNode(n)));
  }

  private async syncSelected(): Promise<void> {
    const { items } = await this.client.list<{ metadata: { name: string } }>(RESOURCES.node, { labelSelector: this.config.nodeSelector });
    const names = items.map((n) => n.metadata.name).sort();
    // Clique positions follow the sorted name order and stay fixed once assigned.
    for (const n of names) if (!this.positions.has(n)) this.positions.set(n, this.positions.size);
    await Promise.all(names.filter((n) => !this.served.has(n)).map((n) => this.startNode(n)));
    await Promise.all([...this.served.keys()].filter((n) => !names.includes(n)).map((n) => this.stopNode(n)));
  }

  private async startNode(node: string): Promise<void> {
    const c = this.config;
    const model = modelForProduct(c.model)!;
    const log = this.log;
    const { sim, recovery } = await SimulatedNode.open({
      node,
      model,
      gpuCount: c.gpus,
      stateFile: c.stateFile ?? join(c.stateDir, `${node}.json`),
      reconfigureDelayMs: c.reconfigureDelayMs,
      log,
    });
    if (recovery.state !== 'fresh' || recovery.journal !== 'fresh') log.info('Loaded GPU state', { node, ...recovery });
    // Allocate calls reach the agent created just below.
    const late: { agent?: NodeAgent } = {};
    const plugins = c.devicePlugin
      ? new DevicePluginManager({
          dir: c.devicePluginDir,
          log,
          onAllocate: (_resource, ids) => late.agent?.noteAllocated(ids),
          preference: () => late.agent?.devicePreferences(),
          onRegistered: (resource) => this.metrics.registrations.labels(resource).inc(),
        })
      : undefined;
    const podResources = c.devicePlugin ? new PodResourcesClient(c.podResourcesSocket) : undefined;
    const agent = new NodeAgent({
      sim,
      client: this.client,
      clique: cliqueFor(c, this.positions.get(node) ?? 0),
      nvlinkGroupSize: c.nvlinkGroupSize,
      devicePlugins: plugins,
      patchNodeCapacity: !c.devicePlugin,
      podResources,
      podResourcesIntervalMs: c.podResourcesIntervalMs,
      log,
      metrics: this.metrics,
    });
    late.agent = agent;
    this.served.set(node, { agent, plugins, podResources });
    plugins?.start();
    await agent.start();
    log.info('Serving node', { node, gpus: c.gpus, model: model.product, devicePlugin: c.devicePlugin });
  }

  private async stopNode(node: string): Promise<void> {
    const s = this.served.get(node);
    if (!s) return;
    this.served.delete(node);
    await s.agent.stop();
    await s.plugins?.stop();
    s.podResources?.close();
  }
}
