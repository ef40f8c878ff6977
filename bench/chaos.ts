#!/usr/bin/env node
/**
 * Chaos under load, on a real control plane (kube-apiserver + etcd + KWOK): KWOK nodes served by one multi-node
 * agent process, two operator replicas with leader election, a seeded churn of GpuPartitions and TrainingJobs
 * (creates, deletes, count changes, consumer pods) and a seeded fault schedule: the leader SIGKILLed every few
 * seconds, the leader SIGSTOPped past its Lease and woken, kube-apiserver and etcd restarted, the agent SIGKILLed
 * mid-reconfiguration, the agent's state file corrupted. An invariant checker (chaos/invariants.ts) samples the
 * ledger, the agent's status and files all through; after the churn the cluster must converge (every object
 * Ready/Running with exactly its count, no orphan claim) and after the final deletes release everything; the
 * audit log must show no ledger write from a replica that did not hold the Lease.
 *
 * The operator and the agent are black boxes: started from dist/ with flags, observed through the API server,
 * their /metrics and their logs. The last line printed is one JSON object. Run it through hack/chaos.sh.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { API_VERSION, JOB_LABEL, PARTITION_GATE, PARTITION_LABEL, migResourceName } from '../src/api/constants.js';
import type { Condition, GpuNode, GpuPartition, TrainingJob } from '../src/api/types.js';
import { KubeClient, RESOURCES, isAlreadyExists, isNotFound, loadKubeConfig, type ResourceRef } from '../src/k8s/client.js';
import { Informer } from '../src/k8s/informer.js';
import { parseAudit, staleWrites, takeoversBy, writesInWindow, type WindowWrites } from './chaos/audit.js';
import { ChurnPlanner, type ChurnObject, type ChurnOp } from './chaos/churn.js';
import { FAULT_KINDS, planFaults, quietMoments, type FaultKind, type PlannedFault } from './chaos/fault-schedule.js';
import { InUseStatusTracker, ViolationLog, fileViolations, ledgerViolations, realisedIds, releasedViolations, settledViolations, type Found } from './chaos/invariants.js';
import { USAGE, parseChaosArgs, type ChaosOptions } from './chaos/options.js';
import { recoveryFigures, type FaultRecord } from './chaos/recovery.js';
import { Supervised } from './chaos/supervisor.js';
import { getText } from './scale/http-get.js';
import { summarize } from './scale/stats.js';
import { createKwokNodes, kwokNodeNames } from './scale/kwok-nodes.js';
import { forEachLimit } from './scale/pool.js';
import { cleanupOnSignals, freePort } from './scale/processes.js';
import { parseProm, sumBy, sumOf, type Sample } from './scale/prom-text.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LEASE_NAME = 'haein-chaos';
const CHAOS_LABEL = 'haein.dev/chaos';
const run$ = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const progress = (msg: string): void => {
  process.stderr.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
};

/** Retries `fn` while the API server is unreachable or answers 5xx/429; other errors propagate. */
async function withRetry<T>(what: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      const transient = code === undefined || code >= 500 || code === 429;
      if (!transient || Date.now() > deadline) throw new Error(`${what} failed`, { cause: err });
      await sleep(Math.min(2000, 200 * (attempt + 1)));
    }
  }
}

/** One operator replica: its process, identity and endpoints. */
interface Replica {
  slot: string;
  user: string;
  proc: Supervised;
  metricsUrl: string;
  stopped: boolean;
}

/** One chaos run: what it started and created, and what it observed. */
class ChaosRun {
  private readonly client: KubeClient;
  private readonly nodeNames: string[];
  private readonly log = new ViolationLog();
  private readonly statusTracker = new InUseStatusTracker();
  private readonly faults: FaultRecord[] = [];
  private readonly podDeletions = new Map<string, number | undefined>();
  private readonly readyAt = new Map<string, number>();
  private replicas: Replica[] = [];
  private agent!: Supervised;
  private partitions!: Informer<GpuPartition>;
  private jobs!: Informer<TrainingJob>;
  private gpuNodes!: Informer<GpuNode>;
  private pods!: Informer<{ metadata: { name?: string; namespace?: string; deletionTimestamp?: string; labels?: Record<string, string> } }>;
  private readonly informers: Array<{ stop(): void }> = [];
  private sampler: NodeJS.Timeout | undefined;
  private samples = 0;
  private fileSamplesSkipped = 0;
  private nodesCreated = false;
  private namespaceCreated = false;
  private readonly inFlight = new Map<string, Promise<void>>();
  private opsRunning = 0;
  private readonly opStats = { created: 0, deleted: 0, scaled: 0, consumers: 0, failed: 0, probes: 0 };
  private probeSeq = 0;
  private lastProbe = '';
  private readonly probes: Array<Promise<void>> = [];
  private staleWindows: Array<{ user: string; stopAt: number; contAt: number; endAt: number; exited: boolean }> = [];
  private baselineProbeS: number[] = [];
  private readonly quietProbeS: number[] = [];
  private maxQueue = 0;
  private readonly maxQueueBy: Record<string, number> = {};
  private readonly agentState: string;
  /** Per probe: the phases and False-condition reasons it went through, with seconds since it was created. */
  private readonly probeTrails = new Map<string, string[]>();
  private agentReadyz = '';
  /** Waiting for the next GpuNode status that says a reconfiguration is in progress. */
  private reconfiguringWaiter: ((g: GpuNode) => void) | undefined;

