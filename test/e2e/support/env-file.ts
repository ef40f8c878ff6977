/**
 * Parsing of the KEY=VALUE facts file that `hack/node/node-up.sh` writes for tests and scripts. Pure: no I/O.
 */

/** Facts about the running node-mode node, as written by node-up.sh. */
export interface NodeModeEnv {
  nodeName: string;
  nodeIp: string;
  gpus: number;
  model: string;
  /** `host` when the node agent runs as a host process, `none` when it is left to the chart. */
  agentMode: string;
  devicePluginDir: string;
  podResourcesSocket: string;
  containerdSocket: string;
  podLogDir: string;
  kubeletRoot: string;
  nodeState: string;
  apiPort: number;
  pauseImage: string;
  busyboxImage: string;
  haeinImage: string;
  haeinImageRepo: string;
  haeinImageTag: string;
}

/** Parses `KEY=VALUE` lines; blank lines and `#` comments are skipped, the first `=` splits. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`malformed line in node env file: ${JSON.stringify(raw)}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

const KEYS: Record<keyof NodeModeEnv, string> = {
  nodeName: 'HAEIN_NODE_NAME',
  nodeIp: 'HAEIN_NODE_IP',
  gpus: 'HAEIN_NODE_GPUS',
  model: 'HAEIN_NODE_MODEL',
  agentMode: 'HAEIN_NODE_AGENT',
  devicePluginDir: 'HAEIN_DEVICE_PLUGIN_DIR',
  podResourcesSocket: 'HAEIN_POD_RESOURCES_SOCKET',
  containerdSocket: 'HAEIN_CONTAINERD_SOCKET',
  podLogDir: 'HAEIN_POD_LOG_DIR',
  kubeletRoot: 'HAEIN_KUBELET_ROOT',
  nodeState: 'HAEIN_NODE_STATE',
  apiPort: 'HAEIN_API_PORT',
  pauseImage: 'HAEIN_PAUSE_IMAGE',
  busyboxImage: 'HAEIN_BUSYBOX_IMAGE',
  haeinImage: 'HAEIN_IMAGE',
  haeinImageRepo: 'HAEIN_IMAGE_REPO',
  haeinImageTag: 'HAEIN_IMAGE_TAG',
};

/** Turns the parsed file into typed facts; names every missing key (an older node-up wrote the file). */
export function toNodeModeEnv(vars: Record<string, string>): NodeModeEnv {
  const missing = Object.values(KEYS).filter((k) => !(k in vars));
  if (missing.length > 0) {
    throw new Error(`node env file lacks ${missing.join(', ')}: restart node mode (hack/node/node-down.sh, node-up.sh)`);
  }
  const num = (key: string): number => {
    const n = Number(vars[key]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`node env file: ${key}=${vars[key]} is not a non-negative integer`);
    return n;
  };
  const out = {} as Record<keyof NodeModeEnv, string | number>;
  for (const [field, key] of Object.entries(KEYS) as Array<[keyof NodeModeEnv, string]>) {
    out[field] = field === 'gpus' || field === 'apiPort' ? num(key) : vars[key];
  }
  return out as unknown as NodeModeEnv;
}
