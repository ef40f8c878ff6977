import { API_VERSION } from '../api/constants.js';
import type { Condition, GpuNode, GpuNodeStatus } from '../api/types.js';
import { type Log, silentLog } from '../device-plugin/log.js';
import type { PodRef } from '../api/types.js';
import type { HeldDevices, PodResourcesReport } from '../device-plugin/pod-resources-client.js';
import type { DevicePluginManager } from '../device-plugin/plugin-manager.js';
import type { PluginDevice } from '../device-plugin/plugin-server.js';
import { Backoff } from '../k8s/backoff.js';
import type { KubeClient, WatchEventType, WatchHandle } from '../k8s/client.js';
import { RESOURCES, isAlreadyExists, isNotFound } from '../k8s/client.js';
import { isGone } from '../k8s/errors.js';
import { healthyCounts, pluginDevices } from './device-inventory.js';
import { CONDITIONS, gpuInventory, realisedGpus, setCondition } from './gpu-node-status.js';
import { InUseTracker, assignPodDevices, claimedDevices, doomedDevices } from './in-use-tracker.js';
import type { NodeAgentMetrics } from './metrics.js';
import { podDeviceRequests, type PodLike } from './pod-devices.js';
import { planRealisation, realiseLayout } from './layout-realiser.js';
import { nodeLabels } from './node-labels.js';
import type { SimulatedNode } from './simulated-gpu.js';
import type { DevicePreference } from '../device-plugin/preferred-allocation.js';

/** The Kubernetes calls the agent makes; a `KubeClient` provides them, tests pass a fake. */
export type AgentClient = Pick<KubeClient, 'get' | 'list' | 'create' | 'mergePatch' | 'mergePatchStatus' | 'watch'>;

/** Settings of one node's agent. */
export interface NodeAgentOptions {
  sim: SimulatedNode;
  client: AgentClient;
  /** NVLink domain label value `<clusterUUID>.<cliqueID>`. */
  clique?: string;
  /** GPUs per NVLink group on the node (default: all). */
  nvlinkGroupSize?: number;
  /** Kubelet device plugins; absent for a simulated (KWOK) node with no kubelet. */
  devicePlugins?: DevicePluginManager;
  /** Write the extended resources into the Node's status capacity/allocatable (no kubelet does it). */
  patchNodeCapacity?: boolean;
  /** Source of held devices (the kubelet's PodResources API); with `report`, also of the pods holding them. */
  podResources?: { list(): Promise<HeldDevices>; report?(): Promise<PodResourcesReport> };
  podResourcesIntervalMs?: number;
  /** Full re-check of the GpuNode even without events; default 30 s. */
  resyncIntervalMs?: number;
  /** How long an Allocate counts as "in use" before PodResources confirms it; default 30 s. */
  allocateGraceMs?: number;
  /** Watch restart backoff after errors; default 500 ms → 30 s with jitter 0.5. */
  watchBackoff?: { baseMs?: number; maxMs?: number };
  /** Server-side watch timeout; default a random 240–300 s, so that many nodes' watches do not end together. */
  watchTimeoutSeconds?: number;
  log?: Log;
  metrics?: NodeAgentMetrics;
}

const RETRY_MS = 2000;
/** A watch that ends sooner than this after it started counts as a failure (it would otherwise spin). */
const MIN_WATCH_MS = 1000;
const MAX_RETRY_MS = 30_000;

/** Capped exponential delay after `failures` consecutive failures: 2 s, 4 s, … 30 s. */
function retryDelay(failures: number): number {
  return Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** Math.max(0, failures - 1));
}

/**
 * GpuNode annotation that injects simulated GPU failures: a comma-separated list of GPU indices that are
 * Unhealthy (e.g. `"1,3"`); removing it or listing fewer GPUs heals the others. Acted on when it changes.
 */
export const FAILED_GPUS_ANNOTATION = 'gpu.haein.dev/simulate-failed-gpus';

/**
 * The node agent for one node: publishes the GPU inventory (GpuNode status and GFD-style Node labels),
 * realises the GpuNode's target layout on the simulated GPUs, advertises the devices through the device
 * plugins (or the Node's capacity when there is no kubelet), keeps in-use flags current from the kubelet's
 * PodResources API and reports everything in the GpuNode status.
 */
