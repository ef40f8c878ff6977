/** Command-line flags of the elastic-partition benchmark (`dist/bench/autoscale-bench.js`). Pure. */
import { parseArgs } from 'node:util';
import { CLUSTER_FLAGS, intFlag, type ScaleOptions } from '../scale/options.js';

/** Resolved benchmark settings: the cluster set-up of the scale benchmark, and the scaling steps. */
export type AutoscaleOptions = Pick<ScaleOptions, 'kubeconfig' | 'nodes' | 'gpus' | 'reconfigureDelayMs' | 'namespace' | 'nodePrefix' | 'logLevel'> & {
  /** Single replicas added one after another, each needing a freshly carved slice. */
  steps: number;
  /** Replicas added at once afterwards (a burst), each needing a freshly carved slice. */
  burst: number;
  /** MIG profile of the elastic partition. */
  profile: string;
  /** Give up on one scale step after this many seconds. */
  timeoutS: number;
};

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
  return intFlag(name, raw, dflt, min, USAGE);
}

/** Parses `argv` (without node and script); throws with a message naming the bad flag. */
export function parseAutoscaleArgs(argv: string[]): AutoscaleOptions {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...CLUSTER_FLAGS,
      steps: { type: 'string' },
      burst: { type: 'string' },
      profile: { type: 'string' },
      'timeout-s': { type: 'string' },
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
