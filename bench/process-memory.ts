/**
 * Idle process memory and CLI start-up time: starts an operator and a node agent (serving one KWOK node) of
 * this build — and, with `--haein-dist`, of another build at the same time, so both see the same machine load —
 * lets them idle, and reads their resident memory from /proc; then times `kubectl-haein --help` and
 * `kubectl-haein top`, the builds alternating. Ends with ONE JSON line of figures.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KubeClient, RESOURCES, isNotFound, loadKubeConfig } from '../src/k8s/client.js';
import { getText } from './scale/http-get.js';
import { createKwokNodes } from './scale/kwok-nodes.js';
import { freePort, memoryOf, startNodeProcess, stopProcess, type Child } from './scale/processes.js';
import { summarize } from './scale/stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LABEL = 'haein.dev/memory-bench';

const USAGE = `process-memory [flags]   (needs a control plane with Haein's CRDs, e.g. hack/cluster-up.sh + kubectl apply -f crds)
  --kubeconfig PATH       the cluster (default: $KUBECONFIG, ~/.kube/config)
  --haein-dist DIR        also measure another build's dist/ (e.g. main's), side by side with this one
  --idle-seconds N        how long the processes idle before memory is read (default 30)
  --cli-runs N            kubectl-haein runs per command and build (default 5)
`;

interface Build {
  label: string;
  dist: string;
  node: string;
}

interface Figures {
  operatorRssMiB: number;
  operatorPeakRssMiB: number;
  agentRssMiB: number;
  agentPeakRssMiB: number;
  cliHelpMs: number;
  cliTopMs: number;
}

const mib = (bytes: number | undefined) => Math.round(((bytes ?? NaN) / 2 ** 20) * 10) / 10;
const say = (msg: string) => process.stderr.write(`[process-memory] ${msg}\n`);

async function waitReady(port: number, child: Child, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited (log: ${child.log})`);
    if (await getText(`http://127.0.0.1:${port}/readyz`).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${child.name} not ready within ${timeoutMs / 1000} s (log: ${child.log})`);
}

/** Starts one build's operator and agent; resolves once both answer /readyz. */
async function startBuild(b: Build, kubeconfig: string, work: string): Promise<Child[]> {
  const [metrics, opHealth, agentHealth] = [await freePort(), await freePort(), await freePort()];
  const stateDir = path.join(work, `agent-${b.label}`);
  fs.mkdirSync(stateDir, { recursive: true });
  const operator = startNodeProcess(
    `operator (${b.label})`,
    path.join(b.dist, 'src/cmd/operator.js'),
    ['--kubeconfig', kubeconfig, `--metrics-port=${metrics}`, `--health-port=${opHealth}`, '--leader-elect=false'],
    path.join(work, `operator-${b.label}.log`),
    { LOG_LEVEL: 'warn', POD_NAMESPACE: 'default', POD_NAME: `memory-bench-${b.label}` },
  );
  const agent = startNodeProcess(
    `node agent (${b.label})`,
    path.join(b.dist, 'src/cmd/node-agent.js'),
    ['--kubeconfig', kubeconfig, '--node-selector', `${LABEL}=${b.node}`, '--model', 'NVIDIA-B200', '--gpus', '8', '--no-device-plugin', '--state-dir', stateDir, '--health-port', String(agentHealth)],
    path.join(work, `agent-${b.label}.log`),
    { LOG_LEVEL: 'warn' },
  );
  await Promise.all([waitReady(opHealth, operator), waitReady(agentHealth, agent)]);
  return [operator, agent];
}

