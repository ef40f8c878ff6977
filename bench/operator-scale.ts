#!/usr/bin/env node
/**
 * Operator scale benchmark on a real control plane (kube-apiserver + KWOK). Creates `--nodes` KWOK nodes
 * served by one multi-node agent process, starts the operator, applies a seeded mix of GpuPartitions and
 * TrainingJobs, and measures: create → Ready/Running per object and in total, reconciles (operator
 * `/metrics`), API writes (kube-apiserver `/metrics`), operator memory and CPU, reconfiguration latency and
 * placement decision time; then deletes everything and measures the release. Prints a table and one final
 * JSON line, and removes what it created. Run it through hack/scale-bench.sh, which provides the cluster.
 */
// First: checks the Node.js version before any dependency loads.
import '../src/cmd/require-node.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_VERSION, JOB_LABEL } from '../src/api/constants.js';
import type { Condition, GpuNode, GpuPartition, TrainingJob } from '../src/api/types.js';
import { KubeClient, RESOURCES, isNotFound, loadKubeConfig, type KubeConfig } from '../src/k8s/client.js';
import { Informer } from '../src/k8s/informer.js';
import { writeRows, writesByWriter } from './scale/api-writes.js';
import { optionsOrExit, waitFor } from './scale/cli.js';
import { getApiText, getText } from './scale/http-get.js';
import { parseScaleArgs, USAGE, type ScaleOptions } from './scale/options.js';
import { createKwokNodes, kwokNodeNames } from './scale/kwok-nodes.js';
import { forEachLimit } from './scale/pool.js';
import { summarizeProfile, type CpuProfile } from './scale/cpu-profile.js';
import { bucketCounts, delta, histogramOf, parseProm, quantile, sumBy, sumOf, type Sample } from './scale/prom-text.js';
import { PeakTracker, cleanupOnSignals, controlPlanePids, cpuSecondsOf, exited, freePort, memoryOf, startNodeProcess, stopProcess, type Child } from './scale/processes.js';
import { renderReport, type ScaleResult } from './scale/report.js';
import { demand, planWorkload, type PlannedObject } from './scale/scale-workload.js';
import { durationsS, summarize } from './scale/stats.js';

/** Label on the benchmark's nodes (value: the node prefix); the agent serves exactly these. */
const BENCH_LABEL = 'haein.dev/scale-bench';
const MiB = 1024 * 1024;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const progress = (msg: string): void => {
  process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};


/** One benchmark run: what it started and created, and what it observed. */
class ScaleRun {
  private readonly children: Child[] = [];
  private operator: Child | undefined;
  private agent: Child | undefined;
  private operatorMetricsUrl = '';
  private readonly informers: Array<Informer<{ metadata?: { name?: string; namespace?: string } }>> = [];
  private readonly nodeNames: string[];
  private nodesCreated = false;
  private namespaceCreated = false;
  private sampler: NodeJS.Timeout | undefined;
  private readonly heapPeak = new PeakTracker();
  /** Peaks of the V8 heap's reserved size and of memory outside it (Buffers, ArrayBuffers, native), from /metrics. */
  private readonly heapTotalPeak = new PeakTracker();
  private readonly externalPeak = new PeakTracker();
  private readonly applied = new Map<string, number>();
  private readonly ready = new Map<string, number>();
  private readonly deleteSent = new Map<string, number>();
  private readonly gone = new Map<string, number>();
  /** First time each object showed a status with a reason it waits for (over-subscribed runs). */
  private readonly reasonAt = new Map<string, number>();
  /** Last time an object became Ready or got its first waiting reason. */
  private lastChange = 0;
  /** Quiet-phase partitions: created, Ready. */
  private readonly quietCreated = new Map<string, number>();
  private readonly quietReady = new Map<string, number>();
  /** Where the operator's CPU went (with --profile-operator), read once it has exited. */
  profile: ReturnType<typeof summarizeProfile> | undefined;
  /** The same for the --hold-s window only. */
  holdProfile: ReturnType<typeof summarizeProfile> | undefined;
  private operatorStartedAt = 0;
  private holdWindow: { from: number; to: number } | undefined;
  private partitions!: Informer<GpuPartition>;
  private jobs!: Informer<TrainingJob>;
  private gpuNodes!: Informer<GpuNode>;

  constructor(
    private readonly o: ScaleOptions,
    private readonly kc: KubeConfig,
    private readonly client: KubeClient,
    private readonly work: string,
  ) {
    this.nodeNames = kwokNodeNames(o.nodePrefix, o.nodes);
  }

