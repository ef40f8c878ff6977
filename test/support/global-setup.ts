/**
 * Jest global setup for the integration and e2e projects: makes sure the local control plane is running
 * (`hack/cluster-up.sh` is idempotent) unless HAEIN_SKIP_CLUSTER_UP is set, and points KUBECONFIG at it.
 * Self-contained on purpose: Jest loads global setup outside the module mapper that rewrites `.js` imports.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function globalSetup(): void {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  if (!process.env.HAEIN_SKIP_CLUSTER_UP) {
    execFileSync(join(repoRoot, 'hack', 'cluster-up.sh'), { stdio: 'inherit', cwd: repoRoot });
  }
  const state = process.env.HAEIN_STATE ?? join(process.env.TMPDIR ?? '/tmp', 'haein-cluster');
  process.env.KUBECONFIG = process.env.HAEIN_TEST_KUBECONFIG ?? join(state, 'admin.kubeconfig');
}
