import { parseArgs } from 'node:util';
import { DEFAULT_DEVICE_PLUGIN_DIR, DEFAULT_POD_RESOURCES_SOCKET } from '../device-plugin/api-types.js';

/** Everything `haein-node-agent` is configured with (flags override environment variables). */
export interface NodeAgentConfig {
  /** Nodes to serve; empty when `nodeSelector` picks them. */
  nodes: string[];
  /** Label selector of Nodes to serve (kubelet-less simulated nodes only). */
  nodeSelector?: string;
  kubeconfig?: string;
  /** `nvidia.com/gpu.product` value of the simulated model. */
  model: string;
  gpus: number;
  /** NVLink domain label value for every node. */
  clique?: string;
  /** With several nodes: put this many consecutive nodes in one NVLink domain (e.g. an NVL72 rack). */
  nodesPerClique?: number;
  nvlinkGroupSize?: number;
  /** Single node: its state file. */
  stateFile?: string;
  /** Several nodes: directory of `<node>.json` state files. */
  stateDir: string;
  devicePlugin: boolean;
  devicePluginDir: string;
  podResourcesSocket: string;
  podResourcesIntervalMs: number;
  reconfigureDelayMs: number;
  /** Port of /healthz, /readyz, /metrics; 0 disables. */
  healthPort: number;
  logLevel?: string;
}

/** Flag reference printed by `--help`; also the source for docs/node-agent.md. */
export const USAGE = `haein-node-agent: Haein's node agent (simulated Blackwell GPUs, MIG realisation, kubelet device plugin)

Flags (environment variable in brackets):
  --node-name NAME            node to serve [NODE_NAME]
  --nodes A,B,...             serve several simulated nodes from one process (implies no device plugin) [HAEIN_NODES]
  --node-selector SELECTOR    serve every Node matching a label selector, re-listed every 30 s [HAEIN_NODE_SELECTOR]
  --kubeconfig PATH           kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster) [KUBECONFIG]
  --model PRODUCT             GPU model, nvidia.com/gpu.product value (default NVIDIA-B200) [HAEIN_GPU_MODEL]
  --gpus N                    GPUs per node (default 8) [HAEIN_GPU_COUNT]
  --clique VALUE              nvidia.com/gpu.clique label (<clusterUUID>.<cliqueID>) [HAEIN_GPU_CLIQUE]
  --nodes-per-clique N        with several nodes: N consecutive nodes share one clique [HAEIN_NODES_PER_CLIQUE]
  --nvlink-group-size N       GPUs per NVLink group on a node (default: all) [HAEIN_NVLINK_GROUP_SIZE]
  --state-file PATH           state file of a single node (default <state-dir>/<node>.json) [HAEIN_STATE_FILE]
  --state-dir DIR             directory of state files (default /var/lib/haein) [HAEIN_STATE_DIR]
  --device-plugin-dir DIR     kubelet device-plugin dir (default ${DEFAULT_DEVICE_PLUGIN_DIR}) [HAEIN_DEVICE_PLUGIN_DIR]
  --pod-resources-socket PATH kubelet PodResources socket (default ${DEFAULT_POD_RESOURCES_SOCKET}) [HAEIN_POD_RESOURCES_SOCKET]
  --pod-resources-interval-ms N  PodResources poll period (default 1000) [HAEIN_POD_RESOURCES_INTERVAL_MS]
  --reconfigure-delay-ms N    simulated time per MIG create/destroy/mode step (default 100) [HAEIN_RECONFIGURE_DELAY_MS]
  --no-device-plugin          no kubelet (KWOK): patch Node capacity/allocatable, in-use from running pods [HAEIN_NO_DEVICE_PLUGIN=true]
  --health-port N             /healthz, /readyz, /metrics port (default 8082; 0 disables) [HAEIN_HEALTH_PORT]
  --log-level LEVEL           error|warn|info|debug [LOG_LEVEL]
  --help
`;

function int(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${value}'`);
  return n;
}