  /** Runs every phase and returns the measurements. */
  async execute(): Promise<ScaleResult> {
    const o = this.o;
    const plan = planWorkload({ partitions: o.partitions, jobs: o.jobs, maxReplicas: Math.min(8, o.nodesPerClique, o.nodes), seed: o.seed });
    const need = demand(plan);
    const gpus = o.nodes * o.gpus;
    progress(`workload: ${o.partitions} partitions (≥ ${need.partitionComputeSlices} compute slices of ${7 * (gpus - need.jobGpus)} left after jobs), ${o.jobs} jobs (${need.jobGpus} whole GPUs)`);
    if (need.jobGpus + need.partitionComputeSlices / 7 > gpus) progress('warning: the workload asks for more than the cluster has; some objects will stay Pending');

    await this.preflight();
    const t0 = Date.now();
    await this.createNodes();
    await this.startAgent();
    const nodesAndAgent = (Date.now() - t0) / 1000;
    progress(`${o.nodes} nodes and their GpuNodes ready in ${nodesAndAgent.toFixed(1)} s`);

    const t1 = Date.now();
    await this.startOperator();
    const operatorStart = (Date.now() - t1) / 1000;
    await this.startWatches();

    const cpPids = controlPlanePids(o.clusterState);
    const cpu = () => ({
      operator: cpuSecondsOf(this.operator!.pid) ?? NaN,
      agent: cpuSecondsOf(this.agent!.pid) ?? NaN,
      ...Object.fromEntries([...cpPids].map(([n, pid]) => [n, cpuSecondsOf(pid) ?? NaN])),
    });
    const rawCreatesPerSecond = await this.rawCreates();
    const quietReady = await this.quietPhase();
    // The burst's figures start here: the raw and quiet phases are not part of them.
    const [op0, api0] = await Promise.all([this.operatorMetricsOrEmpty(), this.apiMetrics()]);

    const cpu0 = cpu();
    this.startSampler();

    // Apply.
    const tApply = Date.now();
    await forEachLimit(plan, o.applyConcurrency, async (obj) => {
      this.applied.set(key(obj.kind, obj.name), Date.now());
      await this.client.create(obj.kind === 'GpuPartition' ? RESOURCES.gpuPartition : RESOURCES.trainingJob, manifest(obj, o.namespace));
    });
    const apply = (Date.now() - tApply) / 1000;
    progress(`applied ${plan.length} objects in ${apply.toFixed(1)} s; waiting for Ready/Running (timeout ${o.timeoutS} s)`);
    // Done when everything is Ready/Running, or — with more demand than capacity — when every object is Ready or
    // says why it waits, and nothing changed for a while.
    const settled = () =>
      this.ready.size >= plan.length ||
      (this.ready.size + [...this.reasonAt.keys()].filter((k) => !this.ready.has(k)).length >= plan.length && Date.now() - this.lastChange >= o.settleQuietS * 1000);
    const allIn = await waitFor(settled, o.timeoutS * 1000, 250, () => this.childDied());
    const everyReady = this.ready.size >= plan.length;
    const allReady = everyReady ? (Math.max(...this.ready.values()) - tApply) / 1000 : null;
    const lastReady = this.ready.size > 0 ? (Math.max(...this.ready.values()) - tApply) / 1000 : null;
    const notReady = this.notReady(plan);
    progress(
      everyReady
        ? `all Ready/Running ${allReady!.toFixed(1)} s after the first create`
        : allIn
          ? `settled: ${this.ready.size} Ready/Running (the last ${lastReady?.toFixed(1)} s after the first create), the rest wait with a reason: ${JSON.stringify(notReady.reasons)}`
          : `timed out: ${JSON.stringify(notReady)}`,
    );
    const [op1, api1] = await Promise.all([this.operatorMetricsOrEmpty(), this.apiMetrics()]);
    const cpu1 = cpu();

    // Steady state: nothing changes, so every write now is overhead.
    let hold: ScaleResult['hold'];
    if (o.holdS > 0) {
      progress(`holding ${o.holdS} s with everything Ready`);
      const apiHold0 = await this.apiMetrics();
      const t = Date.now();
      await waitFor(() => false, o.holdS * 1000, 1000, () => this.childDied());
      this.holdWindow = { from: t, to: Date.now() };
      const diff = delta(apiHold0, await this.apiMetrics());
      const rows = writeRows(diff);
      const seconds = (Date.now() - t) / 1000;
      // Reads matter too: a watch that keeps restarting shows as GETs and WATCHes of GpuNodes.
      const gpuNodeReads = Object.fromEntries(['GET', 'LIST', 'WATCH'].map((verb) => [verb, sumOf(diff, 'apiserver_request_total', { resource: 'gpunodes', verb })]));
      hold = { seconds, rows, perSecondByWriter: Object.fromEntries(Object.entries(writesByWriter(rows)).map(([k, v]) => [k, v / seconds])), gpuNodeReads };
      progress(`steady-state writes/s: ${JSON.stringify(hold.perSecondByWriter)}; GpuNode reads: ${JSON.stringify(gpuNodeReads)}`);
    }

    // Release.
    const tDelete = Date.now();
    await forEachLimit(plan, o.applyConcurrency, async (obj) => {
      this.deleteSent.set(key(obj.kind, obj.name), Date.now());
      await this.client.delete(obj.kind === 'GpuPartition' ? RESOURCES.gpuPartition : RESOURCES.trainingJob, obj.name, o.namespace, { propagationPolicy: 'Background' });
    });
    progress(`deleted ${plan.length} objects in ${((Date.now() - tDelete) / 1000).toFixed(1)} s; waiting for finalizers, claims and worker pods (timeout ${o.releaseTimeoutS} s)`);
    let releasedAt = 0;
    const released = await waitFor(
      async () => {
        if (this.gone.size < plan.length || this.claimsLeft() > 0) return false;
        const pods = await this.client.list(RESOURCES.pod, { namespace: o.namespace, labelSelector: JOB_LABEL });
        if (pods.items.length > 0) return false;
        releasedAt = Date.now();
        return true;
      },
      o.releaseTimeoutS * 1000,
      250,
      () => this.childDied(),
    );
    const release = released ? (releasedAt - tDelete) / 1000 : null;
    this.burstWindow = { tApply, rawCreatesPerSecond, quietReady, lastReady, settled: allIn };
    const notReleased = { objects: plan.length - this.gone.size, claims: this.claimsLeft() };
    progress(released ? `everything released ${release!.toFixed(1)} s after the first delete` : `release timed out: ${plan.length - this.gone.size} objects left, ${this.claimsLeft()} claims left`);
    const [op2, api2] = await Promise.all([this.operatorMetricsOrEmpty(), this.apiMetrics()]);
    const cpu2 = cpu();
    this.stopSampler();

    return this.result(plan, need.jobGpus, { nodesAndAgent, operatorStart, apply, allReady, release }, notReady, notReleased, hold, [op0, op1, op2], [api0, api1, api2], [cpu0, cpu1, cpu2]);
  }