  constructor(
    private readonly o: ChaosOptions,
    private readonly work: string,
  ) {
    this.client = new KubeClient(loadKubeConfig(o.kubeconfig), { fieldManager: 'haein-chaos', userAgent: 'haein-chaos', timeoutMs: 15_000 });
    this.nodeNames = kwokNodeNames(o.nodePrefix, o.nodes);
    this.agentState = path.join(work, 'agent-state');
  }

  async execute(): Promise<Record<string, unknown>> {
    const o = this.o;
    const schedule = planFaults({ durationS: o.durationS, seed: o.seed, leaderKillEveryS: o.leaderKillEveryS, leaderStopS: o.leaderStopS, faultEveryS: o.faultEveryS });
    progress(`schedule: ${schedule.length} faults over ${o.durationS} s: ${JSON.stringify(countKinds(schedule.map((f) => f.kind)))}`);
    await this.preflight();
    await this.createNodes();
    await this.startAgent();
    await this.startWatches();
    await this.startOperators();
    this.startSampler();

    for (let i = 0; i < 3; i++) {
      const s = await this.probe(`baseline ${i}`);
      if (s !== undefined) this.baselineProbeS.push(s);
    }
    progress(`baseline probe latency: ${this.baselineProbeS.map((s) => s.toFixed(2)).join(', ')} s`);

    // Churn and faults, side by side.
    const churnStart = Date.now();
    const planner = new ChurnPlanner({
      seed: o.seed,
      objects: o.objects,
      clusterSlices: o.nodes * o.gpus * 7,
      maxUtilisation: o.maxUtilisation,
      jobShare: o.jobShare,
      consumerShare: o.consumerShare,
      maxReplicas: Math.min(4, o.nodesPerClique),
    });
    const tickMs = Math.max(20, (o.durationS * 1000) / (o.objects * 2));
    const churnEnd = churnStart + o.durationS * 1000;
    const churn = (async () => {
      let lastReport = 0;
      while (Date.now() < churnEnd) {
        if (this.opsRunning < 16) {
          const due = (o.objects * (Date.now() - churnStart)) / (o.durationS * 1000);
          const op = planner.next(due);
          if (op) this.carryOut(op);
        }
        if (Date.now() - lastReport > 10_000) {
          lastReport = Date.now();
          void this.leaderQueues().then((q) => {
            if (q !== undefined) this.maxQueue = Math.max(this.maxQueue, q);
            progress(`churn: created ${planner.created}/${o.objects}, live ${planner.liveObjects().length} (${planner.liveSlices()} slices), deleted ${planner.deleted}, scaled ${planner.scaled}, failed ops ${this.opStats.failed} | leader queues ${q ?? '?'} | violations ${this.log.size}`);
          });
        }
        await sleep(tickMs);
      }
    })();
    const faults = this.runFaults(schedule, churnStart);
    // Probes away from any fault: how fast Haein serves under the churn alone.
    const quiet = (async () => {
      for (const atS of quietMoments(schedule, o)) {
        const wait = churnStart + atS * 1000 - Date.now();
        if (wait > 0) await sleep(wait);
        const s = await this.probe('quiet');
        this.quietProbeS.push(s ?? NaN);
      }
    })();
    await Promise.all([churn, faults, quiet]);
    const lastFaultAt = Math.max(...this.faults.map((f) => f.at));
    progress(`churn over (${planner.created} created, ${planner.deleted} deleted, ${planner.scaled} scaled); waiting for in-flight operations and probes`);
    await Promise.all([...this.inFlight.values()]);
    await Promise.all(this.probes);

    // Convergence.
    const settleStart = Date.now();
    let settled: Found[] = [];
    let convergedAt: number | undefined;
    while (Date.now() - settleStart < o.settleTimeoutS * 1000) {
      settled = this.settledCheck();
      if (settled.length === 0) {
        convergedAt = Date.now();
        break;
      }
      await sleep(1000);
    }
    if (convergedAt) progress(`converged ${((convergedAt - lastFaultAt) / 1000).toFixed(1)} s after the last fault (${((convergedAt - churnEnd) / 1000).toFixed(1)} s after the churn)`);
    else {
      progress(`did not converge within ${o.settleTimeoutS} s: ${settled.length} problem(s), e.g.\n  ${settled.slice(0, 8).map((f) => f.detail).join('\n  ')}`);
      this.record(settled);
    }
    const survivors = { partitions: this.partitions.list().length, jobs: this.jobs.list().length };

    // Final deletes and release.
    const releaseStart = Date.now();
    await this.deleteEverything();
    let releasedAt: number | undefined;
    let left: Found[] = [];
    while (Date.now() - releaseStart < o.releaseTimeoutS * 1000) {
      left = await this.releasedCheck();
      if (left.length === 0) {
        releasedAt = Date.now();
        break;
      }
      await sleep(1000);
    }
    if (releasedAt) progress(`everything released ${((releasedAt - releaseStart) / 1000).toFixed(1)} s after the final deletes`);
    else {
      progress(`not released within ${o.releaseTimeoutS} s: ${left.map((f) => f.detail).slice(0, 8).join('; ')}`);
      this.record(left);
    }
    this.stopSampler();
    this.sampleOnce();

    const audit = this.auditFindings();
    this.record(audit.stale);
    const recovery = recoveryFigures(this.faults);
    const missing = FAULT_KINDS.filter((k) => recovery[k].injected === 0);
    const operatorExits = Object.fromEntries(this.replicas.map((r) => [r.slot, { killedByRun: r.proc.exits.filter((e) => e.byHarness).length, exitedOnItsOwn: r.proc.selfExits().length, codes: [...new Set(r.proc.selfExits().map((e) => e.code))] }]));
    const violations = this.log.list();
    if (violations.length > 0) progress(`VIOLATIONS (${violations.length}):\n  ${violations.slice(0, 20).map((v) => `${v.kind}: ${v.detail}`).join('\n  ')}`);
    return {
      benchmark: 'chaos',
      // Safety and eventual liveness; slow recoveries (probes not Ready in time) are figures, not failures.
      ok: violations.length === 0 && missing.length === 0 && convergedAt !== undefined && releasedAt !== undefined,
      shape: { nodes: o.nodes, gpus: o.nodes * o.gpus, objects: o.objects, durationS: o.durationS, seed: o.seed, maxUtilisation: o.maxUtilisation, leaderStopS: o.leaderStopS, reconfigureDelayMs: o.reconfigureDelayMs },
      faultsInjected: Object.fromEntries(FAULT_KINDS.map((k) => [k, recovery[k].injected])),
      faultKindsMissing: missing,
      violations: violations.length,
      violationsByKind: this.log.byKind(),
      violationExamples: violations.slice(0, 5).map((v) => `${v.kind}: ${v.detail}`),
      recoveryS: recovery,
      baselineProbeS: this.baselineProbeS.map((s) => Math.round(s * 100) / 100),
      quietProbeS: summaryOf(this.quietProbeS),
      leaderQueueDepthMax: this.maxQueue,
      leaderQueueDepthMaxByController: this.maxQueueBy,
      convergenceAfterLastFaultS: convergedAt ? round((convergedAt - lastFaultAt) / 1000) : null,
      convergenceAfterChurnS: convergedAt ? round((convergedAt - churnEnd) / 1000) : null,
      releaseS: releasedAt ? round((releasedAt - releaseStart) / 1000) : null,
      objectsProcessed: { ...this.opStats, survivorsAtSettle: survivors },
      staleLeader: audit.windows,
      auditedWrites: audit.total,
      operatorExits,
      agentRestarts: this.agent.exits.length,
      faultDetails: this.faults.filter((f) => f.detail).map((f) => ({ kind: f.kind, atS: round((f.at - churnStart) / 1000), ...f.detail })),
      samples: this.samples,
      fileSamplesSkipped: this.fileSamplesSkipped,
      machine: { cpus: os.cpus().length, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    };
  }

  // ------------------------------------------------------------------ set-up

  private async preflight(): Promise<void> {
    const o = this.o;
    const left = await this.client.list(RESOURCES.node, { labelSelector: `${CHAOS_LABEL}=${o.nodePrefix}` });
    if (left.items.length > 0) throw new Error(`${left.items.length} nodes labelled ${CHAOS_LABEL}=${o.nodePrefix} exist from an earlier run; delete them (kubectl delete nodes -l ${CHAOS_LABEL}) or use another --node-prefix`);
    const ns = await this.client.get<{ status?: { phase?: string } }>(RESOURCES.namespace, o.namespace);
    if (ns) throw new Error(`namespace ${o.namespace} exists (from an earlier run?); delete it or use another --namespace`);
    await this.client.create(RESOURCES.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } });
    this.namespaceCreated = true;
  }

  private async createNodes(): Promise<void> {
    this.nodesCreated = true;
    await createKwokNodes(this.client, this.nodeNames, CHAOS_LABEL, this.o.nodePrefix, 8);
  }

  private async startAgent(): Promise<void> {
    const o = this.o;
    const port = await freePort();
    fs.mkdirSync(this.agentState, { recursive: true });
    this.agent = new Supervised(
      'node-agent',
      path.join(ROOT, 'dist/src/cmd/node-agent.js'),
      ['--kubeconfig', o.kubeconfig, '--node-selector', `${CHAOS_LABEL}=${o.nodePrefix}`, '--model', 'NVIDIA-B200', '--gpus', String(o.gpus), '--nodes-per-clique', String(o.nodesPerClique), '--no-device-plugin', '--state-dir', this.agentState, '--health-port', String(port), '--reconfigure-delay-ms', String(o.reconfigureDelayMs)],
      path.join(this.work, 'node-agent.log'),
      { LOG_LEVEL: o.logLevel },
      1000,
    );
    this.agent.start();
    this.agentReadyz = `http://127.0.0.1:${port}/readyz`;
    const served = new Set(this.nodeNames);
    const deadline = Date.now() + 180_000;
    for (;;) {
      const ready = await getText(this.agentReadyz).then(() => true, () => false);
      if (ready) {
        const { items } = await this.client.list<GpuNode>(RESOURCES.gpuNode);
        if (items.filter((g) => served.has(g.metadata.name ?? '') && g.status?.inventory && hasCondition(g.status.conditions, 'AgentReady', 'True')).length >= o.nodes) break;
      }
      if (Date.now() > deadline) throw new Error(`the node agent did not publish ${o.nodes} ready GpuNodes within 180 s (log: ${this.agent.log})`);
      await sleep(1000);
    }
    progress(`${o.nodes} KWOK nodes served by one agent`);
  }

  private async startOperators(): Promise<void> {
    const o = this.o;
    for (const [i, kubeconfig] of o.operatorKubeconfigs.entries()) {
      const slot = String.fromCharCode(97 + i);
      const [metricsPort, healthPort] = [await freePort(), await freePort()];
      const proc = new Supervised(
        `operator-${slot}`,
        path.join(ROOT, 'dist/src/cmd/operator.js'),
        ['--kubeconfig', kubeconfig, `--metrics-port=${metricsPort}`, `--health-port=${healthPort}`, '--leader-elect=true', `--lease-namespace=${o.namespace}`, `--lease-name=${LEASE_NAME}`],
        path.join(this.work, `operator-${slot}.log`),
        // A stable identity per replica, like a pod whose container restarts: the restarted process renews its own Lease.
        { LOG_LEVEL: o.logLevel, POD_NAMESPACE: o.namespace, POD_NAME: `haein-chaos-operator-${slot}` },
      );
      proc.start();
      this.replicas.push({ slot, user: userOfKubeconfig(kubeconfig), proc, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, stopped: false });
    }
    const leader = await this.waitLeader(Date.now(), 120_000);
    if (!leader) throw new Error(`no operator replica became leader within 120 s (logs: ${this.work})`);
    progress(`operators up; leader: replica ${leader.slot} (${this.replicas.map((r) => r.user).join(', ')})`);
  }

  private async startWatches(): Promise<void> {
    const ns = { namespace: this.o.namespace, backoff: { baseMs: 200, maxMs: 2000 } };
    this.partitions = new Informer<GpuPartition>(this.client, RESOURCES.gpuPartition, ns);
    this.jobs = new Informer<TrainingJob>(this.client, RESOURCES.trainingJob, ns);
    this.gpuNodes = new Informer<GpuNode>(this.client, RESOURCES.gpuNode, { backoff: ns.backoff });
    this.pods = new Informer(this.client, RESOURCES.pod, ns);
    this.partitions.onChange((p, _prev, deleted) => {
      const k = `GpuPartition/${p.metadata.name}`;
      if (!deleted && p.status?.phase === 'Ready' && !this.readyAt.has(k)) this.readyAt.set(k, Date.now());
      const trail = this.probeTrails.get(p.metadata.name ?? '');
      if (trail && !deleted) {
        const why = (p.status?.conditions ?? []).filter((c) => c.status === 'False').map((c) => c.reason);
        const state = `${p.status?.phase ?? 'NoStatus'}${why.length ? `(${why.join(',')})` : ''}`;
        const since = round((Date.now() - Date.parse(p.metadata.creationTimestamp ?? '')) / 1000);
        if (!trail.at(-1)?.endsWith(` ${state}`)) trail.push(`${since}s ${state}`);
      }
    });
    this.gpuNodes.onChange((g, _prev, deleted) => {
      if (!deleted && this.reconfiguringWaiter && g.metadata.name?.startsWith(`${this.o.nodePrefix}-`) && reconfiguring(g)) this.reconfiguringWaiter(g);
    });
    this.pods.onChange((p, _prev, deleted) => {
      const k = `${p.metadata.namespace}/${p.metadata.name}`;
      if ((deleted || p.metadata.deletionTimestamp) && this.podDeletions.get(k) === undefined) this.podDeletions.set(k, Date.now());
      else if (!deleted && !p.metadata.deletionTimestamp && !this.podDeletions.has(k)) this.podDeletions.set(k, undefined);
    });
    for (const i of [this.partitions, this.jobs, this.gpuNodes, this.pods]) this.informers.push(i);
    await Promise.all([this.partitions.start(), this.jobs.start(), this.gpuNodes.start(), this.pods.start()]);
  }

  // ------------------------------------------------------------------ churn

  /** Carries out one churn operation, after any earlier one on the same object, retrying through outages. */
  private carryOut(op: ChurnOp): void {
    const name = op.object.name;
    const before = this.inFlight.get(name) ?? Promise.resolve();
    this.opsRunning++;
    const p = before
      .then(() => this.apply(op))
      .catch((err: unknown) => {
        this.opStats.failed++;
        progress(`warning: ${op.op} ${op.object.kind} ${name}: ${String(err)}${(err as Error).cause ? ` (${String((err as Error).cause)})` : ''}`);
      })
      .finally(() => {
        this.opsRunning--;
        if (this.inFlight.get(name) === p) this.inFlight.delete(name);
      });
    this.inFlight.set(name, p);
  }

  private async apply(op: ChurnOp): Promise<void> {
    const ns = this.o.namespace;
    const o = op.object;
    const ref = o.kind === 'GpuPartition' ? RESOURCES.gpuPartition : RESOURCES.trainingJob;
    switch (op.op) {
      case 'create':
        await withRetry(`creating ${o.kind} ${o.name}`, () => this.createIgnoringExisting(ref, manifest(o, ns)));
        this.opStats.created++;
        if (o.kind === 'GpuPartition' && o.consumer) {
          await withRetry(`creating consumer pod of ${o.name}`, () => this.createIgnoringExisting(RESOURCES.pod, consumerPod(o, ns)));
          this.opStats.consumers++;
        }
        return;
      case 'delete':
        if (o.kind === 'GpuPartition' && o.consumer) await withRetry(`deleting consumer pod of ${o.name}`, () => this.client.delete(RESOURCES.pod, `${o.name}-c`, ns));
        await withRetry(`deleting ${o.kind} ${o.name}`, () => this.client.delete(ref, o.name, ns, { propagationPolicy: 'Background' }));
        this.opStats.deleted++;
        return;
      case 'scale':
        try {
          await withRetry(`scaling ${o.name}`, () => this.client.mergePatch(ref, o.name, { spec: { count: op.count } }, ns));
          this.opStats.scaled++;
        } catch (err) {
          if (!isNotFound((err as Error).cause)) throw err;
        }
        return;
    }
  }

  private async createIgnoringExisting(ref: ResourceRef, obj: object): Promise<void> {
    try {
      await this.client.create(ref, obj);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  /**
   * Creates a probe partition, waits until it is Ready and deletes it: the operator serving again. Returns the
   * seconds from `since` (default: now) to Ready, undefined when it is not Ready within --probe-timeout-s.
   */
  private async probe(why: string, since = Date.now()): Promise<number | undefined> {
    const timeoutMs = this.o.probeTimeoutS * 1000;
    const name = `probe-${String(this.probeSeq++).padStart(4, '0')}`;
    const ns = this.o.namespace;
    this.probeTrails.set(name, []);
    this.lastProbe = name;
    this.opStats.probes++;
    try {
      await withRetry(`creating probe ${name}`, () => this.createIgnoringExisting(RESOURCES.gpuPartition, { apiVersion: API_VERSION, kind: 'GpuPartition', metadata: { name, namespace: ns, labels: { [CHAOS_LABEL]: 'probe' } }, spec: { profile: '1g.23gb' } }), timeoutMs);
      const deadline = since + timeoutMs;
      while (!this.readyAt.has(`GpuPartition/${name}`) && Date.now() < deadline) await sleep(100);
      const ready = this.readyAt.get(`GpuPartition/${name}`);
      return ready === undefined ? undefined : (ready - since) / 1000;
    } catch (err) {
      progress(`warning: probe ${name} (${why}): ${String(err)}`);
      return undefined;
    } finally {
      await withRetry(`deleting probe ${name}`, () => this.client.delete(RESOURCES.gpuPartition, name, ns), 180_000).catch(() => undefined);
    }
  }

  // ------------------------------------------------------------------ faults

  private async runFaults(schedule: PlannedFault[], start: number): Promise<void> {
    for (const f of schedule) {
      const wait = start + f.atS * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      try {
        await this.inject(f.kind);
      } catch (err) {
        progress(`warning: injecting ${f.kind} failed: ${String(err)}`);
      }
    }
  }

  private async inject(kind: FaultKind): Promise<void> {
    switch (kind) {
      case 'leader-kill': {
        const leader = await this.waitLeader(Date.now(), 10_000);
        if (!leader) return progress('leader-kill skipped: no leader within 10 s');
        const rec = this.begin(kind, { replica: leader.slot });
        await leader.proc.kill();
        progress(`leader-kill: SIGKILLed replica ${leader.slot}`);
        this.follow(rec, leader);
        return;
      }
      case 'leader-stop': {
        const leader = await this.waitLeader(Date.now(), 10_000);
        if (!leader) return progress('leader-stop skipped: no leader within 10 s');
        const rec = this.begin(kind, { replica: leader.slot, stopS: this.o.leaderStopS });
        leader.stopped = true;
        leader.proc.signal('SIGSTOP');
        progress(`leader-stop: SIGSTOPped replica ${leader.slot} for ${this.o.leaderStopS} s`);
        this.follow(rec, leader);
        await sleep(this.o.leaderStopS * 1000);
        const contAt = Date.now();
        leader.proc.signal('SIGCONT');
        leader.stopped = false;
        const exited = await leader.proc.waitExit(20_000);
        const endAt = Date.now();
        this.staleWindows.push({ user: leader.user, stopAt: rec.at, contAt, endAt, exited });
        rec.detail = { ...rec.detail, wokeAtS: round((contAt - rec.at) / 1000), exitedAfterWakingS: exited ? round((endAt - contAt) / 1000) : null };
        progress(`leader-stop: SIGCONT replica ${leader.slot}; ${exited ? `it exited ${((endAt - contAt) / 1000).toFixed(1)} s later` : 'still running 20 s later'}`);
        return;
      }
      case 'apiserver-restart':
      case 'etcd-restart': {
        const name = kind === 'apiserver-restart' ? 'kube-apiserver' : 'etcd';
        const rec = this.begin(kind, {});
        await run$(path.join(ROOT, 'hack/restart-process.sh'), [name, 'KILL'], { env: { ...process.env, HAEIN_STATE: this.o.clusterState } });
        progress(`${kind}: ${name} SIGKILLed and started again with its recorded command`);
        this.follow(rec);
        return;
      }
      case 'agent-kill': {
        // Catch a reconfiguration in progress: a GpuNode whose status says Reconfiguring.
        const busy = this.ourGpuNodes().find(reconfiguring) ?? (await this.nextReconfiguring(30_000));
        const incarnation = this.agent.incarnations.length - 1;
        const rec = this.begin(kind, { caughtReconfiguring: Boolean(busy), node: busy?.metadata.name });
        await this.agent.kill();
        if (busy) {
          const gen = busy.status?.conditions?.find((c) => c.type === 'LayoutRealised')?.observedGeneration;
          const log = this.agent.logSince(incarnation);
          const finished = log.split('\n').some((l) => l.includes('Reconfiguration finished') && l.includes(`"node":"${busy!.metadata.name}"`) && l.includes(`"generation":${gen}`));
          rec.detail = { ...rec.detail, generation: gen, interruptedMidReconfiguration: !finished };
        }
        progress(`agent-kill: SIGKILLed the agent${busy ? ` while ${busy.metadata.name} was reconfiguring` : ' (no reconfiguration seen within 30 s)'}`);
        this.follow(rec);
        return;
      }
      case 'agent-state-corrupt': {
        const rec = this.begin(kind, {});
        await this.agent.kill(true);
        // The node whose journal holds the most in-use devices: its slices must survive the lost state.
        let best = this.nodeNames[0]!;
        let bestHeld = -1;
        for (const n of this.nodeNames) {
          const held = readJournal(path.join(this.agentState, `${n}.json.in-use`))?.size ?? 0;
          if (held > bestHeld) [best, bestHeld] = [n, held];
        }
        const file = path.join(this.agentState, `${best}.json`);
        const before = fs.statSync(file).size;
        fs.truncateSync(file, Math.floor(before / 2));
        this.agent.release();
        rec.detail = { node: best, heldInJournal: bestHeld, bytesBefore: before, bytesAfter: Math.floor(before / 2) };
        progress(`agent-state-corrupt: truncated ${best}.json (${bestHeld} device(s) in use per its journal) and restarted the agent`);
        this.follow(rec);
        // Did the agent notice? (it moves a corrupt file aside and rebuilds the in-use slices)
        void sleep(15_000).then(() => {
          const noticed = this.agent.logSince(this.agent.incarnations.length - 1).includes('GPU state file is unusable');
          rec.detail = { ...rec.detail, agentNoticed: noticed };
        });
        return;
      }
    }
  }

  /** The next GpuNode our watch sees reconfiguring, or undefined after `timeoutMs`. */
  private nextReconfiguring(timeoutMs: number): Promise<GpuNode | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.reconfiguringWaiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.reconfiguringWaiter = (g) => {
        clearTimeout(timer);
        this.reconfiguringWaiter = undefined;
        resolve(g);
      };
    });
  }

  private begin(kind: FaultKind, detail: Record<string, unknown>): FaultRecord {
    const rec: FaultRecord = { kind, at: Date.now(), detail };
    this.faults.push(rec);
    return rec;
  }

  /** Measures the recovery of a fault in the background: a probe partition and, for leader faults, a leader again. */
  private follow(rec: FaultRecord, old?: Replica): void {
    const agentFault = rec.kind === 'agent-kill' || rec.kind === 'agent-state-corrupt';
    this.probes.push(
      (async () => {
        const probe = this.probe(rec.kind, rec.at);
        const name = this.lastProbe;
        // A probe may land on a slice that is already carved: for agent faults, the agent must be ready again too.
        const agentBack = agentFault ? this.waitAgentReady(rec.at) : Promise.resolve(rec.at);
        const [s, agentAt] = await Promise.all([probe, agentBack]);
        if (s !== undefined && agentAt !== undefined) rec.servingAt = Math.max(rec.at + s * 1000, agentAt);
        if (agentFault) rec.detail = { ...rec.detail, agentReadyAfterS: agentAt === undefined ? null : round((agentAt - rec.at) / 1000) };
        // How the probe got there, when it took long.
        if (s === undefined || s > 5) rec.detail = { ...rec.detail, probe: name, probeTrail: this.probeTrails.get(name) };
      })(),
    );
    if (old) {
      this.probes.push(
        (async () => {
          const leader = await this.waitLeader(rec.at, 120_000, (r) => r !== old || rec.kind === 'leader-kill');
          if (leader) rec.leaderAt = Date.now();
        })(),
      );
    }
  }

  /** When the agent answers /readyz again (every served node reconciled once) after `from`; undefined after the probe timeout. */
  private async waitAgentReady(from: number): Promise<number | undefined> {
    while (Date.now() - from < this.o.probeTimeoutS * 1000) {
      if (this.agent.alive() && (await getText(this.agentReadyz, 1500).then(() => true, () => false))) return Date.now();
      await sleep(100);
    }
    return undefined;
  }

  /** Keys waiting in the leader's work queues (sum over controllers), or undefined when no leader answers. */
  private async leaderQueues(): Promise<number | undefined> {
    for (const r of this.replicas) {
      if (r.stopped || !r.proc.alive()) continue;
      let m: Sample[];
      try {
        m = parseProm(await getText(r.metricsUrl, 3000));
      } catch {
        continue;
      }
      if (sumOf(m, 'haein_leader') !== 1) continue;
      for (const [controller, depth] of sumBy(m, 'haein_workqueue_depth', 'controller')) {
        this.maxQueueBy[controller] = Math.max(this.maxQueueBy[controller] ?? 0, depth);
      }
      return sumOf(m, 'haein_workqueue_depth');
    }
    return undefined;
  }

  /** The replica reporting `haein_leader 1` (not a stopped one), polling until `timeoutMs` after `from`. */
  private async waitLeader(from: number, timeoutMs: number, accept: (r: Replica) => boolean = () => true): Promise<Replica | undefined> {
    while (Date.now() - from < timeoutMs) {
      const answers = await Promise.all(
        this.replicas.map(async (r) => {
          if (r.stopped || !r.proc.alive() || !accept(r)) return false;
          try {
            return sumOf(parseProm(await getText(r.metricsUrl, 1500)), 'haein_leader') === 1;
          } catch {
            return false;
          }
        }),
      );
      const i = answers.indexOf(true);
      if (i >= 0) return this.replicas[i];
      await sleep(100);
    }
    return undefined;
  }

  // ------------------------------------------------------------------ invariants

  private ourGpuNodes(): GpuNode[] {
    const prefix = `${this.o.nodePrefix}-`;
    return this.gpuNodes.list().filter((g) => g.metadata.name?.startsWith(prefix));
  }

  private startSampler(): void {
    this.sampler = setInterval(() => this.sampleOnce(), this.o.sampleEveryMs);
  }

  private stopSampler(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = undefined;
  }

  private sampleOnce(): void {
    const now = Date.now();
    this.samples++;
    const nodes = this.ourGpuNodes();
    this.record(ledgerViolations(nodes));
    this.statusTracker.observe(nodes, now);
    this.record(this.statusTracker.judge(this.podDeletions, now));
    for (const n of this.nodeNames) {
      const file = path.join(this.agentState, `${n}.json`);
      const journalBefore = readJournal(`${file}.in-use`);
      const realised = readState(file);
      const journalAfter = readJournal(`${file}.in-use`);
      if (!journalBefore || !realised || !journalAfter) this.fileSamplesSkipped++;
      this.record(fileViolations({ node: n, journalBefore, realised, journalAfter }));
    }
  }

  private record(found: Found[]): void {
    for (const f of this.log.add(found, Date.now())) progress(`VIOLATION ${f.kind}: ${f.detail}`);
  }

  private settledCheck(): Found[] {
    const podOwners = new Map<string, string>();
    for (const p of this.pods.list()) {
      const labels = p.metadata.labels ?? {};
      const owner = labels[PARTITION_LABEL] ? `GpuPartition/${labels[PARTITION_LABEL]}` : labels[JOB_LABEL] ? `TrainingJob/${labels[JOB_LABEL]}` : undefined;
      if (owner) podOwners.set(`${p.metadata.namespace}/${p.metadata.name}`, owner);
    }
    return settledViolations({ nodes: this.ourGpuNodes(), partitions: this.partitions.list(), jobs: this.jobs.list(), namespaces: new Set([this.o.namespace]), podOwners });
  }

  private async releasedCheck(): Promise<Found[]> {
    const ns = this.o.namespace;
    const [p, j, pods] = await Promise.all([
      this.client.list(RESOURCES.gpuPartition, { namespace: ns }).catch(() => undefined),
      this.client.list(RESOURCES.trainingJob, { namespace: ns }).catch(() => undefined),
      this.client.list(RESOURCES.pod, { namespace: ns }).catch(() => undefined),
    ]);
    if (!p || !j || !pods) return [{ kind: 'not-released', key: 'not-released:unknown', detail: 'could not list the namespace' }];
    return releasedViolations({ nodes: this.ourGpuNodes(), namespaces: new Set([ns]), objectsLeft: p.items.length + j.items.length, podsLeft: pods.items.length });
  }

  private async deleteEverything(): Promise<void> {
    const ns = this.o.namespace;
    const pods = this.pods.list().filter((p) => p.metadata.labels?.[PARTITION_LABEL]);
    await forEachLimit(pods, 8, async (p) => {
      await withRetry(`deleting pod ${p.metadata.name}`, () => this.client.delete(RESOURCES.pod, p.metadata.name ?? '', ns)).catch(() => undefined);
    });
    const all = [...this.partitions.list().map((x) => [RESOURCES.gpuPartition, x] as const), ...this.jobs.list().map((x) => [RESOURCES.trainingJob, x] as const)];
    await forEachLimit(all, 8, async ([ref, x]) => {
      await withRetry(`deleting ${ref.kind} ${x.metadata.name}`, () => this.client.delete(ref, x.metadata.name ?? '', ns, { propagationPolicy: 'Background' })).catch(() => undefined);
    });
    progress(`final deletes: ${all.length} objects, ${pods.length} consumer pods`);
  }

  /** Stale-leader writes from the audit log: global fencing check, and the writes of each woken replica. */
  private auditFindings(): { stale: Found[]; windows: Array<Record<string, unknown>>; total: number } {
    let text = '';
    try {
      text = fs.readFileSync(this.o.auditLog, 'utf8');
    } catch (err) {
      throw new Error(`reading the audit log ${this.o.auditLog} (hack/chaos.sh starts kube-apiserver with it)`, { cause: err });
    }
    const writes = parseAudit(text.split('\n')).filter((w) => w.at >= t0);
    const lease = { namespace: this.o.namespace, name: LEASE_NAME };
    const windows = this.staleWindows.map((w) => {
      const writesAfterWaking: WindowWrites = writesInWindow(writes, w.user, w.contAt, w.endAt);
      const takeover = takeoversBy(writes, lease, w.user, w.stopAt, w.contAt);
      return { replica: w.user, takenOverWhileStoppedAfterS: takeover.length ? round((takeover[0]! - w.stopAt) / 1000) : null, exitedAfterWaking: w.exited, writesAfterWaking };
    });
    for (const w of windows) progress(`stale leader ${w.replica}: taken over after ${w.takenOverWhileStoppedAfterS} s; after waking ${JSON.stringify(w.writesAfterWaking)}`);
    return { stale: staleWrites(writes, lease, new Set(this.replicas.map((r) => r.user))), windows, total: writes.length };
  }

  // ------------------------------------------------------------------ clean-up

  async cleanup(keepLogs: boolean): Promise<void> {
    this.stopSampler();
    for (const i of this.informers) i.stop();
    await Promise.all(this.replicas.map((r) => r.proc.shutdown()));
    await this.agent?.shutdown();
    const o = this.o;
    const quiet = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        if (!isNotFound(err)) progress(`cleanup: ${String(err)}`);
      }
    };
    for (const ref of [RESOURCES.gpuPartition, RESOURCES.trainingJob]) {
      const left = await this.client.list<{ metadata: { name: string } }>(ref, { namespace: o.namespace }).catch(() => ({ items: [] }));
      await forEachLimit(left.items, 8, async (x) => {
        await quiet(() => this.client.mergePatch(ref, x.metadata.name, { metadata: { finalizers: null } }, o.namespace));
        await quiet(() => this.client.delete(ref, x.metadata.name, o.namespace));
      });
    }
    if (this.nodesCreated) {
      await forEachLimit(this.nodeNames, 8, async (name) => {
        await quiet(() => this.client.delete(RESOURCES.gpuNode, name));
        await quiet(() => this.client.delete(RESOURCES.node, name));
      });
    }
    if (this.namespaceCreated) await quiet(() => this.client.delete(RESOURCES.namespace, o.namespace));
    if (keepLogs) {
      // hack/chaos.sh removes the control plane's state when it stops it: keep its logs (and the audit log) here.
      const dest = path.join(this.work, 'control-plane');
      fs.mkdirSync(dest, { recursive: true });
      const logs = path.join(o.clusterState, 'logs');
      for (const f of fs.existsSync(logs) ? fs.readdirSync(logs) : []) fs.copyFileSync(path.join(logs, f), path.join(dest, f));
      progress(`logs kept in ${this.work} (operators, agent, agent state; control-plane/ with the audit log)`);
    }
    else fs.rmSync(this.work, { recursive: true, force: true });
  }
}

