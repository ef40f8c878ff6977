#!/usr/bin/env node
/**
 * Elastic-partition benchmark on a real control plane (kube-apiserver, kube-controller-manager, kube-scheduler,
 * KWOK): the operator and the node agent run as processes, as in production; a serving Deployment consumes an
 * elastic partition whose count follows its replicas. Measures, for a new consumer pod whose slice must be
 * carved first (the partition holds no idle slice), the time from the pod's creation (its first watch event)
 * to Running: `--steps` replicas added one after another, then `--burst` added at once. Also reads the
 * operator's `haein_consumer_wait_seconds` (creation → gate lifted). Prints a summary and one final JSON line,
 * and removes what it created. Run it through `npm run bench:autoscale` (hack/scale-bench.sh provides the
 * cluster).
 */
// First: checks the Node.js version before any dependency loads.
import '../src/cmd/require-node.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_VERSION, PARTITION_GATE, PARTITION_LABEL, migResourceName } from '../src/api/constants.js';
import type { PodObject } from '../src/api/pods.js';
import type { GpuNode, GpuPartition } from '../src/api/types.js';
import { KubeClient, RESOURCES, isAlreadyExists, isNotFound, loadKubeConfig } from '../src/k8s/client.js';
import { Informer } from '../src/k8s/informer.js';
import { parseAutoscaleArgs, USAGE, type AutoscaleOptions } from './autoscale/options.js';
import { optionsOrExit, waitFor } from './scale/cli.js';
import { getText } from './scale/http-get.js';
import { createKwokNodes, kwokNodeNames } from './scale/kwok-nodes.js';
import { histogramOf, parseProm, quantile } from './scale/prom-text.js';
import { freePort, startNodeProcess, stopProcess, exited, type Child } from './scale/processes.js';
import { summarize, type Summary } from './scale/stats.js';