  private burstWindow: { tApply: number; rawCreatesPerSecond: number | null; quietReady: number[]; lastReady: number | null; settled: boolean } | undefined;

  /** Creates `--raw-creates` ConfigMaps at the benchmark's parallelism: what the API server alone sustains. */
  private async rawCreates(): Promise<number | null> {
    const o = this.o;
    if (o.rawCreates === 0) return null;
    const configMap = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
    const names = Array.from({ length: o.rawCreates }, (_, i) => `raw-create-${i}`);
    const t0 = Date.now();
    await forEachLimit(names, o.applyConcurrency, async (name) => {
      await this.client.create(configMap, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: o.namespace }, data: { n: name } });
    });
    const perSecond = o.rawCreates / ((Date.now() - t0) / 1000);
    progress(`API server alone: ${o.rawCreates} ConfigMaps created in ${((Date.now() - t0) / 1000).toFixed(1)} s (${perSecond.toFixed(0)}/s)`);
    await forEachLimit(names, o.applyConcurrency, async (name) => {
      await this.client.delete(configMap, name, o.namespace);
    });
    return perSecond;
  }

  /** Applies single partitions one at a time on the quiet cluster; their create → Ready seconds. */
  private async quietPhase(): Promise<number[]> {
    const o = this.o;
    const out: number[] = [];
    for (let i = 0; i < o.quietSamples; i++) {
      const name = `quiet-${i}`;
      this.quietCreated.set(name, Date.now());
      await this.client.create(RESOURCES.gpuPartition, manifest({ kind: 'GpuPartition', name, spec: { profile: '1g.23gb' } } as PlannedObject, o.namespace));
      const ok = await waitFor(() => this.quietReady.has(name), 30_000, 5, () => this.childDied());
      if (!ok) throw new Error(`quiet partition ${name} was not Ready within 30 s`);
      out.push((this.quietReady.get(name)! - this.quietCreated.get(name)!) / 1000);
      await this.client.delete(RESOURCES.gpuPartition, name, o.namespace);
      await waitFor(() => this.partitions.get(name, o.namespace) === undefined, 30_000, 20, () => this.childDied());
    }
    if (out.length) progress(`quiet cluster: single partition create → Ready ${out.map((x) => x.toFixed(2)).join(', ')} s`);
    return out;
  }

  /** Refuses to run over leftovers of an earlier run (they would skew every figure). */
  private async preflight(): Promise<void> {
    const o = this.o;
    const left = await this.client.list(RESOURCES.node, { labelSelector: `${BENCH_LABEL}=${o.nodePrefix}` });
    if (left.items.length > 0) throw new Error(`${left.items.length} nodes labelled ${BENCH_LABEL}=${o.nodePrefix} exist from an earlier run; delete them (kubectl delete nodes -l ${BENCH_LABEL}) or use another --node-prefix`);
    const ns = await this.client.get<{ status?: { phase?: string } }>(RESOURCES.namespace, o.namespace);
    if (ns) {
      const [p, j] = await Promise.all([this.client.list(RESOURCES.gpuPartition, { namespace: o.namespace }), this.client.list(RESOURCES.trainingJob, { namespace: o.namespace })]);
      if (ns.status?.phase === 'Terminating' || p.items.length + j.items.length > 0) {
        throw new Error(`namespace ${o.namespace} is terminating or holds partitions/jobs from an earlier run; use another --namespace`);
      }
    } else {
      await this.client.create(RESOURCES.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } });
      this.namespaceCreated = true;
    }
  }

  private async createNodes(): Promise<void> {
    this.nodesCreated = true;
    await createKwokNodes(this.client, this.nodeNames, BENCH_LABEL, this.o.nodePrefix, this.o.applyConcurrency);
  }

  private async startAgent(): Promise<void> {
    const o = this.o;
    const port = await freePort();
    const stateDir = path.join(this.work, 'agent-state');
    fs.mkdirSync(stateDir, { recursive: true });
    this.agent = startNodeProcess(
      'node-agent',
      path.join(this.o.haeinDist ?? path.join(ROOT, 'dist'), 'src/cmd/node-agent.js'),
      [
        '--kubeconfig', o.kubeconfig,
        '--node-selector', `${BENCH_LABEL}=${o.nodePrefix}`,
        '--model', 'NVIDIA-B200',
        '--gpus', String(o.gpus),
        '--nodes-per-clique', String(o.nodesPerClique),
        '--no-device-plugin',
        '--state-dir', stateDir,
        '--health-port', String(port),
        '--reconfigure-delay-ms', String(o.reconfigureDelayMs),
      ],
      path.join(this.work, 'node-agent.log'),
      { LOG_LEVEL: o.logLevel },
    );
    this.children.push(this.agent);
    const served = new Set(this.nodeNames);
    const ok = await waitFor(
      async () => {
        const ready = await getText(`http://127.0.0.1:${port}/readyz`).then(() => true, () => false);
        if (!ready) return false;
        const { items } = await this.client.list<GpuNode>(RESOURCES.gpuNode);
        return items.filter((g) => served.has(g.metadata.name ?? '') && g.status?.inventory && agentReady(g.status.conditions)).length >= o.nodes;
      },
      180_000,
      1000,
      () => this.childDied(),
    );
    if (!ok) throw new Error(`the node agent did not publish ${o.nodes} ready GpuNodes within 180 s (log: ${this.agent.log})`);
  }

  private async startOperator(): Promise<void> {
    const o = this.o;
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    this.operator = startNodeProcess(
      'operator',
      path.join(this.o.haeinDist ?? path.join(ROOT, 'dist'), 'src/cmd/operator.js'),
      [
        '--kubeconfig', o.kubeconfig,
        `--metrics-port=${metricsPort}`,
        `--health-port=${healthPort}`,
        `--leader-elect=${o.leaderElect}`,
        `--workers=${o.workers}`,
        ...(o.leaderElect ? [`--lease-namespace=${o.namespace}`, `--lease-name=haein-scale-${process.pid}`] : []),
      ],
      path.join(this.work, 'operator.log'),
      { LOG_LEVEL: o.logLevel, POD_NAMESPACE: o.namespace, POD_NAME: `haein-scale-operator-${process.pid}` },
      [
        ...(o.operatorHeapMiB > 0 ? [`--max-old-space-size=${o.operatorHeapMiB}`] : []),
        ...(o.operatorSemiSpaceMiB > 0 ? [`--max-semi-space-size=${o.operatorSemiSpaceMiB}`] : []),
        ...(o.profileOperator ? ['--cpu-prof', '--cpu-prof-dir', path.join(this.work, 'profile')] : []),
      ],
    );
    this.children.push(this.operator);
    this.operatorStartedAt = Date.now();
    this.operatorMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const ok = await waitFor(
      async () => {
        if (!(await getText(`http://127.0.0.1:${healthPort}/readyz`).then(() => true, () => false))) return false;
        return !o.leaderElect || sumOf(await this.operatorMetrics(), 'haein_leader') === 1;
      },
      120_000,
      250,
      () => this.childDied(),
    );
    if (!ok) throw new Error(`the operator did not become ready${o.leaderElect ? ' and leader' : ''} within 120 s (log: ${this.operator.log})`);
  }

  /** The benchmark's own caches: partitions and jobs of its namespace (phase transitions), GpuNodes (claims). */
  private async startWatches(): Promise<void> {
    const ns = { namespace: this.o.namespace };
    this.partitions = new Informer<GpuPartition>(this.client, RESOURCES.gpuPartition, ns);
    this.jobs = new Informer<TrainingJob>(this.client, RESOURCES.trainingJob, ns);
    this.gpuNodes = new Informer<GpuNode>(this.client, RESOURCES.gpuNode);
    const track = (kind: string, done: (o: GpuPartition | TrainingJob) => boolean) => (obj: GpuPartition | TrainingJob, _prev: unknown, deleted: boolean) => {
      const name = obj.metadata.name ?? '';
      if (name.startsWith('quiet-')) {
        if (!deleted && done(obj) && !this.quietReady.has(name)) this.quietReady.set(name, Date.now());
        return;
      }
      const k = key(kind, name);
      if (deleted) {
        if (!this.gone.has(k)) this.gone.set(k, Date.now());
      } else if (!this.ready.has(k) && done(obj)) {
        this.ready.set(k, Date.now());
        this.lastChange = Date.now();
      } else if (!this.reasonAt.has(k) && waitingReason(obj.status?.conditions) !== undefined) {
        this.reasonAt.set(k, Date.now());
        this.lastChange = Date.now();
      }
    };
    this.partitions.onChange(track('GpuPartition', (p) => p.status?.phase === 'Ready'));
    this.jobs.onChange(track('TrainingJob', (j) => j.status?.phase === 'Running'));
    for (const i of [this.partitions, this.jobs, this.gpuNodes]) this.informers.push(i as never);
    await Promise.all(this.informers.map((i) => i.start()));
  }

  /** Ledger claims of the benchmark's namespace still in GpuNode specs. */
  private claimsLeft(): number {
    let n = 0;
    for (const g of this.gpuNodes.list()) {
      for (const gpu of g.spec?.gpus ?? []) {
        if (gpu.claim?.namespace === this.o.namespace) n++;
        for (const s of gpu.slices) if (s.claim?.namespace === this.o.namespace) n++;
      }
    }
    return n;
  }

  /** Objects not Ready/Running, by the reason of their Allocated/Placed condition (or phase). */
  private notReady(plan: PlannedObject[]): ScaleResult['notReady'] {
    const reasons: Record<string, number> = {};
    let partitions = 0;
    let jobs = 0;
    for (const obj of plan) {
      if (this.ready.has(key(obj.kind, obj.name))) continue;
      const cached = obj.kind === 'GpuPartition' ? this.partitions.get(obj.name, this.o.namespace) : this.jobs.get(obj.name, this.o.namespace);
      if (obj.kind === 'GpuPartition') partitions++;
      else jobs++;
      const conds = cached?.status?.conditions ?? [];
      const c = conds.find((x) => x.status === 'False' && (x.type === 'Allocated' || x.type === 'Placed')) ?? conds.find((x) => x.status === 'False');
      const reason = `${obj.kind}:${cached?.status?.phase ?? 'NoStatus'}:${c?.reason ?? '-'}`;
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
    return { partitions, jobs, reasons };
  }

  /** Samples the operator's heap every 2 s and prints progress every 10 s. */
  private startSampler(): void {
    let ticks = 0;
    let lastCpu = cpuSecondsOf(this.operator!.pid) ?? 0;
    let lastAt = Date.now();
    let inFlight = false;
    this.sampler = setInterval(() => {
      // One scrape at a time: a saturated operator answers slower than this interval.
      if (inFlight) return;
      inFlight = true;
      ticks++;
      void this.operatorMetrics().finally(() => (inFlight = false)).then(
        (m) => {
          this.sampleHeap(m);
          if (ticks % 5 !== 0) return;
          const cpuNow = cpuSecondsOf(this.operator!.pid) ?? lastCpu;
          const now = Date.now();
          const mem = memoryOf(this.operator!.pid);
          const depth = [...sumBy(m, 'haein_workqueue_depth', 'controller')].map(([c, v]) => `${c}=${v}`).join(' ');
          const wakes = [...sumBy(m, 'haein_admission_capacity_changes_total', 'source')].map(([c, v]) => `${c}=${v}`).join(' ');
          progress(
            `ready ${this.ready.size}/${this.applied.size} gone ${this.gone.size} claims ${this.claimsLeft()} | operator cpu ${(((cpuNow - lastCpu) * 1000) / Math.max(1, now - lastAt) * 100).toFixed(0)}% rss ${((mem?.rss ?? 0) / MiB).toFixed(0)} MiB (heap ${(sumOf(m, 'haein_process_nodejs_heap_size_used_bytes') / MiB).toFixed(0)}/${(sumOf(m, 'haein_process_nodejs_heap_size_total_bytes') / MiB).toFixed(0)}, external ${(sumOf(m, 'haein_process_nodejs_external_memory_bytes') / MiB).toFixed(0)}) | queues ${depth} | capacity changes ${wakes || 0}`,
          );
          lastCpu = cpuNow;
          lastAt = now;
        },
        () => undefined,
      );
    }, 2000);
  }

  private sampleHeap(m: Sample[]): void {
    this.heapPeak.sample(sumOf(m, 'haein_process_nodejs_heap_size_used_bytes'));
    this.heapTotalPeak.sample(sumOf(m, 'haein_process_nodejs_heap_size_total_bytes'));
    this.externalPeak.sample(sumOf(m, 'haein_process_nodejs_external_memory_bytes'));
  }

  private stopSampler(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = undefined;
  }

  /** The operator's metrics; a busy operator answers slowly, so the wait is long. */
  private async operatorMetrics(timeoutMs = 60_000): Promise<Sample[]> {
    return parseProm(await getText(this.operatorMetricsUrl, timeoutMs));
  }

  /** A phase-boundary scrape: retried once, then empty (the figures derived from it are then missing). */
  private async operatorMetricsOrEmpty(): Promise<Sample[]> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await this.operatorMetrics(120_000);
      } catch (err) {
        progress(`warning: operator /metrics did not answer (${String(err)})`);
      }
    }
    return [];
  }

  private async apiMetrics(): Promise<Sample[]> {
    try {
      return parseProm(await getApiText(this.kc, '/metrics')).filter((s) => s.name === 'apiserver_request_total');
    } catch (err) {
      progress(`warning: no kube-apiserver metrics (${String(err)}); API writes will be missing`);
      return [];
    }
  }

  /** A message when a child we started has exited. */
  private childDied(): string | undefined {
    const dead = this.children.find((c) => exited(c));
    if (!dead) return undefined;
    const tail = fs.readFileSync(dead.log, 'utf8').split('\n').slice(-15).join('\n');
    return `${dead.name} exited (code ${dead.proc.exitCode}, signal ${dead.proc.signalCode}); last log lines:\n${tail}`;
  }

  private result(
    plan: PlannedObject[],
    jobGpus: number,
    seconds: ScaleResult['seconds'],
    notReady: ScaleResult['notReady'],
    notReleased: ScaleResult['notReleased'],
    hold: ScaleResult['hold'],
    op: Sample[][],
    api: Sample[][],
    cpu: Array<Record<string, number>>,
  ): ScaleResult {
    const o = this.o;
    const [op0, op1, op2] = op as [Sample[], Sample[], Sample[]];
    const [api0, api1, api2] = api as [Sample[], Sample[], Sample[]];
    const [cpu0, , cpu2] = cpu as [Record<string, number>, Record<string, number>, Record<string, number>];
    const whole = delta(op0, op2);
    const ofKind = (m: Map<string, number>, kind: string) => new Map([...m].filter(([k]) => k.startsWith(`${kind}/`)));
    const placement: ScaleResult['placement'] = {};
    for (const kind of ['GpuPartition', 'TrainingJob']) {
      const h = histogramOf(whole, 'haein_placement_decision_seconds', { kind });
      if (h.count > 0) placement[kind] = { n: h.count, meanMs: (h.sum / h.count) * 1000, p50Ms: quantile(h, 0.5) * 1000, p95Ms: quantile(h, 0.95) * 1000 };
    }
    const rh = histogramOf(whole, 'haein_reconfiguration_latency_seconds');
    const reconciles: ScaleResult['reconciles'] = {};
    for (const s of whole) {
      if (s.name !== 'haein_reconcile_total' || s.value <= 0) continue;
      const c = (reconciles[s.labels.controller ?? '?'] ??= {});
      c[s.labels.result ?? '?'] = (c[s.labels.result ?? '?'] ?? 0) + s.value;
    }
    const perController = (d: Sample[]) => Object.fromEntries(sumBy(d, 'haein_reconcile_total', 'controller'));
    const readyRows = writeRows(delta(api0, api1));
    const releaseRows = writeRows(delta(api1, api2));
    const cpUsed: Record<string, number> = {};
    for (const k of Object.keys(cpu0)) if (k !== 'operator' && k !== 'agent') cpUsed[k] = (cpu2[k] ?? NaN) - (cpu0[k] ?? NaN);
    const opMem = memoryOf(this.operator!.pid);
    const agentMem = memoryOf(this.agent!.pid);
    this.sampleHeap(op2);
    const w = this.burstWindow;
    const readyLat = summarize(durationsS(this.applied, this.ready));
    // Every object that showed a waiting reason before it was ever Ready (reasonAt is only set then), including
    // those placed later into room the release freed.
    const waitingStatus = summarize(durationsS(this.applied, this.reasonAt));
    const gpuNodeWrites = [...writeRows(delta(api0, api2))].filter((r) => r.resource === `gpunodes.gpu.haein.dev` && r.writer === 'operator');
    const ledgerWrites = gpuNodeWrites.reduce((a, r) => a + r.count, 0);
    const ledgerRefused = gpuNodeWrites.reduce((a, r) => a + r.conflicts, 0);
    const lastReady = w?.lastReady ?? null;
    const summary: ScaleResult['summary'] = {
      settled: w?.settled ?? false,
      allReadySeconds: seconds.allReady,
      lastReadySeconds: lastReady,
      readyP50Seconds: readyLat.p50,
      readyP95Seconds: readyLat.p95,
      releaseSeconds: seconds.release,
      rawCreatesPerSecond: w?.rawCreatesPerSecond ?? null,
      readyPerSecond: lastReady && lastReady > 0 ? this.ready.size / lastReady : null,
      conflictShare: ledgerWrites > 0 ? ledgerRefused / ledgerWrites : null,
      ledgerWrites,
      operatorPeakRssMiB: (memoryOf(this.operator!.pid)?.peakRss ?? NaN) / MiB,
      replansWithoutChange: sumOf(op2, 'haein_admission_replans_without_change_total'),
      quietReadyP50Seconds: w && w.quietReady.length ? summarize(w.quietReady).p50 : null,
      waitingObjects: waitingStatus.n,
      waitingStatusP95Seconds: waitingStatus.n ? waitingStatus.p95 : null,
      waitingStatusMaxSeconds: waitingStatus.n ? waitingStatus.max : null,
      loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    };
    return {
      summary,
      shape: {
        nodes: o.nodes,
        gpusPerNode: o.gpus,
        gpus: o.nodes * o.gpus,
        cliques: Math.ceil(o.nodes / o.nodesPerClique),
        partitions: o.partitions,
        jobs: plan.length - o.partitions,
        jobGpus,
        seed: o.seed,
        workers: o.workers,
        leaderElect: o.leaderElect,
        operatorHeapMiB: o.operatorHeapMiB,
        operatorSemiSpaceMiB: o.operatorSemiSpaceMiB,
      },
      seconds,
      notReady,
      notReleased,
      ...(hold ? { hold } : {}),
      latency: {
        partitionReady: summarize(durationsS(ofKind(this.applied, 'GpuPartition'), this.ready)),
        jobRunning: summarize(durationsS(ofKind(this.applied, 'TrainingJob'), this.ready)),
        partitionRelease: summarize(durationsS(ofKind(this.deleteSent, 'GpuPartition'), this.gone)),
        jobRelease: summarize(durationsS(ofKind(this.deleteSent, 'TrainingJob'), this.gone)),
      },
      placement,
      reconfiguration: { n: rh.count, meanS: rh.count ? rh.sum / rh.count : NaN, p50S: quantile(rh, 0.5), p95S: quantile(rh, 0.95), buckets: bucketCounts(rh) },
      reconciles,
      reconcilePhases: { ready: perController(delta(op0, op1)), release: perController(delta(op1, op2)) },
      apiWrites: { ready: readyRows, release: releaseRows, byWriterReady: writesByWriter(readyRows), byWriterRelease: writesByWriter(releaseRows) },
      operator: { peakRssMiB: (opMem?.peakRss ?? NaN) / MiB, peakHeapUsedMiB: this.heapPeak.peak / MiB, peakHeapTotalMiB: this.heapTotalPeak.peak / MiB, peakExternalMiB: this.externalPeak.peak / MiB, cpuSeconds: (cpu2.operator ?? NaN) - (cpu0.operator ?? NaN) },
      agent: { peakRssMiB: (agentMem?.peakRss ?? NaN) / MiB, cpuSeconds: (cpu2.agent ?? NaN) - (cpu0.agent ?? NaN) },
      controlPlaneCpuSeconds: cpUsed,
    };
  }

  /**
   * Stops what the run started and deletes what it created: leftover partitions/jobs lose their finalizers
   * (the operator that would release them is stopped first), then GpuNodes, Nodes and the namespace go.
   */
  async cleanup(): Promise<void> {
    const o = this.o;
    this.stopSampler();
    for (const i of this.informers) i.stop();
    // The operator may need a while to finish in-flight passes (and to write its CPU profile).
    if (this.operator) await stopProcess(this.operator, 60_000);
    if (this.agent) await stopProcess(this.agent);
    if (o.profileOperator) this.readProfile();
    const quiet = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        if (!isNotFound(err)) progress(`cleanup: ${what} failed: ${String(err)}`);
      }
    };
    for (const ref of [RESOURCES.gpuPartition, RESOURCES.trainingJob]) {
      const left = await this.client.list<{ metadata: { name: string } }>(ref, { namespace: o.namespace }).catch(() => ({ items: [] }));
      await forEachLimit(left.items, o.applyConcurrency, async (x) => {
        await quiet(`releasing ${ref.kind} ${x.metadata.name}`, () => this.client.mergePatch(ref, x.metadata.name, { metadata: { finalizers: null } }, o.namespace));
        await quiet(`deleting ${ref.kind} ${x.metadata.name}`, () => this.client.delete(ref, x.metadata.name, o.namespace));
      });
    }
    if (this.nodesCreated) {
      await forEachLimit(this.nodeNames, o.applyConcurrency, async (name) => {
        await quiet(`deleting GpuNode ${name}`, () => this.client.delete(RESOURCES.gpuNode, name));
        await quiet(`deleting Node ${name}`, () => this.client.delete(RESOURCES.node, name));
      });
    }
    if (this.namespaceCreated) await quiet(`deleting namespace ${o.namespace}`, () => this.client.delete(RESOURCES.namespace, o.namespace));
    if (o.keepLogs) progress(`operator and agent logs kept in ${this.work}`);
    else fs.rmSync(this.work, { recursive: true, force: true });
  }

  /** Summarises the operator's `.cpuprofile` (written by node when the operator exits). */
  private readProfile(): void {
    const dir = path.join(this.work, 'profile');
    const file = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) : undefined;
    if (!file) {
      progress('warning: the operator wrote no CPU profile (it did not exit cleanly)');
      return;
    }
    const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    this.profile = summarizeProfile(profile);
    // The profile clock starts with the operator process (within the spawn latency).
    const h = this.holdWindow;
    if (h) this.holdProfile = summarizeProfile(profile, 15, { fromMs: h.from - this.operatorStartedAt, toMs: h.to - this.operatorStartedAt });
    if (this.o.keepLogs) progress(`operator CPU profile: ${path.join(dir, file)} (open in Chrome DevTools)`);
  }
}

