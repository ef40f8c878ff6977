/**
 * Set-up shared by the controller integration suites: a test namespace on the local control plane, this
 * suite's simulated GPU nodes (labelled so that only its own objects select them), the simulated node agent,
 * and the operator running in-process; `stop()` takes down whatever was started, in reverse order.
 */
import winston from 'winston';
import { forEachLimit } from '../../bench/scale/pool.js';
import { registerControllers, type OperatorControllers, type OperatorSetupOptions } from '../../src/controllers/operator-setup.js';
import { KubeClient } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { Manager, type ManagerOptions } from '../../src/runtime/manager.js';
import { FakeAgent, createGpuNode } from '../integration/controllers/fake-agent.js';
import { createTestNamespace, getKubeConfig, installCrds, type TestNamespace } from './cluster.js';
import { stopBackgroundPolls } from './background-poll.js';

/** The simulated nodes of a suite. */
export interface HarnessNodes {
  /** How many nodes (named `<namespace>-n0`, `-n1`, …). */
  count: number;
  /** GPUs per node. */
  gpus: number;
  /** Put every node in one NVLink domain (`<namespace>.0`). */
  oneClique?: boolean;
}

/** A running stand-in for the node agent. */
export interface SimulatedAgent {
  stop(): void;
}

/**
 * Manager options a suite may set; the rest are fixed for in-process tests (no health server, no signals).
 * `shutdownTimeoutMs: 0` makes `stop()` an abrupt one: in-flight reconciles are not waited for.
 */
export type HarnessManagerOptions = Pick<ManagerOptions, 'leaderElection' | 'onLostLeadership' | 'shutdownTimeoutMs'>;

/**
 * One suite's share of the control plane. Fields are set by {@link OperatorHarness.setUp}; a set-up that fails
 * half-way still leaves `stop()` able to clean up what was made.
 */
export class OperatorHarness {
  /** Client of the local control plane. */
  client!: KubeClient;
  /** The suite's namespace. */
  ns!: TestNamespace;
  /** Labels on the suite's nodes; the suite's objects select them with this node selector. */
  selector!: Record<string, string>;
  /** Names of the suite's simulated nodes. */
  nodeNames: string[] = [];
  /** The simulated node agent, once started. */
  agent: SimulatedAgent | undefined;
  readonly #managers: Manager[] = [];
  /** What `registerControllers` returned for each operator (admission cycle, metering, informers). */
  readonly controllers = new Map<Manager, OperatorControllers>();

  /** Installs the CRDs, creates the namespace (`prefix-…`) and the simulated nodes. */
  async setUp(prefix: string, nodes: HarnessNodes): Promise<this> {
    this.client = new KubeClient(getKubeConfig());
    await installCrds();
    this.ns = await createTestNamespace(prefix);
    // GpuNodes are cluster-scoped and shared with other suites: this suite's nodes carry its own label.
    this.selector = { 'haein.dev/suite': this.ns.name };
    this.nodeNames = [...Array(nodes.count).keys()].map((i) => `${this.ns.name}-n${i}`);
    for (const n of this.nodeNames) await createGpuNode(this.client, n, nodes.gpus, this.selector, nodes.oneClique ? `${this.ns.name}.0` : undefined);
    return this;
  }

  /** Starts the simulated node agent on the suite's nodes (`trackPods`: it reports the slices running pods hold). */
  startAgent(opts: { trackPods?: boolean } = {}): FakeAgent {
    const agent = new FakeAgent(this.client, this.nodeNames, 200, opts);
    agent.start();
    this.agent = agent;
    return agent;
  }

  /** Adopts a suite's own simulated agent (already running), to be stopped with the rest. */
  useAgent(agent: SimulatedAgent): void {
    this.agent = agent;
  }

  /**
   * An operator (manager with every controller), not started yet. It watches the suite's namespace, or every
   * namespace with `setup.clusterWide` (suites that span namespaces, e.g. tenants; suites run one at a time).
   */
  addOperator(options: HarnessManagerOptions = {}, setup: { clusterWide?: boolean } & Pick<OperatorSetupOptions, 'unassignedNamespaces' | 'metering'> = {}): Manager {
    const logger = winston.createLogger({ silent: !process.env.HAEIN_TEST_LOGS, transports: [new winston.transports.Console()] });
    const manager = new Manager({ client: this.client, health: false, leaderElection: false, handleSignals: false, logger, ...options });
    const { clusterWide, ...rest } = setup;
    this.controllers.set(manager, registerControllers(manager, this.client, { ...(clusterWide ? {} : { namespace: this.ns.name }), logger, ...rest }));
    this.#managers.push(manager);
    return manager;
  }

  /** Starts one operator without leader election. */
  async startOperator(): Promise<Manager> {
    const manager = this.addOperator();
    await manager.start();
    return manager;
  }

  /** Stops the operators and the agent, deletes the suite's nodes and its namespace. */
  async stop(): Promise<void> {
    // A test that failed half-way leaves its samplers running.
    await stopBackgroundPolls();
    for (const m of this.#managers) await m.stop();
    this.agent?.stop();
    await this.dropFinalizers();
    for (const n of this.nodeNames) {
      await this.client.delete(RESOURCES.gpuNode, n).catch(() => undefined);
      await this.client.delete(RESOURCES.node, n).catch(() => undefined);
    }
    await this.ns?.cleanup();
  }

  /**
   * With its operators stopped, nothing would remove the finalizers of the suite's partitions and jobs: its
   * namespace would stay Terminating and the next cluster-wide operator (a later suite's) would first have to
   * work through hundreds of leftovers. They are dropped here instead; the suite's nodes go with them.
   */
  private async dropFinalizers(): Promise<void> {
    if (!this.ns) return;
    for (const ref of [RESOURCES.gpuPartition, RESOURCES.trainingJob]) {
      const items = (await this.client.list<{ metadata: { name: string; finalizers?: string[] } }>(ref, { namespace: this.ns.name }).catch(() => ({ items: [] }))).items;
      const held = items.filter((o) => (o.metadata.finalizers ?? []).length > 0);
      await forEachLimit(held, 16, (o) => this.client.mergePatch(ref, o.metadata.name, { metadata: { finalizers: null } }, this.ns!.name).then(() => undefined, () => undefined));
    }
  }
}
