/**
 * Makes sure node mode (a real kubelet on containerd, `hack/node/node-up.sh`) is running for an e2e suite, or
 * fails with a message that says exactly how to get it — e2e tests never silently skip.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { GpuNode, RealisedGpu } from '../../../src/api/types.js';
import { REPO_ROOT, eventually, kubectl, stateDir } from '../../support/cluster.js';
import { type NodeModeEnv, parseEnvFile, toNodeModeEnv } from './env-file.js';

const run = promisify(execFile);

/** Path of the facts file node-up.sh writes. */
export function nodeEnvPath(): string {
  return join(stateDir(), 'node', 'env');
}

/** Facts about the running node, or undefined when node mode is not up. */
export function readNodeModeEnv(): NodeModeEnv | undefined {
  const path = nodeEnvPath();
  if (!existsSync(path)) return undefined;
  return toNodeModeEnv(parseEnvFile(readFileSync(path, 'utf8')));
}

/** Whether the Node object reports Ready=True. */
export async function nodeReady(name: string): Promise<boolean> {
  const out = await kubectl(['get', 'node', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], {
    allowFailure: true,
  });
  return out.trim() === 'True';
}

/** Runs a hack/ script with inherited output (progress stays visible), a time limit and optional extra env. */
export function runScript(script: string, args: string[] = [], timeoutMs = 20 * 60_000, extraEnv: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(REPO_ROOT, script), args, { cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, ...extraEnv } });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${script} could not be started`, { cause: err }));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${script} ${args.join(' ')} failed (${signal ? `killed by ${signal}` : `exit ${code}`})`));
    });
  });
}

/**
 * Returns the running node's facts. When node mode is down it is started with node-up.sh (idempotent; also
 * starts the control plane), unless HAEIN_E2E_NO_NODE_UP is set. Fails with the fix when that is impossible
 * (not root) or when the node does not become Ready.
 */
export async function ensureNodeMode(): Promise<NodeModeEnv> {
  let env = readNodeModeEnv();
  if (!env || !(await nodeReady(env.nodeName))) {
    if (process.env.HAEIN_E2E_NO_NODE_UP) {
      throw new Error(`node mode is not up (${nodeEnvPath()} missing or node not Ready) and HAEIN_E2E_NO_NODE_UP is set: run 'sudo hack/node/node-up.sh' first`);
    }
    if (process.getuid?.() !== 0) {
      throw new Error(
        "the e2e suite needs node mode (a real kubelet + containerd), which needs root. Run 'sudo make node-up' and then the tests as root, or run them with sudo.",
      );
    }
    await runScript('hack/node/node-up.sh');
    env = readNodeModeEnv();
    if (!env) throw new Error(`node-up.sh succeeded but ${nodeEnvPath()} is missing`);
  }
  const name = env.nodeName;
  await eventually(() => nodeReady(name), { timeoutMs: 60_000, what: `node ${name} Ready` });
  return env;
}

/** Images present in the node's containerd (k8s.io namespace), e.g. to check an import. */
export async function nodeImages(env: NodeModeEnv): Promise<string[]> {
  const { stdout } = await run('ctr', ['--address', env.containerdSocket, '--namespace', 'k8s.io', 'images', 'ls', '-q']);
  return stdout.split('\n').filter((l) => l !== '');
}

/** Builds the Haein image from dist/ if its inputs changed and imports it into the node's containerd. */
export async function ensureHaeinImage(env: NodeModeEnv): Promise<void> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'src', 'cmd', 'operator.js'))) {
    throw new Error("dist/src/cmd/operator.js is missing: run 'npm run build' before the e2e suite (the Haein image is built from dist/)");
  }
  await runScript('hack/images/import.sh', ['haein'], 10 * 60_000);
  const images = await nodeImages(env);
  if (!images.includes(env.haeinImage)) {
    throw new Error(`image ${env.haeinImage} not in containerd after import; found: ${images.join(', ')}`);
  }
}

/** The node's allocatable resources as the API server reports them. */
async function allocatableOf(node: string): Promise<Record<string, string>> {
  const out = await kubectl(['get', 'node', node, '-o', 'jsonpath={.status.allocatable}']);
  return JSON.parse(out || '{}') as Record<string, string>;
}

/** Value of one allocatable resource of the node (0 when absent). */
export async function allocatable(node: string, resource: string): Promise<number> {
  return Number((await allocatableOf(node))[resource] ?? 0);
}