/** Parses flags and environment into a config; throws with a readable message on bad input. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): NodeAgentConfig | 'help' {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'node-name': { type: 'string' },
      nodes: { type: 'string' },
      'node-selector': { type: 'string' },
      kubeconfig: { type: 'string' },
      model: { type: 'string' },
      gpus: { type: 'string' },
      clique: { type: 'string' },
      'nodes-per-clique': { type: 'string' },
      'nvlink-group-size': { type: 'string' },
      'state-file': { type: 'string' },
      'state-dir': { type: 'string' },
      'device-plugin-dir': { type: 'string' },
      'pod-resources-socket': { type: 'string' },
      'pod-resources-interval-ms': { type: 'string' },
      'reconfigure-delay-ms': { type: 'string' },
      'no-device-plugin': { type: 'boolean' },
      'health-port': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (v.help) return 'help';
  const list = (s: string | undefined): string[] => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const many = list(v.nodes ?? env.HAEIN_NODES);
  const single = v['node-name'] ?? env.NODE_NAME;
  const nodeSelector = v['node-selector'] ?? env.HAEIN_NODE_SELECTOR;
  const nodes = many.length > 0 ? many : single ? [single] : [];
  if (nodes.length === 0 && !nodeSelector) throw new Error('no node: give --node-name (or NODE_NAME), --nodes or --node-selector');
  if (many.length > 0 && nodeSelector) throw new Error('--nodes and --node-selector are mutually exclusive');
  const noDevicePlugin = v['no-device-plugin'] ?? ['1', 'true', 'yes'].includes((env.HAEIN_NO_DEVICE_PLUGIN ?? '').toLowerCase());
  const multi = nodes.length > 1 || Boolean(nodeSelector);
  if (multi && !noDevicePlugin) {
    throw new Error('serving several nodes needs --no-device-plugin: one kubelet device-plugin directory belongs to one node');
  }
  const stateFile = v['state-file'] ?? env.HAEIN_STATE_FILE;
  if (multi && stateFile) throw new Error('--state-file names one node\'s file; use --state-dir with several nodes');
  return {
    nodes,
    ...(nodeSelector ? { nodeSelector } : {}),
    kubeconfig: v.kubeconfig,
    model: v.model ?? env.HAEIN_GPU_MODEL ?? 'NVIDIA-B200',
    gpus: int('--gpus', v.gpus ?? env.HAEIN_GPU_COUNT, 8, 1),
    clique: v.clique ?? env.HAEIN_GPU_CLIQUE,
    nodesPerClique: v['nodes-per-clique'] ?? env.HAEIN_NODES_PER_CLIQUE ? int('--nodes-per-clique', v['nodes-per-clique'] ?? env.HAEIN_NODES_PER_CLIQUE, 1, 1) : undefined,
    nvlinkGroupSize: v['nvlink-group-size'] ?? env.HAEIN_NVLINK_GROUP_SIZE ? int('--nvlink-group-size', v['nvlink-group-size'] ?? env.HAEIN_NVLINK_GROUP_SIZE, 1, 1) : undefined,
    stateFile,
    stateDir: v['state-dir'] ?? env.HAEIN_STATE_DIR ?? '/var/lib/haein',
    devicePlugin: !noDevicePlugin,
    devicePluginDir: v['device-plugin-dir'] ?? env.HAEIN_DEVICE_PLUGIN_DIR ?? DEFAULT_DEVICE_PLUGIN_DIR,
    podResourcesSocket: v['pod-resources-socket'] ?? env.HAEIN_POD_RESOURCES_SOCKET ?? DEFAULT_POD_RESOURCES_SOCKET,
    podResourcesIntervalMs: int('--pod-resources-interval-ms', v['pod-resources-interval-ms'] ?? env.HAEIN_POD_RESOURCES_INTERVAL_MS, 1000, 50),
    reconfigureDelayMs: int('--reconfigure-delay-ms', v['reconfigure-delay-ms'] ?? env.HAEIN_RECONFIGURE_DELAY_MS, 100),
    healthPort: int('--health-port', v['health-port'] ?? env.HAEIN_HEALTH_PORT, 8082),
    logLevel: v['log-level'] ?? env.LOG_LEVEL,
  };
}

/** Clique label of the `position`-th node served (position in the node list). */
export function cliqueFor(config: NodeAgentConfig, position: number): string | undefined {
  if (!config.nodesPerClique) return config.clique;
  const cluster = config.clique?.split('.')[0] || 'haein-sim';
  return `${cluster}.${Math.floor(position / config.nodesPerClique)}`;
}
