/** Command-line flags of the elastic-partition benchmark (`dist/bench/autoscale-bench.js`). Pure. */
import { parseArgs } from 'node:util';

/** Resolved benchmark settings. */
export interface AutoscaleOptions {
  /** Admin kubeconfig of the control plane under test. */
  kubeconfig: string;
  /** KWOK nodes to create. */
  nodes: number;
  /** Simulated B200 GPUs per node. */
  gpus: number;
  /** Single replicas added one after another, each needing a freshly carved slice. */
  steps: number;
  /** Replicas added at once afterwards (a burst), each needing a freshly carved slice. */
  burst: number;
  /** MIG profile of the elastic partition. */
  profile: string;
  /** Agent's simulated time per MIG step. */
  reconfigureDelayMs: number;
  /** Give up on one scale step after this many seconds. */
  timeoutS: number;
  /** Namespace of the benchmark's objects (created and deleted by the run). */
  namespace: string;
  /** Name prefix and selector label value of the benchmark's nodes. */
  nodePrefix: string;
  /** LOG_LEVEL of the operator and the agent. */
  logLevel: string;
}

export const USAGE = `autoscale-bench [flags]
  --kubeconfig PATH            admin kubeconfig of the cluster (required)
  --nodes N                    KWOK nodes (default 2)
  --gpus N                     B200 GPUs per node (default 8)
  --steps N                    replicas added one at a time, each carving a slice (default 10)
  --burst N                    replicas then added at once (default 6)
  --profile P                  MIG profile of the elastic partition (default 3g.90gb)
  --reconfigure-delay-ms N     agent's simulated time per MIG step (default 100, the agent's default)
  --timeout-s N                give up on one scale step after N s (default 120)
  --namespace NS               namespace of the objects (default haein-autoscale-bench)
  --node-prefix NAME           node name prefix and selector value (default haein-as)
  --log-level LEVEL            operator and agent LOG_LEVEL (default warn)`;

function int(name: string, raw: string | undefined, dflt: number, min: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}=${raw}: expected an integer ≥ ${min}\n${USAGE}`);
  return n;
}

/** Parses `argv` (without node and script); throws with a message naming the bad flag. */
export function parseAutoscaleArgs(argv: string[]): AutoscaleOptions {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      kubeconfig: { type: 'string' },
      'cluster-state': { type: 'string' },
      nodes: { type: 'string' },
      gpus: { type: 'string' },
      steps: { type: 'string' },
      burst: { type: 'string' },
      profile: { type: 'string' },
      'reconfigure-delay-ms': { type: 'string' },
      'timeout-s': { type: 'string' },
      namespace: { type: 'string' },
      'node-prefix': { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  if (!v.kubeconfig) throw new Error(`--kubeconfig is required\n${USAGE}`);
  const profile = v.profile ?? '3g.90gb';
  if (!/^[1-7]g\.[0-9]+gb$/.test(profile)) throw new Error(`--profile=${profile}: expected a MIG profile such as 3g.90gb\n${USAGE}`);
  return {
    kubeconfig: v.kubeconfig,
    nodes: int('nodes', v.nodes, 2, 1),
    gpus: int('gpus', v.gpus, 8, 1),
    steps: int('steps', v.steps, 10, 1),
    burst: int('burst', v.burst, 6, 0),
    profile,
    reconfigureDelayMs: int('reconfigure-delay-ms', v['reconfigure-delay-ms'], 100, 0),
    timeoutS: int('timeout-s', v['timeout-s'], 120, 1),
    namespace: v.namespace ?? 'haein-autoscale-bench',
    nodePrefix: v['node-prefix'] ?? 'haein-as',
    logLevel: v['log-level'] ?? 'warn',
  };
}