/** Pid of a node-mode process from its pid file under the state dir (`kubelet`, `haein-node-agent`), if alive. */
export function nodeProcessPid(name: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(stateDir(), 'pids', `${name}.pid`), 'utf8').trim());
  } catch {
    return undefined;
  }
  return processAlive(pid) ? pid : undefined;
}

/** Whether `pid` runs and is not a zombie. */
function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** Waits until `pid` has exited. */
async function exited(pid: number, what: string): Promise<void> {
  await eventually(async () => !processAlive(pid), { timeoutMs: 30_000, intervalMs: 100, what });
}

/**
 * Restarts the node-mode kubelet with the command line it runs with (read from /proc), as a kubelet upgrade or
 * crash-restart would: SIGTERM to its process group, then the same binary and flags in a new session, logging to
 * the same file, with its pid file updated so node-down.sh stops the new one. Running containers are untouched.
 * Returns the time of the restart.
 */
export async function restartKubelet(): Promise<number> {
  const pid = nodeProcessPid('kubelet');
  if (pid === undefined) throw new Error('the node-mode kubelet is not running (no live pid in the state dir)');
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  const restartedAt = Date.now();
  process.kill(-pid, 'SIGTERM');
  await exited(pid, `kubelet ${pid} to exit`);
  const log = openSync(join(stateDir(), 'logs', 'kubelet.log'), 'a');
  try {
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    if (child.pid === undefined) throw new Error(`restarting the kubelet (${argv[0]}) failed`);
    writeFileSync(join(stateDir(), 'pids', 'kubelet.pid'), `${child.pid}\n`);
  } finally {
    closeSync(log);
  }
  return restartedAt;
}

/** SIGKILLs the host node agent's process group (no shutdown code runs) and waits until it is gone. */
export async function killNodeAgent(): Promise<void> {
  const pid = nodeProcessPid('haein-node-agent');
  if (pid === undefined) throw new Error('the host node agent is not running');
  process.kill(-pid, 'SIGKILL');
  await exited(pid, `node agent ${pid} to die`);
}

/** (Re)starts the host node agent through hack/node/agent.sh; `env` reaches the agent (e.g. HAEIN_RECONFIGURE_DELAY_MS). */
export async function startNodeAgent(env: Record<string, string> = {}, action: 'start' | 'restart' = 'start'): Promise<void> {
  await runScript('hack/node/agent.sh', [action], 3 * 60_000, env);
}

/**
 * What the node's allocatable should show for a realised GPU layout: `nvidia.com/gpu` per healthy whole GPU and
 * `nvidia.com/mig-<profile>` per slice of a healthy MIG GPU.
 */
export function expectedAllocatable(gpus: readonly RealisedGpu[]): Record<string, number> {
  const expected: Record<string, number> = { 'nvidia.com/gpu': 0 };
  for (const gpu of gpus) {
    if (gpu.health !== 'Healthy') continue;
    if (gpu.mode === 'whole') expected['nvidia.com/gpu'] += 1;
    else for (const slice of gpu.slices) expected[`nvidia.com/mig-${slice.profile}`] = (expected[`nvidia.com/mig-${slice.profile}`] ?? 0) + 1;
  }
  return expected;
}

/**
 * Waits until the node agent has realised the GpuNode's current spec and the kubelet's allocatable shows it. A
 * suite that rewrites the spec waits for this before it reads a baseline or hands the node to the next suite:
 * the agent and the kubelet apply a layout seconds after the write, and a baseline read in between is stale.
 */
export async function waitForSettledLayout(node: string, timeoutMs = 90_000): Promise<void> {
  await eventually(
    async () => {
      const obj = JSON.parse(await kubectl(['get', 'gpunode', node, '-o', 'json'])) as GpuNode;
      const status = obj.status;
      if ((status?.observedGeneration ?? -1) < (obj.metadata.generation ?? 0)) return false;
      if (status?.conditions?.find((c) => c.type === 'LayoutRealised')?.status !== 'True') return false;
      const actual = await allocatableOf(node);
      const expected = expectedAllocatable(status.gpus ?? []);
      const resources = new Set([...Object.keys(expected), ...Object.keys(actual).filter((r) => r.startsWith('nvidia.com/'))]);
      return [...resources].every((resource) => Number(actual[resource] ?? 0) === (expected[resource] ?? 0));
    },
    { timeoutMs, intervalMs: 250, what: `GpuNode ${node}'s spec realised and shown in the node's allocatable` },
  );
}
