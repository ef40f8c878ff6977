/** Command-line flags of the chaos run (`dist/bench/chaos.js`, through hack/chaos.sh). Pure. */
import { flagValues, numberFlag } from '../flags.js';

/** Resolved chaos-run settings. */
export interface ChaosOptions {
  /** Admin kubeconfig of the control plane under test (the harness's own client). */
  kubeconfig: string;
  /** hack/cluster-up.sh state dir: pid files and recorded command lines of kube-apiserver and etcd. */
  clusterState: string;
  /** One kubeconfig per operator replica, each with its own client identity (named in the audit log). */
  operatorKubeconfigs: string[];
  /** kube-apiserver audit log of the operators' writes. */
  auditLog: string;
  /** KWOK nodes. */
  nodes: number;
  /** Simulated B200 GPUs per node. */
  gpus: number;
  /** Consecutive nodes per NVLink clique. */
  nodesPerClique: number;
  /** Partitions and gangs created during the churn (probes not counted). */
  objects: number;
  /** Length of the churn, in seconds; faults happen inside it. */
  durationS: number;
  /** Seed of the churn and of the fault schedule. */
  seed: number;
  /** Largest share of the cluster's compute slices the live objects may ask for. */
  maxUtilisation: number;
  /** Share of creates that are TrainingJobs (whole-GPU or slice gangs). */
  jobShare: number;
  /** Share of profile partitions that get a consumer pod (so their slice is in use). */
  consumerShare: number;
  /** SIGKILL the leader every N seconds. */
  leaderKillEveryS: number;
  /** How long the leader stays SIGSTOPped; must exceed the Lease duration. */
  leaderStopS: number;
  /** The operator's Lease duration (its default is 15 s). */
  leaseDurationS: number;
  /** One occurrence of each other fault kind per this many seconds of churn (at least one each). */
  faultEveryS: number;
  /** A probe partition not Ready this long after its fault counts the fault as unrecovered. */
  probeTimeoutS: number;
  /** Wait at most this long for convergence after the churn. */
  settleTimeoutS: number;
  /** Wait at most this long for everything to be released after the final deletes. */
  releaseTimeoutS: number;
  /** Invariant sampling period. */
  sampleEveryMs: number;
  /** Agent's simulated time per MIG step (long enough to catch a reconfiguration in progress). */
  reconfigureDelayMs: number;
  /** Namespace of the run's objects and of the operators' Lease. */
  namespace: string;
  /** Node name prefix and selector value. */
  nodePrefix: string;
  /** LOG_LEVEL of the operators and the agent. */
  logLevel: string;
  /** Keep the logs (their directory is printed) even when the run passes. */
  keepLogs: boolean;
}

/** Usage text. */
export const USAGE = `chaos [flags]     (run it through hack/chaos.sh, which provides the control plane)
  --preset short|long          short: the ~2 min run of make test (16 nodes, 200 objects, 90 s of churn);
                               long (default): 32 nodes, 2000 objects, 600 s of churn
  --kubeconfig PATH            admin kubeconfig (required)
  --cluster-state DIR          hack/cluster-up.sh state dir, to restart kube-apiserver and etcd (required)
  --operator-kubeconfigs A,B   one kubeconfig per operator replica, distinct users (required)
  --audit-log PATH             kube-apiserver audit log of the operators' writes (required)
  --nodes N                    KWOK nodes
  --gpus N                     B200 GPUs per node (default 8)
  --nodes-per-clique N         nodes per NVLink clique (default 4)
  --objects N                  partitions and gangs created during the churn
  --duration-s N               seconds of churn (faults happen within it)
  --seed N                     churn and fault-schedule seed (default 1)
  --max-utilisation F          largest share of compute slices the live objects ask for (default 0.4)
  --job-share F                share of creates that are TrainingJobs (default 0.15)
  --consumer-share F           share of profile partitions with a consumer pod (default 0.5)
  --leader-kill-every-s N      SIGKILL the leader every N s (default 10)
  --leader-stop-s N            SIGSTOP the leader this long (default 22; > --lease-duration-s)
  --lease-duration-s N         the operator's Lease duration (default 15, the operator's own)
  --fault-every-s N            one of each other fault kind per N s of churn, at least one (default 150)
  --probe-timeout-s N          a fault's probe partition must be Ready within N s (default 120)
  --settle-timeout-s N         wait at most N s for convergence after the churn (default 240; short 120)
  --release-timeout-s N        wait at most N s for the release after the final deletes (default 180; short 120)
  --sample-every-ms N          invariant sampling period (default 1000)
  --reconfigure-delay-ms N     agent's simulated time per MIG step (default 250)
  --namespace NS               namespace of the objects and the Lease (default haein-chaos)
  --node-prefix NAME           node name prefix and selector value (default haein-chaos)
  --log-level LEVEL            operator and agent LOG_LEVEL (default info)
  --keep-logs                  keep the logs even when the run passes (a failed run always keeps them)
  --help`;

const PRESETS = {
  long: { nodes: 32, objects: 2000, durationS: 600, settleTimeoutS: 240, releaseTimeoutS: 180 },
  short: { nodes: 16, objects: 200, durationS: 90, settleTimeoutS: 120, releaseTimeoutS: 120 },
} as const;

