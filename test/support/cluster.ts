/**
 * Test harness for suites that run against the real local control plane started by `hack/cluster-up.sh`
 * (integration) or with node mode (`hack/node/node-up.sh`, end-to-end).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeClient, KubeConfig, RESOURCES, loadKubeConfig } from '../../src/k8s/client.js';

const run = promisify(execFile);

/** Repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** State directory of the local cluster (same default as hack/lib.sh). */
export function stateDir(): string {
  return process.env.HAEIN_STATE ?? join(process.env.TMPDIR ?? '/tmp', 'haein-cluster');
}

/** Path of the admin kubeconfig of the local cluster. */
export function kubeconfigPath(): string {
  return process.env.HAEIN_TEST_KUBECONFIG ?? join(stateDir(), 'admin.kubeconfig');
}

/** KubeConfig for the running local cluster; fails with a hint when the cluster is not up. */
export function getKubeConfig(): KubeConfig {
  const path = kubeconfigPath();
  if (!existsSync(path)) {
    throw new Error(`no local cluster: ${path} is missing. Start it with 'make cluster-up' (or run 'make test-integration').`);
  }
  return loadKubeConfig(path);
}

let toolsDir: string | undefined;

/** Directory holding kubectl and helm (extracted from the npm layer package by hack/tools.sh). */
export async function toolDir(): Promise<string> {
  if (!toolsDir) {
    const { stdout } = await run(join(REPO_ROOT, 'hack', 'tools.sh'), { cwd: REPO_ROOT });
    toolsDir = stdout.trim();
  }
  return toolsDir;
}

/** Runs kubectl against the local cluster and returns stdout; rejects with stderr in the message. */
export async function kubectl(args: string[], opts: { input?: string; allowFailure?: boolean } = {}): Promise<string> {
  const bin = join(await toolDir(), 'kubectl');
  return new Promise((resolvePromise, reject) => {
    const child = execFile(bin, ['--kubeconfig', kubeconfigPath(), ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && !opts.allowFailure) {
        reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr || err.message}`, { cause: err }));
      } else {
        resolvePromise(err ? `${stdout}${stderr}` : stdout);
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The fields of a core/v1 Event the tests read. */
export interface EventLike {
  type: string;
  reason: string;
  message: string;
  involvedObject: { kind: string; name: string; namespace?: string };
}

/** Applies the CRDs of record and waits until the API server serves them. */
export async function installCrds(): Promise<void> {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(REPO_ROOT, 'crds')]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', join(REPO_ROOT, 'crds')]);
}

/** A namespace created for one test file; `cleanup` deletes it without waiting for finalization. */
export interface TestNamespace {
  name: string;
  cleanup(): Promise<void>;
}

/** Creates a uniquely named namespace, labelled so leftovers are easy to find. */
export async function createTestNamespace(prefix: string): Promise<TestNamespace> {
  const name = `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e4)}`.toLowerCase().slice(0, 63);
  await kubectl(['create', 'namespace', name]);
  await kubectl(['label', 'namespace', name, 'haein.dev/test=true']);
  return {
    name,
    cleanup: async () => {
      await kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found'], { allowFailure: true });
    },
  };
}

/**
 * Polls `check` until it returns a value other than undefined/false, or fails with its last error. `what` names
 * the awaited state in the failure message; a function is called at the deadline, so it can report what was seen.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string | (() => string) } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const what = typeof opts.what === 'function' ? opts.what() : opts.what;
      throw new Error(`timed out waiting for ${what ?? 'condition'}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

/**
 * Waits until the local API server answers 401 to `token` (a revoked service-account token: the server caches
 * token reviews for a few seconds, so a revocation is not seen at once).
 */
export async function waitUntilTokenRejected(token: string): Promise<void> {
  const { cluster } = getKubeConfig();
  const client = new KubeClient(new KubeConfig({ context: 'token-check', cluster, user: { name: 'token-check', token } }));
  await eventually(
    async () => {
      const err = await client.list(RESOURCES.namespace).then(() => undefined, (e: { code?: number }) => e);
      return err?.code === 401;
    },
    { timeoutMs: 60_000, intervalMs: 500, what: 'the API server to reject the revoked token' },
  );
}