/** Wall time of `node <dist>/src/cmd/kubectl-haein.js args…` in ms; throws when it exits non-zero. */
function timeCli(b: Build, args: string[], kubeconfig: string): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(b.dist, 'src/cmd/kubectl-haein.js'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, KUBECONFIG: kubeconfig },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`kubectl-haein ${args.join(' ')} (${b.label}) exited ${code}: ${stderr}`));
      else resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      'haein-dist': { type: 'string' },
      'idle-seconds': { type: 'string', default: '30' },
      'cli-runs': { type: 'string', default: '5' },
      help: { type: 'boolean' },
    },
  });
  if (v.help) return void process.stdout.write(USAGE);
  const kubeconfig = v.kubeconfig ?? process.env.KUBECONFIG ?? path.join(os.homedir(), '.kube', 'config');
  const idleMs = Number(v['idle-seconds']) * 1000;
  const cliRuns = Number(v['cli-runs']);
  const builds: Build[] = [{ label: 'this', dist: path.join(ROOT, 'dist'), node: 'memory-bench-this' }];
  if (v['haein-dist']) builds.push({ label: 'other', dist: path.resolve(v['haein-dist']), node: 'memory-bench-other' });
  for (const b of builds) if (!fs.existsSync(path.join(b.dist, 'src/cmd/operator.js'))) throw new Error(`${b.dist} has no src/cmd/operator.js: build it first`);

  const client = new KubeClient(loadKubeConfig(kubeconfig), { fieldManager: 'haein-memory-bench' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'haein-memory-bench-'));
  const children: Child[] = [];
  const loadBefore = os.loadavg()[0]!;
  const figures: Record<string, Partial<Figures>> = {};
  try {
    for (const b of builds) await createKwokNodes(client, [b.node], LABEL, b.node, 1);
    say(`starting ${builds.map((b) => b.label).join(' and ')} (logs in ${work}, kept when the run fails)`);
    for (const started of await Promise.all(builds.map((b) => startBuild(b, kubeconfig, work)))) children.push(...started);
    say(`idling ${idleMs / 1000} s`);
    await new Promise((r) => setTimeout(r, idleMs));
    builds.forEach((b, i) => {
      const op = memoryOf(children[2 * i]!.pid);
      const agent = memoryOf(children[2 * i + 1]!.pid);
      figures[b.label] = { operatorRssMiB: mib(op?.rss), operatorPeakRssMiB: mib(op?.peakRss), agentRssMiB: mib(agent?.rss), agentPeakRssMiB: mib(agent?.peakRss) };
    });
    await Promise.all(children.map((c) => stopProcess(c)));
    const times = new Map<string, number[]>();
    for (let run = 0; run < cliRuns; run++) {
      for (const b of builds) {
        for (const [cmd, args] of [['help', ['--help']], ['top', ['top', '-A']]] as const) {
          const key = `${b.label}/${cmd}`;
          times.set(key, [...(times.get(key) ?? []), await timeCli(b, [...args], kubeconfig)]);
        }
      }
    }
    for (const b of builds) Object.assign(figures[b.label]!, { cliHelpMs: Math.round(summarize(times.get(`${b.label}/help`)!).p50), cliTopMs: Math.round(summarize(times.get(`${b.label}/top`)!).p50) });
  } finally {
    await Promise.all(children.map((c) => stopProcess(c)));
    for (const b of builds) {
      await client.delete(RESOURCES.gpuNode, b.node).catch((e) => isNotFound(e) || say(`deleting GpuNode ${b.node}: ${String(e)}`));
      await client.delete(RESOURCES.node, b.node).catch((e) => isNotFound(e) || say(`deleting Node ${b.node}: ${String(e)}`));
    }
  }
  fs.rmSync(work, { recursive: true, force: true });
  const load = { before: loadBefore, after: os.loadavg()[0]!, cpus: os.cpus().length };
  for (const [label, f] of Object.entries(figures)) {
    say(`${label}: operator ${f.operatorRssMiB} MiB (peak ${f.operatorPeakRssMiB}), node agent ${f.agentRssMiB} MiB (peak ${f.agentPeakRssMiB}), kubectl-haein --help ${f.cliHelpMs} ms, top ${f.cliTopMs} ms`);
  }
  say(`1-minute load average ${load.before.toFixed(1)} → ${load.after.toFixed(1)} on ${load.cpus} CPUs`);
  process.stdout.write(`${JSON.stringify({ bench: 'process-memory', idleSeconds: idleMs / 1000, cliRuns, load, ...figures })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n${USAGE}`);
  process.exit(1);
});