export class NodeAgent {
  readonly node: string;
  private readonly o: NodeAgentOptions;
  private readonly log: Log;
  private readonly tracker: InUseTracker;
  private gpuNode: GpuNode | undefined;
  private conditions: Condition[] = [];
  private lastReconfiguration: GpuNodeStatus['lastReconfiguration'];
  private observedGeneration: number | undefined;
  private lastStatus = '';
  private lastCapacity = '';
  private publishedResources = new Set<string>();
  private labelled = false;
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  private ready = false;
  /**
   * Whether a reconcile pass has read the GpuNode's target and acted on it. Until then nothing is advertised:
   * a fresh board is all whole GPUs, and the kubelet could hand one out just before the target carves it.
   */
  private targetRead = false;
  private watch: WatchHandle | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private devicesChain: Promise<void> = Promise.resolve();
  private podResourcesFailing = false;
  private failedGpusSeen: string | undefined;
  private unsubscribe: (() => void) | undefined;
  private reconcileFailures = 0;
  /** Resource version the next watch resumes from: the last list's, event's or bookmark's. */
  private watchRv: string | undefined;
  /** Incremented per watch; callbacks of an older watch are ignored. */
  private watchEpoch = 0;
  private readonly watchBackoff: Backoff;
  /** Consecutive watch failures (410s, errors, immediate ends) since the last healthy watch. */
  private watchFailures = 0;

  constructor(opts: NodeAgentOptions) {
    this.o = opts;
    this.node = opts.sim.node;
    this.log = opts.log ?? silentLog;
    this.tracker = new InUseTracker(opts.allocateGraceMs ?? 30_000);
    this.watchBackoff = new Backoff({ baseMs: 500, maxMs: 30_000, jitter: 0.5, ...opts.watchBackoff });
  }

  /** Whether a reconcile has completed (inventory and status published at least once). */
  isReady(): boolean {
    return this.ready;
  }

  /**
   * Starts watching the GpuNode, realises its current target, then publishes inventory and devices. Devices
   * are first advertised once the first pass has read the target and realised it (or refused it).
   */
  async start(): Promise<void> {
    this.unsubscribe = this.o.sim.onChange(() => this.onHardwareChange());
    await this.startWatch(true);
    if (this.o.podResources) this.every(this.o.podResourcesIntervalMs ?? 1000, () => this.pollPodResources());
    this.every(this.o.resyncIntervalMs ?? 30_000, () => this.trigger());
    await this.trigger();
    await this.devicesChain;
  }

  /** Stops watching, lets an in-flight reconfiguration finish and reports `AgentReady=False`. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.watch?.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.running;
    await this.devicesChain;
    try {
      this.conditions = setCondition(
        this.conditions,
        { type: CONDITIONS.agentReady, status: 'False', reason: 'Stopped', message: 'node agent shut down' },
        new Date(),
      );
      await this.writeStatus();
    } catch (err) {
      this.log.warn('Could not report shutdown in status', { node: this.node, err: String(err) });
    }
  }

  /**
   * How willingly the device plugin hands out each device now (GetPreferredAllocation): 0 reserved in the ledger,
   * 1 spare, 2 doomed by the target layout — the order the kubelet-less path assigns devices in.
   */
  devicePreferences(): DevicePreference {
    const target = this.gpuNode?.spec?.gpus;
    const gpus = this.o.sim.gpus();
    const doomed = doomedDevices(gpus, target);
    const claimed = claimedDevices(gpus, target);
    return (id) => (doomed.has(id) ? 2 : claimed.has(id) ? 0 : 1);
  }

  /** Devices handed out by the device plugins' Allocate: in use until PodResources says otherwise. */
  noteAllocated(deviceIds: string[]): void {
    this.tracker.allocated(deviceIds);
    void this.o.sim.setHeld(this.tracker.held()).catch((err: unknown) => this.log.error('Recording allocation failed', { err: String(err) }));
  }

