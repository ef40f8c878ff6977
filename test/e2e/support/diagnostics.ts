/**
 * Failure diagnostics for e2e tests: `kubectl describe` of the test's pods and Haein objects, events, the node,
 * and the tails of the kubelet, containerd, node-agent and operator logs, written to one file per failure.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, stateDir } from '../../support/cluster.js';
import { readNodeModeEnv } from './node-mode.js';

/** Last `lines` lines of a file, or a note when it cannot be read. */
export function tailFile(path: string, lines: number): string {
  if (!existsSync(path)) return `(${path} does not exist)\n`;
  const text = readFileSync(path, 'utf8');
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines - 1)).join('\n');
}

async function section(title: string, args: string[]): Promise<string> {
  const out = await kubectl(args, { allowFailure: true }).catch((err: unknown) => String(err));
  return `===== ${title}: kubectl ${args.join(' ')} =====\n${out}\n`;
}

/** Collects everything useful for one failed test; `namespaces` are the test's namespaces. */
export async function collectDiagnostics(namespaces: string[], opts: { logLines?: number } = {}): Promise<string> {
  const lines = opts.logLines ?? 80;
  const parts: string[] = [await section('pods', ['get', 'pods', '-A', '-o', 'wide'])];
  const env = readNodeModeEnv();
  if (env) parts.push(await section('node', ['describe', 'node', env.nodeName]));
  parts.push(await section('haein objects', ['get', 'gpunodes,gpupartitions,trainingjobs', '-A', '-o', 'wide']));
  for (const ns of namespaces) {
    parts.push(await section(`pods in ${ns}`, ['describe', 'pods', '-n', ns]));
    parts.push(await section(`partitions and jobs in ${ns}`, ['describe', 'gpupartitions,trainingjobs', '-n', ns]));
    parts.push(await section(`events in ${ns}`, ['get', 'events', '-n', ns, '--sort-by=.lastTimestamp']));
    parts.push(await section(`container logs in ${ns}`, ['logs', '-n', ns, '--all-containers', '--prefix', '--tail=100', '-l', 'app.kubernetes.io/name']));
  }
  const logDir = join(stateDir(), 'logs');
  const logs = existsSync(logDir) ? readdirSync(logDir).filter((f) => f.endsWith('.log')) : [];
  for (const wanted of ['kubelet.log', 'containerd.log', 'haein-node-agent.log', 'haein-operator.log', 'kube-apiserver.log']) {
    if (logs.includes(wanted)) parts.push(`===== ${wanted} (last ${lines} lines) =====\n${tailFile(join(logDir, wanted), lines)}\n`);
  }
  return parts.join('\n');
}

/** Writes the diagnostics to $HAEIN_STATE/e2e-diagnostics and prints where, with a short excerpt. */
export async function dumpDiagnostics(label: string, namespaces: string[]): Promise<string> {
  const text = await collectDiagnostics(namespaces);
  const dir = join(stateDir(), 'e2e-diagnostics');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${label.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 80)}.txt`);
  writeFileSync(file, text);
  console.error(`e2e diagnostics for "${label}" written to ${file}\n${text.slice(0, 6000)}`);
  return file;
}

/** Runs a test body; on failure dumps diagnostics for its namespaces, then rethrows the original error. */
export async function withDiagnostics<T>(label: string, namespaces: string[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    await dumpDiagnostics(label, namespaces).catch((dumpErr: unknown) => console.error('collecting diagnostics failed', dumpErr));
    throw err;
  }
}
