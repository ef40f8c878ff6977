/**
 * Jest global setup for the integration and e2e projects: makes sure the local control plane is running
 * (`hack/cluster-up.sh` is idempotent) unless HAEIN_SKIP_CLUSTER_UP is set, and points KUBECONFIG at it.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, kubeconfigPath } from './cluster.js';

export default function globalSetup(): void {
  if (!process.env.HAEIN_SKIP_CLUSTER_UP) {
    execFileSync(join(REPO_ROOT, 'hack', 'cluster-up.sh'), { stdio: 'inherit', cwd: REPO_ROOT });
  }
  process.env.KUBECONFIG = kubeconfigPath();
}