  /**
   * Kubelet-less nodes: the node's running pods. No device manager hands out devices there, so the agent
   * gives each pod the devices it asks for (a pod keeps what it held) and records them as in use, so the
   * status can say which pod holds which device.
   */
  async observePods(pods: ReadonlyArray<PodLike & { metadata?: { namespace?: string; name?: string; uid?: string } }>): Promise<void> {
    const { sim } = this.o;
    const devices = pluginDevices(sim.gpus(), { gpuCount: sim.gpus().length, nvlinkGroupSize: this.o.nvlinkGroupSize });
    const demands = pods
      .filter((p) => p.metadata?.namespace && p.metadata.name)
      .map((p) => {
        const { namespace, name, uid } = p.metadata as { namespace: string; name: string; uid?: string };
        const pod: PodRef = { namespace, name, ...(uid ? { uid } : {}) };
        return { pod, need: podDeviceRequests(p) };
      });
    const held = sim.heldDeviceIds();
    // Who held what: this process's last assignment, else the journal's (after a restart), so a running pod
    // keeps its device as it would under a kubelet.
    const previous = new Map([...held].flatMap((id) => {
      const pod = this.tracker.podOf(id) ?? sim.heldPod(id);
      return pod ? [[id, pod] as const] : [];
    }));
    const target = this.gpuNode?.spec?.gpus;
    const owners = assignPodDevices(demands, devices, previous, held, doomedDevices(sim.gpus(), target), claimedDevices(sim.gpus(), target));
    const changed = this.tracker.observe(new Set(owners.keys()), owners);
    // A new pod on an already-held device changes no hardware state, only the status.
    if (!(await sim.setHeld(this.tracker.held(), 'replace', (id) => owners.get(id))) && changed) void this.trigger();
  }

  /** Requests a reconcile; concurrent requests coalesce into one more pass. Resolves when the loop is idle. */
  trigger(): Promise<void> {
    this.dirty = true;
    if (!this.running) this.running = this.loop();
    return this.running;
  }