function key(kind: string, name: string): string {
  return `${kind}/${name}`;
}

/** The reason an object waits, from its Allocated/Placed condition (not while it is merely being placed). */
function waitingReason(conditions: Condition[] | undefined): string | undefined {
  const c = (conditions ?? []).find((x) => (x.type === 'Allocated' || x.type === 'Placed') && x.status === 'False');
  return c && c.reason !== 'Placing' && c.reason !== 'Queued' ? c.reason : undefined;
}

function agentReady(conditions: Condition[] | undefined): boolean {
  return (conditions ?? []).some((c) => c.type === 'AgentReady' && c.status === 'True');
}

/** The object to create for a planned entry. */
function manifest(obj: PlannedObject, namespace: string): GpuPartition | TrainingJob {
  const metadata = { name: obj.name, namespace, labels: { 'app.kubernetes.io/part-of': 'haein-scale-bench' } };
  return obj.kind === 'GpuPartition'
    ? { apiVersion: API_VERSION, kind: 'GpuPartition', metadata, spec: obj.spec }
    : { apiVersion: API_VERSION, kind: 'TrainingJob', metadata, spec: obj.spec };
}

async function main(): Promise<void> {
  const o = optionsOrExit(parseScaleArgs, USAGE);
  if (!o) return;
  if (!fs.existsSync(path.join(ROOT, 'dist/src/cmd/operator.js'))) throw new Error(`dist/ is missing: run npm run build first\n${USAGE}`);
  const kc = loadKubeConfig(o.kubeconfig);
  const client = new KubeClient(kc, { fieldManager: 'haein-scale-bench', userAgent: 'haein-scale-bench' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'haein-scale-'));
  const run = new ScaleRun(o, kc, client, work);
  const stopping = cleanupOnSignals(progress, () => run.cleanup());
  let result: ScaleResult;
  try {
    result = await run.execute();
  } catch (err) {
    o.keepLogs = true;
    throw err;
  } finally {
    if (!stopping()) await run.cleanup();
  }
  if (run.profile) result.operatorProfile = run.profile;
  if (run.holdProfile) result.operatorHoldProfile = run.holdProfile;
  process.stdout.write(`${renderReport(result)}\n`);
  process.stdout.write(`${JSON.stringify({ benchmark: 'operator-scale', ...result.summary, ...result })}\n`);
  const complete = result.summary.settled && result.seconds.release !== null;
  process.exit(complete ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`operator-scale failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (err instanceof Error && err.cause) process.stderr.write(`cause: ${String(err.cause)}\n`);
  process.exit(1);
});
