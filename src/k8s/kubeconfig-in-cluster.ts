/**
 * The in-cluster configuration a pod gets: the API server from KUBERNETES_SERVICE_HOST/PORT and the service
 * account's token, CA and namespace from its mounted files. The token is a tokenFile, so a rotated (bound)
 * token is picked up without a restart.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import type { KubeconfigSelection } from './kubeconfig.js';

/** Where the kubelet mounts the service account's files. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Whether the environment says this process runs in a pod. */
export function inClusterEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
}

/**
 * The in-cluster cluster, user (tokenFile) and namespace; `root` prefixes the service-account folder (tests).
 * Throws when the environment or the token is missing.
 */
export function inClusterSelection(root = '', env: NodeJS.ProcessEnv = process.env): KubeconfigSelection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set');
  const dir = nodePath.join(root, SERVICE_ACCOUNT_DIR);
  const tokenFile = nodePath.join(dir, 'token');
  // Fail at start, not at the first request, when the token is not mounted.
  try {
    fs.accessSync(tokenFile, fs.constants.R_OK);
  } catch (cause) {
    throw new Error(`in-cluster config: cannot read the service account token ${tokenFile}`, { cause });
  }
  let namespace: string | undefined;
  try {
    namespace = fs.readFileSync(nodePath.join(dir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    // The namespace file is optional; commands fall back to "default".
  }
  const caFile = nodePath.join(dir, 'ca.crt');
  return {
    context: 'in-cluster',
    cluster: {
      name: 'in-cluster',
      server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
      ...(fs.existsSync(caFile) ? { certificateAuthority: caFile } : {}),
      insecureSkipTlsVerify: false,
    },
    user: { name: 'in-cluster', tokenFile },
    ...(namespace ? { namespace } : {}),
  };
}
