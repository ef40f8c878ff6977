/** Command-line flags of the operator scale benchmark (`dist/bench/operator-scale.js`). Pure. */
import { flagValues, numberFlag } from '../flags.js';

/** Resolved benchmark settings. */
export interface ScaleOptions {
  /** Admin kubeconfig of the control plane under test. */
  kubeconfig: string;
  /** Control-plane state directory (pids of kube-apiserver, etcd, kwok…) for CPU accounting; optional. */
  clusterState?: string;
  /** KWOK nodes to create. */
  nodes: number;
  /** Simulated GPUs per node. */
  gpus: number;
  /** Consecutive nodes per NVLink clique. */
  nodesPerClique: number;
  /** GpuPartitions to apply. */
  partitions: number;
  /** TrainingJobs to apply (whole-GPU gangs, sameClique). */
  jobs: number;
  /** Workload seed. */
  seed: number;
  /** Give up waiting for Ready/Running after this many seconds. */
  timeoutS: number;
  /** Give up waiting for the release after this many seconds. */
  releaseTimeoutS: number;
  /** Seconds to keep everything in place after all is Ready, measuring the steady-state write rate. */
  holdS: number;
  /** Run the operator with Lease-based leader election. */
  leaderElect: boolean;
  /** Operator reconcile workers per controller. */
  workers: number;
  /** Namespace of the benchmark's partitions and jobs (created and deleted by the run). */
  namespace: string;
  /** Name prefix and selector label value of the benchmark's nodes. */
  nodePrefix: string;
  /** Simulated time per MIG step in the node agent. */
  reconfigureDelayMs: number;
  /** Concurrent create/delete requests of the benchmark itself. */
  applyConcurrency: number;
  /** LOG_LEVEL of the operator and the agent. */
  logLevel: string;
  /** Keep the operator/agent logs (their directory is printed) instead of deleting them. */
  keepLogs: boolean;
  /** The operator's V8 old-generation limit in MiB (`--max-old-space-size`), as the chart sets it; 0: Node's default. */
  operatorHeapMiB: number;
  /** The operator's --max-semi-space-size in MiB (0: Node's own default). */
  operatorSemiSpaceMiB: number;
  /** Run the operator under `node --cpu-prof` and print where its CPU went. */
  profileOperator: boolean;
  /** Single partitions created one at a time on the quiet cluster before the burst (create → Ready each). */
  quietSamples: number;
  /** Trivial objects (ConfigMaps) created at the same parallelism to time the API server alone. */
  rawCreates: number;
  /** With more demand than capacity: the run counts as settled after this many seconds without a change. */
  settleQuietS: number;
  /** Build whose operator and node agent are measured (its `dist/`); default this checkout's. */
  haeinDist?: string;
}

/** Usage text. */
export const USAGE = `operator-scale [flags]
  --kubeconfig PATH            admin kubeconfig of the cluster (required)
  --cluster-state DIR          hack/cluster-up.sh state dir, for control-plane CPU figures (optional)
  --nodes N                    KWOK nodes (default 128)
  --gpus N                     B200 GPUs per node (default 8)
  --nodes-per-clique N         nodes per NVLink clique (default 8)
  --partitions N               GpuPartitions (default 1000)
  --jobs N                     TrainingJobs, 8 GPUs per worker, 2-8 workers, sameClique (default nodes/32, at least 1)
  --seed N                     workload seed (default 1)
  --timeout-s N                wait at most N s for Ready/Running (default 420)
  --release-timeout-s N        wait at most N s for the release after the deletes (default 120)
  --hold-s N                   after all is Ready, hold N s and measure steady-state API writes (default 0)
  --leader-elect BOOL          operator leader election (default false)
  --workers N                  operator workers per controller (default 2, the operator's default)
  --namespace NS               namespace of the objects (default haein-scale)
  --node-prefix NAME           node name prefix and selector value (default haein-scale)
  --reconfigure-delay-ms N     agent's simulated time per MIG step (default 100, the agent's default)
  --apply-concurrency N        parallel creates/deletes of the benchmark (default 8)
  --log-level LEVEL            operator and agent LOG_LEVEL (default info)
  --keep-logs                  keep the operator and agent logs
  --profile-operator           run the operator under node --cpu-prof and print its hottest functions
  --operator-heap-mib N        the operator's --max-old-space-size, as the chart's operator.heapLimitMiB sets it
                               (default 320, the chart's default; 0: Node's own default)
  --operator-semi-space-mib N  the operator's --max-semi-space-size, as the chart's operator.semiSpaceMiB sets it
                               (default 16, the chart's default; 0: Node's own default)
  --haein-dist DIR             measure the operator and agent of another build (its dist/, e.g. a worktree of an
                               older commit) with this benchmark; default this checkout's dist/
  --quiet-samples N            single partitions applied one at a time on the quiet cluster first (default 10)
  --raw-creates N              ConfigMaps created at the same parallelism to time the API server alone (default 1000)
  --settle-quiet-s N           over-subscribed runs: settled once every object is Ready or waits with a reason and
                               nothing changed for N s (default 5)`;