const BENCH_LABEL = 'haein.dev/autoscale-bench';
const APP = 'llm-serving';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const progress = (msg: string): void => {
  process.stderr.write(`[autoscale ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** One run: what it started and created, and the pods' first-seen and Running times. */
class AutoscaleRun {
  private readonly children: Child[] = [];
  private readonly nodeNames: string[];
  private readonly seen = new Map<string, number>();
  private readonly running = new Map<string, number>();
  private pods: Informer<PodObject> | undefined;
  private metricsUrl = '';

  constructor(
    private readonly o: AutoscaleOptions,
    private readonly client: KubeClient,
    private readonly work: string,
  ) {
    this.nodeNames = kwokNodeNames(o.nodePrefix, o.nodes);
  }

  async execute(): Promise<Record<string, unknown>> {
    const o = this.o;
    const total = 1 + o.steps + o.burst;
    await this.client.create(RESOURCES.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } }).catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    });
    await createKwokNodes(this.client, this.nodeNames, BENCH_LABEL, o.nodePrefix, 4);
    await this.startAgent();
    await this.startOperator();
    this.pods = new Informer<PodObject>(this.client, RESOURCES.pod, { namespace: o.namespace, labelSelector: `app=${APP}` });
    this.pods.onChange((pod, _prev, deleted) => {
      const name = pod.metadata.name as string;
      if (deleted) return;
      if (!this.seen.has(name)) this.seen.set(name, Date.now());
      if (pod.status?.phase === 'Running' && !this.running.has(name)) this.running.set(name, Date.now());
    });
    await this.pods.start();

    await this.client.create(RESOURCES.gpuPartition, {
      apiVersion: API_VERSION,
      kind: 'GpuPartition',
      metadata: { name: APP, namespace: o.namespace },
      // No scale-down during the run: every new replica needs a newly carved slice.
      spec: { profile: o.profile, count: 1, nodeSelector: { [BENCH_LABEL]: o.nodePrefix }, autoscale: { min: 1, max: total, scaleDownDelaySeconds: 3600 } },
    } satisfies GpuPartition);
    await this.client.create(RESOURCES.deployment, deployment(o.namespace, migResourceName(o.profile)));
    await this.scaleTo(1, 'the first replica');

    const stepNames: string[] = [];
    for (let i = 1; i <= o.steps; i++) {
      const before = new Set(this.seen.keys());
      await this.scaleTo(1 + i, `replica ${1 + i}`);
      stepNames.push(...[...this.seen.keys()].filter((n) => !before.has(n)));
    }
    const beforeBurst = new Set(this.seen.keys());
    if (o.burst > 0) await this.scaleTo(total, `a burst of ${o.burst}`);
    const burstNames = [...this.seen.keys()].filter((n) => !beforeBurst.has(n));

    // The agent reports a running pod's slice in use on its next pass: give it a moment before counting.
    let distinct = 0;
    await waitFor(async () => (distinct = await this.distinctSlices()) >= total, 15_000, 250, () => this.childDied());
    const metrics = parseProm(await getText(this.metricsUrl));
    const gate = histogramOf(metrics, 'haein_consumer_wait_seconds', { elastic: 'true' });
    const latency = (names: string[]) => summarize(names.map((n) => ((this.running.get(n) ?? NaN) - (this.seen.get(n) ?? NaN)) / 1000).filter((x) => Number.isFinite(x)));
    return {
      profile: o.profile,
      nodes: o.nodes,
      gpus: o.gpus,
      replicas: total,
      slicesHeldByDistinctPods: distinct,
      createdToRunningSteps: latency(stepNames),
      createdToRunningBurst: latency(burstNames),
      gateLiftedP50: quantile(gate, 0.5),
      gateLiftedP95: quantile(gate, 0.95),
      gateLiftedCount: gate.count,
    };
  }

  /** Scales the Deployment to `n` and waits until `n` replicas run. */
  private async scaleTo(n: number, what: string): Promise<void> {
    await this.client.mergePatch(RESOURCES.deployment, APP, { spec: { replicas: n } }, this.o.namespace);
    const live = () => (this.pods?.list(this.o.namespace) ?? []).filter((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running').length;
    const ok = await waitFor(() => live() >= n, this.o.timeoutS * 1000, 50, () => this.childDied());
    if (!ok) throw new Error(`${what}: ${live()} of ${n} replicas Running after ${this.o.timeoutS} s (logs in ${this.work})`);
  }

  /** Slices the node agent reports held by a distinct pod of the Deployment. */
  private async distinctSlices(): Promise<number> {
    const { items } = await this.client.list<GpuNode>(RESOURCES.gpuNode);
    const holders = items
      .filter((g) => this.nodeNames.includes(g.metadata.name ?? ''))
      .flatMap((g) => (g.status?.gpus ?? []).flatMap((x) => x.slices))
      .filter((s) => s.inUse && s.pod?.namespace === this.o.namespace)
      .map((s) => s.pod?.name);
    return new Set(holders).size;
  }

  private childDied(): string | undefined {
    const dead = this.children.find((c) => exited(c));
    return dead ? `${dead.name} exited (log: ${dead.log})` : undefined;
  }

  private async startAgent(): Promise<void> {
    const o = this.o;
    const agent = startNodeProcess(
      'node-agent',
      path.join(ROOT, 'dist/src/cmd/node-agent.js'),
      [
        '--kubeconfig', o.kubeconfig, '--node-selector', `${BENCH_LABEL}=${o.nodePrefix}`, '--model', 'NVIDIA-B200', '--gpus', String(o.gpus),
        '--no-device-plugin', '--state-dir', path.join(this.work, 'agent-state'), '--health-port', String(await freePort()),
        '--reconfigure-delay-ms', String(o.reconfigureDelayMs),
      ],
      path.join(this.work, 'node-agent.log'),
      { LOG_LEVEL: o.logLevel },
    );
    this.children.push(agent);
    const served = new Set(this.nodeNames);
    const ok = await waitFor(async () => {
      const { items } = await this.client.list<GpuNode>(RESOURCES.gpuNode);
      return items.filter((g) => served.has(g.metadata.name ?? '') && g.status?.inventory).length >= o.nodes;
    }, 120_000, 250, () => this.childDied());
    if (!ok) throw new Error(`the node agent did not publish ${o.nodes} GpuNodes within 120 s (log: ${agent.log})`);
  }

  private async startOperator(): Promise<void> {
    const o = this.o;
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const operator = startNodeProcess(
      'operator',
      path.join(ROOT, 'dist/src/cmd/operator.js'),
      ['--kubeconfig', o.kubeconfig, `--namespace=${o.namespace}`, '--leader-elect=false', `--metrics-port=${metricsPort}`, `--health-port=${healthPort}`],
      path.join(this.work, 'operator.log'),
      { LOG_LEVEL: o.logLevel, POD_NAMESPACE: o.namespace },
    );
    this.children.push(operator);
    this.metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const ok = await waitFor(() => getText(`http://127.0.0.1:${healthPort}/readyz`).then(() => true, () => false), 120_000, 250, () => this.childDied());
    if (!ok) throw new Error(`the operator did not become ready within 120 s (log: ${operator.log})`);
  }

  /** Deletes the Deployment and the partition (its slices released by the operator), the namespace and the nodes. */
  async cleanup(): Promise<void> {
    const ns = this.o.namespace;
    try {
      await this.client.delete(RESOURCES.deployment, APP, ns).catch(() => undefined);
      await this.client.delete(RESOURCES.gpuPartition, APP, ns).catch(() => undefined);
      await waitFor(async () => (await this.client.get(RESOURCES.gpuPartition, APP, ns)) === undefined, 60_000);
    } finally {
      this.pods?.stop();
      for (const c of [...this.children].reverse()) await stopProcess(c);
      await this.client.delete(RESOURCES.namespace, ns).catch(() => undefined);
      for (const n of this.nodeNames) {
        await this.client.delete(RESOURCES.gpuNode, n).catch((err: unknown) => void (isNotFound(err) || progress(`deleting GpuNode ${n}: ${String(err)}`)));
        await this.client.delete(RESOURCES.node, n).catch(() => undefined);
      }
    }
  }
}