/** p50/p95/max of probe latencies; a probe that never became Ready (NaN) counts as missing. */
function summaryOf(values: number[]): { n: number; missing: number; p50S: number | null; p95S: number | null; maxS: number | null } {
  const ok = values.filter((v) => Number.isFinite(v));
  const s = summarize(ok);
  const r = (x: number) => (Number.isFinite(x) ? round(x) : null);
  return { n: values.length, missing: values.length - ok.length, p50S: r(s.p50), p95S: r(s.p95), maxS: r(s.max) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function countKinds(kinds: FaultKind[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of kinds) out[k] = (out[k] ?? 0) + 1;
  return out;
}

function hasCondition(conditions: Condition[] | undefined, type: string, status: string): boolean {
  return (conditions ?? []).some((c) => c.type === type && c.status === status);
}

/** Whether a GpuNode's status says the agent is reconfiguring it right now. */
function reconfiguring(g: GpuNode): boolean {
  return (g.status?.conditions ?? []).some((c) => c.type === 'LayoutRealised' && c.reason === 'Reconfiguring');
}

/** The user name (client certificate CN) of a kubeconfig written by hack/kubeconfig.sh: its user entry's name. */
function userOfKubeconfig(file: string): string {
  const kc = loadKubeConfig(file);
  return kc.user.name || path.basename(file);
}

/** Device IDs in an in-use journal; undefined when missing or unreadable. */
function readJournal(file: string): Set<string> | undefined {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { held?: Array<{ deviceId: string }> };
    return new Set((j.held ?? []).map((h) => h.deviceId));
  } catch {
    return undefined;
  }
}

/** Realised device IDs of an agent state file; undefined when missing or unreadable. */
function readState(file: string): Set<string> | undefined {
  try {
    return realisedIds(JSON.parse(fs.readFileSync(file, 'utf8')) as Parameters<typeof realisedIds>[0]);
  } catch {
    return undefined;
  }
}

function manifest(obj: ChurnObject, namespace: string): GpuPartition | TrainingJob {
  const metadata = { name: obj.name, namespace, labels: { [CHAOS_LABEL]: 'churn' } };
  return obj.kind === 'GpuPartition' ? { apiVersion: API_VERSION, kind: 'GpuPartition', metadata, spec: obj.spec } : { apiVersion: API_VERSION, kind: 'TrainingJob', metadata, spec: obj.spec };
}

/** A pod consuming one slice of a profile partition (gated until the operator admits it). */
function consumerPod(p: ChurnObject & { kind: 'GpuPartition' }, namespace: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${p.name}-c`, namespace, labels: { [PARTITION_LABEL]: p.name, [CHAOS_LABEL]: 'consumer' } },
    spec: {
      schedulingGates: [{ name: PARTITION_GATE }],
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'notebook', image: 'registry.invalid/haein/notebook:chaos', resources: { limits: { [migResourceName(p.spec.profile ?? '')]: '1' } } }],
    },
  };
}

async function main(): Promise<void> {
  let o: ChaosOptions | 'help';
  try {
    o = parseChaosArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  if (o === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!fs.existsSync(path.join(ROOT, 'dist/src/cmd/operator.js'))) throw new Error(`dist/ is missing: run npm run build first\n${USAGE}`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'haein-chaos-'));
  const run = new ChaosRun(o, work);
  const stopping = cleanupOnSignals(progress, () => run.cleanup(true));
  let result: Record<string, unknown> | undefined;
  try {
    result = await run.execute();
  } finally {
    if (!stopping()) await run.cleanup(o.keepLogs || !result?.ok);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(result.ok ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (err instanceof Error && err.cause) process.stderr.write(`cause: ${String(err.cause)}\n`);
  process.exit(1);
});