/** Flags of the cluster set-up every control-plane benchmark shares (all strings, parsed by the benchmark). */
export const CLUSTER_FLAGS = {
  kubeconfig: { type: 'string' },
  'cluster-state': { type: 'string' },
  nodes: { type: 'string' },
  gpus: { type: 'string' },
  namespace: { type: 'string' },
  'node-prefix': { type: 'string' },
  'reconfigure-delay-ms': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/** The integer flag `--name` (`dflt` when absent); throws, naming the flag and showing `usage`, below `min`. */
export function intFlag(name: string, raw: string | undefined, dflt: number, min: number, usage: string): number {
  return numberFlag(name, raw, dflt, { min }, usage);
}

function int(name: string, raw: string | undefined, dflt: number, min: number): number {
  return intFlag(name, raw, dflt, min, USAGE);
}

/** Parses `argv` (without node and script); throws with a message naming the bad flag. */
export function parseScaleArgs(argv: string[]): ScaleOptions {
  const v = flagValues(
    argv,
    {
      ...CLUSTER_FLAGS,
      'nodes-per-clique': { type: 'string' },
      partitions: { type: 'string' },
      jobs: { type: 'string' },
      seed: { type: 'string' },
      'timeout-s': { type: 'string' },
      'release-timeout-s': { type: 'string' },
      'hold-s': { type: 'string' },
      'leader-elect': { type: 'string' },
      workers: { type: 'string' },
      'apply-concurrency': { type: 'string' },
      'keep-logs': { type: 'boolean' },
      'haein-dist': { type: 'string' },
      'profile-operator': { type: 'boolean' },
      'operator-heap-mib': { type: 'string' },
      'operator-semi-space-mib': { type: 'string' },
      'quiet-samples': { type: 'string' },
      'raw-creates': { type: 'string' },
      'settle-quiet-s': { type: 'string' },
    },
    USAGE,
  );
  if (!v.kubeconfig) throw new Error(`--kubeconfig is required\n${USAGE}`);
  const nodes = int('nodes', v.nodes, 128, 1);
  const le = v['leader-elect'];
  if (le !== undefined && le !== 'true' && le !== 'false') throw new Error(`--leader-elect=${le}: expected true or false`);
  const dns = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const namespace = v.namespace ?? 'haein-scale';
  const nodePrefix = v['node-prefix'] ?? 'haein-scale';
  for (const [flag, value] of [['namespace', namespace], ['node-prefix', nodePrefix]] as const) {
    if (!dns.test(value) || value.length > 40) throw new Error(`--${flag}=${value}: expected a short DNS label`);
  }
  return {
    kubeconfig: v.kubeconfig,
    ...(v['cluster-state'] ? { clusterState: v['cluster-state'] } : {}),
    nodes,
    gpus: int('gpus', v.gpus, 8, 1),
    nodesPerClique: int('nodes-per-clique', v['nodes-per-clique'], 8, 1),
    partitions: int('partitions', v.partitions, 1000, 0),
    jobs: int('jobs', v.jobs, Math.max(1, Math.round(nodes / 32)), 0),
    seed: int('seed', v.seed, 1, 0),
    timeoutS: int('timeout-s', v['timeout-s'], 420, 1),
    releaseTimeoutS: int('release-timeout-s', v['release-timeout-s'], 120, 1),
    holdS: int('hold-s', v['hold-s'], 0, 0),
    leaderElect: le === 'true',
    workers: int('workers', v.workers, 2, 1),
    namespace,
    nodePrefix,
    reconfigureDelayMs: int('reconfigure-delay-ms', v['reconfigure-delay-ms'], 100, 0),
    applyConcurrency: int('apply-concurrency', v['apply-concurrency'], 8, 1),
    logLevel: v['log-level'] ?? 'info',
    keepLogs: v['keep-logs'] ?? false,
    profileOperator: v['profile-operator'] ?? false,
    operatorHeapMiB: int('operator-heap-mib', v['operator-heap-mib'], 320, 0),
    operatorSemiSpaceMiB: int('operator-semi-space-mib', v['operator-semi-space-mib'], 16, 0),
    quietSamples: int('quiet-samples', v['quiet-samples'], 10, 0),
    rawCreates: int('raw-creates', v['raw-creates'], 1000, 0),
    settleQuietS: int('settle-quiet-s', v['settle-quiet-s'], 5, 1),
    ...(v['haein-dist'] ? { haeinDist: v['haein-dist'] } : {}),
  };
}