/** The serving Deployment: replicas consume the partition (label, gate, one slice each). */
function deployment(namespace: string, resource: string): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: APP, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: APP } },
      template: {
        metadata: { labels: { app: APP, [PARTITION_LABEL]: APP } },
        spec: {
          schedulingGates: [{ name: PARTITION_GATE }],
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'server', image: 'busybox', resources: { limits: { [resource]: 1 } } }],
        },
      },
    },
  };
}

function line(name: string, s: Summary): string {
  return `${name.padEnd(34)} n=${String(s.n).padStart(3)}  p50 ${s.p50.toFixed(2)} s  p95 ${s.p95.toFixed(2)} s  max ${s.max.toFixed(2)} s`;
}

async function main(): Promise<void> {
  const o = optionsOrExit(parseAutoscaleArgs, USAGE);
  if (!o) return;
  const perGpu = Math.floor(7 / Number(o.profile[0]));
  if (1 + o.steps + o.burst > o.nodes * o.gpus * perGpu) throw new Error(`${1 + o.steps + o.burst} replicas of ${o.profile} do not fit ${o.nodes} × ${o.gpus} GPUs`);
  const client = new KubeClient(loadKubeConfig(o.kubeconfig), { fieldManager: 'haein-autoscale-bench', userAgent: 'haein-autoscale-bench' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'haein-autoscale-'));
  const run = new AutoscaleRun(o, client, work);
  const loadBefore = os.loadavg();
  let result: Record<string, unknown>;
  try {
    result = await run.execute();
  } finally {
    await run.cleanup();
  }
  const loadAfter = os.loadavg();
  process.stdout.write(`${line('created → Running, one at a time', result.createdToRunningSteps as Summary)}\n`);
  process.stdout.write(`${line(`created → Running, burst`, result.createdToRunningBurst as Summary)}\n`);
  process.stdout.write(`gate lifted (operator histogram)   p50 ≈ ${Number(result.gateLiftedP50).toFixed(2)} s  p95 ≈ ${Number(result.gateLiftedP95).toFixed(2)} s  (${result.gateLiftedCount} pods)\n`);
  process.stdout.write(`machine load (1/5/15 min): before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}; ${os.cpus().length} CPUs\n`);
  process.stdout.write(`${JSON.stringify({ benchmark: 'autoscale', ...result, loadBefore, loadAfter, cpus: os.cpus().length })}\n`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`autoscale-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (err instanceof Error && err.cause) process.stderr.write(`cause: ${String(err.cause)}\n`);
  process.exit(1);
});