  private async loop(): Promise<void> {
    // Yield first, so `running` is set before any work: a watch event delivered synchronously during the
    // first pass must join this loop, not start a second one.
    await Promise.resolve();
    try {
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        try {
          await this.reconcile();
          this.reconcileFailures = 0;
        } catch (err) {
          // An API server without the CRDs yet, or unreachable, must not flood the log: back off.
          const delay = retryDelay(++this.reconcileFailures);
          this.log.error('Node agent reconcile failed; retrying', {
            node: this.node,
            retryInMs: delay,
            err: String(err),
            cause: String((err as Error).cause ?? ''),
          });
          this.after(delay, () => this.trigger());
        }
      }
    } finally {
      // Same microtask as the last `dirty` check: a trigger cannot slip in between and be lost.
      this.running = undefined;
    }
  }

  private async reconcile(): Promise<void> {
    if (!this.gpuNode) await this.ensureGpuNode();
    if (!this.labelled) await this.labelNode();
    const obj = this.gpuNode!;
    await this.applyInjectedFailures(obj.metadata.annotations?.[FAILED_GPUS_ANNOTATION]);
    const generation = obj.metadata.generation ?? 0;
    const target = obj.spec?.gpus;
    const { sim } = this.o;
    const plan = planRealisation(sim.model, sim.currentLayout(), target);

    if (plan.ok && plan.steps.length > 0) {
      this.conditions = setCondition(
        this.conditions,
        {
          type: CONDITIONS.layoutRealised,
          status: 'False',
          reason: 'Reconfiguring',
          message: `applying ${plan.steps.length} change(s) for generation ${generation}`,
          observedGeneration: generation,
        },
        new Date(),
      );
      await this.writeStatus();
      const startedAt = new Date();
      const result = await realiseLayout(sim.model, sim.currentLayout(), target, (step) => sim.apply(step));
      const finishedAt = new Date();
      if (result.applied > 0) {
        this.lastReconfiguration = {
          generation,
          startedAt: startedAt.toISOString(),
          finishedAt: finishedAt.toISOString(),
          durationSeconds: result.durationMs / 1000,
        };
      }
      this.log.info('Reconfiguration finished', {
        node: this.node,
        generation,
        outcome: result.outcome,
        steps: result.applied,
        durationMs: result.durationMs,
      });
      const reason = result.outcome === 'Failed' ? 'ReconfigurationFailed' : result.outcome;
      this.o.metrics?.reconfiguration.labels(this.node, result.outcome).observe(result.durationMs / 1000);
      this.setLayoutCondition(result.outcome === 'Realised', reason, result.message, generation);
      // A failed step (the simulated hardware refused) is retried; refusals wait for the spec or in-use to change.
      if (result.outcome === 'Failed') this.after(RETRY_MS, () => this.trigger());
    } else if (!plan.ok) {
      const known = this.conditions.find((c) => c.type === CONDITIONS.layoutRealised);
      if (known?.reason !== plan.reason || known.observedGeneration !== generation) this.o.metrics?.refusals.labels(this.node, plan.reason).inc();
      this.setLayoutCondition(false, plan.reason, plan.message, generation);
    } else {
      this.setLayoutCondition(true, 'Realised', `layout of generation ${generation} is realised`, generation);
    }
    this.observedGeneration = generation;
    if (!this.targetRead) {
      this.targetRead = true;
      void this.publishDevices();
    }
    const served = this.o.devicePlugins ? `device plugins for ${this.o.devicePlugins.resources().length} resource(s)` : 'node capacity patched directly';
    this.conditions = setCondition(
      this.conditions,
      {
        type: CONDITIONS.agentReady,
        status: 'True',
        reason: 'Ready',
        message: `${sim.gpus().length} × ${sim.model.product}; ${served}`,
      },
      new Date(),
    );
    await this.writeStatus();
    this.ready = true;
  }

  private async applyInjectedFailures(value: string | undefined): Promise<void> {
    if (value === this.failedGpusSeen) return;
    this.failedGpusSeen = value;
    const failed = new Set((value ?? '').split(',').map((x) => x.trim()).filter(Boolean).map(Number));
    for (const g of this.o.sim.gpus()) await this.o.sim.setHealth(g.index, failed.has(g.index) ? 'Unhealthy' : 'Healthy');
    this.log.info('Applied injected GPU failures', { node: this.node, failed: [...failed] });
  }

  private setLayoutCondition(ok: boolean, reason: string, message: string, generation: number): void {
    const condition = { type: CONDITIONS.layoutRealised, status: ok ? 'True' : 'False', reason, message, observedGeneration: generation } as const;
    this.conditions = setCondition(this.conditions, condition, new Date());
    if (!ok) this.log.warn('Target layout not realised', { node: this.node, reason, detail: message });
  }

  private async ensureGpuNode(): Promise<void> {
    let obj = await this.o.client.get<GpuNode>(RESOURCES.gpuNode, this.node);
    if (!obj) {
      try {
        obj = await this.o.client.create<GpuNode>(RESOURCES.gpuNode, {
          apiVersion: API_VERSION,
          kind: 'GpuNode',
          metadata: { name: this.node },
          spec: {},
        });
        this.log.info('Created GpuNode', { node: this.node });
      } catch (err) {
        if (!isAlreadyExists(err)) throw new Error(`creating GpuNode ${this.node}`, { cause: err });
        obj = await this.o.client.get<GpuNode>(RESOURCES.gpuNode, this.node);
      }
    }
    if (!obj) throw new Error(`GpuNode ${this.node} vanished while being created`);
    this.adopt(obj);
  }

  /** Takes a fresh copy of the GpuNode (read, listed or from the watch) as the current one. */
  private adopt(obj: GpuNode): void {
    // After an agent restart, carry on from the published status: transition times and the last
    // reconfiguration stay meaningful.
    if (this.conditions.length === 0 && obj.status?.conditions) this.conditions = obj.status.conditions;
    if (!this.lastReconfiguration && obj.status?.lastReconfiguration) this.lastReconfiguration = obj.status.lastReconfiguration;
    // Only a re-created object (new uid) has lost what we wrote; a re-read of the same one has not.
    if (this.gpuNode?.metadata.uid !== obj.metadata.uid || !obj.status) this.lastStatus = '';
    this.gpuNode = obj;
  }

  private async labelNode(): Promise<void> {
    const { sim } = this.o;
    const labels = nodeLabels(gpuInventory(sim.model, sim.gpus().length, this.o.clique));
    try {
      await this.o.client.mergePatch(RESOURCES.node, this.node, { metadata: { labels } });
      this.labelled = true;
    } catch (err) {
      if (!isNotFound(err)) throw new Error(`labelling Node ${this.node}`, { cause: err });
      this.log.warn('Node object not found yet; labels will be retried', { node: this.node });
    }
  }

  private async writeStatus(): Promise<void> {
    const { sim } = this.o;
    const status: GpuNodeStatus = {
      ...(this.observedGeneration === undefined ? {} : { observedGeneration: this.observedGeneration }),
      inventory: gpuInventory(sim.model, sim.gpus().length, this.o.clique),
      gpus: realisedGpus(sim.gpus(), sim.heldDeviceIds(), (id) => this.tracker.podOf(id)),
      conditions: this.conditions,
      ...(this.lastReconfiguration ? { lastReconfiguration: this.lastReconfiguration } : {}),
    };
    const json = JSON.stringify(status);
    if (json === this.lastStatus) return;
    // Nothing written to this object yet (agent restart): the published status may already be this one.
    // The server orders keys its own way, hence the order-insensitive comparison.
    if (this.lastStatus === '' && this.gpuNode?.status && canonicalJson(this.gpuNode.status) === canonicalJson(status)) {
      this.lastStatus = json;
      return;
    }
    try {
      await this.o.client.mergePatchStatus(RESOURCES.gpuNode, this.node, { status });
      this.lastStatus = json;
    } catch (err) {
      if (isNotFound(err)) {
        // Someone deleted the GpuNode: re-create it on the next pass.
        this.gpuNode = undefined;
        this.dirty = true;
        return;
      }
      throw new Error(`writing GpuNode ${this.node} status`, { cause: err });
    }
  }

  private onHardwareChange(): void {
    void this.publishDevices();
    void this.trigger();
  }

  /**
   * Sends the current devices to the device plugins (or the Node's capacity); serialised, never throws. Does
   * nothing before the target layout has been read (see {@link targetRead}).
   */
  private publishDevices(): Promise<void> {
    if (!this.targetRead) return this.devicesChain;
    const devices = pluginDevices(this.o.sim.gpus(), { gpuCount: this.o.sim.gpus().length, nvlinkGroupSize: this.o.nvlinkGroupSize });
    this.devicesChain = this.devicesChain
      .then(async () => {
        this.recordDeviceMetrics(devices);
        if (this.o.devicePlugins) await this.o.devicePlugins.update(devices);
        if (this.o.patchNodeCapacity) await this.patchCapacity(devices);
      })
      .catch((err: unknown) => {
        this.log.error('Publishing devices failed; will retry', { node: this.node, err: String(err) });
        this.after(RETRY_MS, () => {
          this.lastCapacity = '';
          void this.publishDevices();
        });
      });
    return this.devicesChain;
  }

  private recordDeviceMetrics(devices: ReadonlyMap<string, readonly PluginDevice[]>): void {
    const m = this.o.metrics;
    if (!m) return;
    m.devices.reset();
    for (const [resource, list] of devices) {
      const healthy = list.filter((d) => d.healthy).length;
      m.devices.labels(this.node, resource, 'Healthy').set(healthy);
      m.devices.labels(this.node, resource, 'Unhealthy').set(list.length - healthy);
    }
    m.held.labels(this.node).set(this.o.sim.heldDeviceIds().size);
  }

  private async patchCapacity(devices: ReadonlyMap<string, readonly PluginDevice[]>): Promise<void> {
    const counts = healthyCounts(devices);
    const json = JSON.stringify(counts);
    if (json === this.lastCapacity) return;
    const values: Record<string, string | null> = {};
    // Resources that vanished are removed with merge-patch nulls.
    for (const r of this.publishedResources) values[r] = null;
    for (const [r, n] of Object.entries(counts)) values[r] = String(n);
    try {
      await this.o.client.mergePatchStatus(RESOURCES.node, this.node, { status: { capacity: values, allocatable: values } });
    } catch (err) {
      throw new Error(`patching Node ${this.node} capacity`, { cause: err });
    }
    this.publishedResources = new Set(Object.keys(counts));
    this.lastCapacity = json;
  }

  private async pollPodResources(): Promise<void> {
    let podsChanged = false;
    try {
      const source = this.o.podResources!;
      const report = source.report ? await source.report() : { held: await source.list(), pods: new Map<string, PodRef>() };
      const ids = new Set<string>();
      for (const set of report.held.values()) for (const id of set) ids.add(id);
      podsChanged = this.tracker.observe(ids, report.pods);
      if (this.podResourcesFailing) this.log.info('PodResources API reachable again', { node: this.node });
      this.podResourcesFailing = false;
    } catch (err) {
      if (!this.podResourcesFailing) this.log.warn('PodResources API unavailable; in-use relies on Allocate', { err: String(err) });
      this.podResourcesFailing = true;
    }
    // A changed set of held devices triggers a pass through the hardware change hook; a changed pod alone does not.
    if (!(await this.o.sim.setHeld(this.tracker.held())) && podsChanged) void this.trigger();
  }

  /**
   * Watches the GpuNode from a current resource version: the list's at first and after a 410, then the
   * last event's or bookmark's. A clean end (server timeout) resumes at once; a 410 relists at once the
   * first time; errors, repeated 410s and watches that end immediately back off (capped, with jitter).
   */
  private async startWatch(relist: boolean): Promise<void> {
    if (this.stopped) return;
    const fieldSelector = `metadata.name=${this.node}`;
    if (relist || this.watchRv === undefined) {
      try {
        const listed = await this.o.client.list<GpuNode>(RESOURCES.gpuNode, { fieldSelector });
        const obj = listed.items.find((o) => o.metadata.name === this.node);
        const changed = !obj || obj.metadata.resourceVersion !== this.gpuNode?.metadata.resourceVersion;
        // A missing GpuNode is created by the next reconcile pass; the watch then sees it appear.
        if (obj) this.adopt(obj);
        else this.gpuNode = undefined;
        this.watchRv = listed.resourceVersion;
        if (changed) void this.trigger();
      } catch (err) {
        this.restartWatchLater('list-error', err);
        return;
      }
    }
    if (this.stopped) return;
    const epoch = ++this.watchEpoch;
    const startedAt = Date.now();
    let gone = false;
    let failed: unknown;
    const timeoutSeconds = this.o.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 61);
    try {
      const handle = await this.o.client.watch(
        RESOURCES.gpuNode,
        { fieldSelector, resourceVersion: this.watchRv, timeoutSeconds },
        (type: WatchEventType, obj: GpuNode) => {
          if (epoch !== this.watchEpoch) return;
          if (type === 'ERROR') {
            // The server ends the stream after an ERROR; remember why, so onDone picks the right restart.
            if (isGone(obj)) gone = true;
            else failed = new Error(`GpuNode ${this.node} watch: ${(obj as { message?: string })?.message ?? 'error event'}`, { cause: obj });
            this.watch?.abort();
            return;
          }
          const rv = obj?.metadata?.resourceVersion;
          if (rv) this.watchRv = rv;
          // Events arrive: the watch is healthy again.
          this.watchFailures = 0;
          this.watchBackoff.reset();
          if (type === 'BOOKMARK' || obj?.metadata?.name !== this.node) return;
          if (type === 'DELETED') this.gpuNode = undefined;
          else this.adopt(obj);
          void this.trigger();
        },
        (err) => {
          if (epoch !== this.watchEpoch || this.stopped) return;
          this.watch = undefined;
          if (gone || isGone(err)) this.onWatchGone();
          else if (err || failed) this.restartWatchLater('watch-error', err ?? failed);
          else if (Date.now() - startedAt < MIN_WATCH_MS) this.restartWatchLater('watch-closed', new Error('watch closed immediately'));
          else {
            this.watchFailures = 0;
            this.watchBackoff.reset();
            void this.startWatch(false);
          }
        },
      );
      if (epoch === this.watchEpoch && !this.stopped) this.watch = handle;
      else handle.abort();
    } catch (err) {
      if (epoch === this.watchEpoch) this.restartWatchLater('watch-error', err);
    }
  }

  /** 410: our resource version left the server's window. Relist at once, unless that just happened. */
  private onWatchGone(): void {
    if (this.watchFailures === 0) {
      this.watchFailures++;
      this.log.info('GpuNode watch expired; relisting', { node: this.node });
      void this.startWatch(true);
    } else {
      this.restartWatchLater('gone', new Error('resource version expired again right after a relist'));
    }
  }

  /** Relists and rewatches after the next backoff delay. */
  private restartWatchLater(reason: string, err: unknown): void {
    if (this.stopped) return;
    this.watchFailures++;
    const delay = this.watchBackoff.next();
    this.log.warn('GpuNode watch failed; restarting', { node: this.node, reason, retryInMs: delay, failures: this.watchFailures, err: String(err) });
    this.after(delay, () => this.startWatch(true));
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const tick = (): void => {
      void fn().finally(() => {
        if (!this.stopped) this.after(ms, tick);
      });
    };
    this.after(ms, tick);
  }

  private after(ms: number, fn: () => unknown): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn();
    }, ms);
    this.timers.add(t);
  }
}

/** JSON with object keys sorted at every level, for order-insensitive comparison. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