function num(name: string, raw: string | undefined, dflt: number, min: number, max = Infinity, integer = true): number {
  return numberFlag(name, raw, dflt, { min, max, integer }, USAGE);
}

/** Parses `argv` (without node and script); `'help'` for --help; throws with a message naming the bad flag. */
export function parseChaosArgs(argv: string[]): ChaosOptions | 'help' {
  const v = flagValues(
    argv,
    {
      preset: { type: 'string' },
      kubeconfig: { type: 'string' },
      'cluster-state': { type: 'string' },
      'operator-kubeconfigs': { type: 'string' },
      'audit-log': { type: 'string' },
      nodes: { type: 'string' },
      gpus: { type: 'string' },
      'nodes-per-clique': { type: 'string' },
      objects: { type: 'string' },
      'duration-s': { type: 'string' },
      seed: { type: 'string' },
      'max-utilisation': { type: 'string' },
      'job-share': { type: 'string' },
      'consumer-share': { type: 'string' },
      'leader-kill-every-s': { type: 'string' },
      'leader-stop-s': { type: 'string' },
      'lease-duration-s': { type: 'string' },
      'fault-every-s': { type: 'string' },
      'probe-timeout-s': { type: 'string' },
      'settle-timeout-s': { type: 'string' },
      'release-timeout-s': { type: 'string' },
      'sample-every-ms': { type: 'string' },
      'reconfigure-delay-ms': { type: 'string' },
      namespace: { type: 'string' },
      'node-prefix': { type: 'string' },
      'log-level': { type: 'string' },
      'keep-logs': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    USAGE,
  );
  if (v.help) return 'help';
  const presetName = v.preset ?? 'long';
  if (presetName !== 'long' && presetName !== 'short') throw new Error(`--preset=${presetName}: expected short or long\n${USAGE}`);
  const preset = PRESETS[presetName];
  for (const flag of ['kubeconfig', 'cluster-state', 'operator-kubeconfigs', 'audit-log'] as const) {
    if (!v[flag]) throw new Error(`--${flag} is required\n${USAGE}`);
  }
  const operatorKubeconfigs = v['operator-kubeconfigs']!.split(',').map((s) => s.trim()).filter(Boolean);
  if (operatorKubeconfigs.length !== 2) throw new Error(`--operator-kubeconfigs: expected two paths (one per replica), got ${operatorKubeconfigs.length}`);
  const dns = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const namespace = v.namespace ?? 'haein-chaos';
  const nodePrefix = v['node-prefix'] ?? 'haein-chaos';
  for (const [flag, value] of [['namespace', namespace], ['node-prefix', nodePrefix]] as const) {
    if (!dns.test(value) || value.length > 40) throw new Error(`--${flag}=${value}: expected a short DNS label`);
  }
  const leaseDurationS = num('lease-duration-s', v['lease-duration-s'], 15, 1);
  const leaderStopS = num('leader-stop-s', v['leader-stop-s'], leaseDurationS + 7, 1);
  if (leaderStopS <= leaseDurationS) throw new Error(`--leader-stop-s=${leaderStopS} must exceed --lease-duration-s=${leaseDurationS}: the point is a leader that wakes after losing its Lease`);
  const durationS = num('duration-s', v['duration-s'], preset.durationS, 10);
  if (durationS < leaderStopS + 30) throw new Error(`--duration-s=${durationS} is too short to hold a ${leaderStopS} s SIGSTOP and the other faults (need ≥ ${leaderStopS + 30})`);
  return {
    kubeconfig: v.kubeconfig!,
    clusterState: v['cluster-state']!,
    operatorKubeconfigs,
    auditLog: v['audit-log']!,
    nodes: num('nodes', v.nodes, preset.nodes, 2),
    gpus: num('gpus', v.gpus, 8, 1),
    nodesPerClique: num('nodes-per-clique', v['nodes-per-clique'], 4, 1),
    objects: num('objects', v.objects, preset.objects, 1),
    durationS,
    seed: num('seed', v.seed, 1, 0),
    maxUtilisation: num('max-utilisation', v['max-utilisation'], 0.4, 0.05, 0.9, false),
    jobShare: num('job-share', v['job-share'], 0.15, 0, 1, false),
    consumerShare: num('consumer-share', v['consumer-share'], 0.5, 0, 1, false),
    leaderKillEveryS: num('leader-kill-every-s', v['leader-kill-every-s'], 10, 2),
    leaderStopS,
    leaseDurationS,
    faultEveryS: num('fault-every-s', v['fault-every-s'], 150, 10),
    probeTimeoutS: num('probe-timeout-s', v['probe-timeout-s'], 120, 5),
    settleTimeoutS: num('settle-timeout-s', v['settle-timeout-s'], preset.settleTimeoutS, 10),
    releaseTimeoutS: num('release-timeout-s', v['release-timeout-s'], preset.releaseTimeoutS, 10),
    sampleEveryMs: num('sample-every-ms', v['sample-every-ms'], 1000, 100),
    reconfigureDelayMs: num('reconfigure-delay-ms', v['reconfigure-delay-ms'], 250, 0),
    namespace,
    nodePrefix,
    logLevel: v['log-level'] ?? 'info',
    keepLogs: v['keep-logs'] ?? false,
  };
}
