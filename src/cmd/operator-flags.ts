/** Command-line flags and environment of the `haein-operator` binary. Pure. */

/** Resolved operator configuration. */
export interface OperatorConfig {
  /** Kubeconfig path; absent → $KUBECONFIG, ~/.kube/config, then in-cluster. */
  kubeconfig?: string;
  /** Port serving `/metrics`. */
  metricsPort: number;
  /** Port serving `/healthz` and `/readyz` (also `/metrics`). */
  healthPort: number;
  /** Campaign for the Lease before running controllers. */
  leaderElect: boolean;
  /** Namespace of the Lease. */
  leaseNamespace: string;
  /** Name of the Lease. */
  leaseName: string;
  /** Leader identity (the pod name). */
  identity: string;
  /** How long a Lease is valid without renewal, in milliseconds. */
  leaseDurationMs: number;
  /** The leader gives up (and stops writing) when it could not renew for this long, in milliseconds. */
  renewDeadlineMs: number;
  /** Interval between acquire/renew attempts, in milliseconds. */
  retryPeriodMs: number;
  /** Watch only this namespace's partitions, jobs and pods. */
  namespace?: string;
  /** Reconcile workers of the GpuNode and pod-gate controllers. */
  workers: number;
  /** Reconcile workers of the GpuPartition and TrainingJob controllers (status writes, finalizers, worker pods). */
  claimantWorkers: number;
  /** Most demands one admission cycle decides. */
  cycleMaxBatch: number;
  /** Planning time budget of one admission cycle, in milliseconds. */
  cycleMaxPlanMs: number;
  /** Carry out defragmentation plans when a request does not fit. */
  defrag: boolean;
  /** What namespaces in no GpuTenant get: `allow` or `refuse`. */
  unassignedNamespaces: 'allow' | 'refuse';
  /** winston level. */
  logLevel: string;
  /** Port of the read-only slice map page and its event stream; absent: no slice map. */
  sliceMapPort?: number;
  /** Meter slice-seconds into GpuUsage records. */
  metering: boolean;
  /** Settle every tenant holding claims this often, in milliseconds. */
  meteringIntervalMs: number;
  /** Days of GpuUsage records kept (a tenant's latest record always stays). */
  meteringRetentionDays: number;
  /** Port of the billing export (`/billing/usage`); absent: no export. */
  billingPort?: number;
}

const HOUR_MS = 3_600_000;

/** Usage text. */
export const USAGE = `haein-operator [flags]
  --kubeconfig=PATH        kubeconfig (default: $KUBECONFIG, ~/.kube/config, then in-cluster)
  --metrics-port=N         port serving /metrics (default 8080)
  --health-port=N          port serving /healthz and /readyz (default 8081)
  --leader-elect[=BOOL]    elect a leader through a Lease (default true)
  --lease-namespace=NS     namespace of the Lease (default $POD_NAMESPACE or haein-system)
  --lease-name=NAME        name of the Lease (default haein-operator)
  --lease-duration-ms=N    how long the Lease is valid without renewal (default 15000)
  --renew-deadline-ms=N    the leader stops writing when it could not renew for this long (default 10000)
  --retry-period-ms=N      interval between acquire/renew attempts (default 2000)
  --namespace=NS           watch only this namespace (default: all)
  --workers=N              reconcile workers of the GpuNode and pod-gate controllers (default 2)
  --claimant-workers=N     reconcile workers of the GpuPartition and TrainingJob controllers (default 16)
  --cycle-max-batch=N      most requests one admission cycle decides (default 1000)
  --cycle-max-plan-ms=N    planning time budget of one admission cycle (default 200)
  --defrag[=BOOL]          move idle slices to make room for requests that do not fit (default true)
  --unassigned-namespaces=allow|refuse
                           what partitions and jobs of a namespace in no GpuTenant get (default allow)
  --slice-map-port=N       serve the read-only slice map page on this port (default: off; 0 picks a free port)
  --metering[=BOOL]        meter slice-seconds per tenant, namespace and profile into GpuUsage records (default true)
  --metering-interval-ms=N settle the usage of tenants holding claims this often (default 30000)
  --metering-retention-days=N  keep GpuUsage records this many days (default 90; a tenant's latest always stays)
  --billing-port=N         serve the billing export /billing/usage on this port (default: off; 0 picks a free port)
env: LOG_LEVEL (default info), POD_NAME (leader identity), POD_NAMESPACE`;

/** Parses `argv` (without node and script) and `env`; throws with a message naming the bad flag. */
export function parseOperatorArgs(argv: string[], env: Record<string, string | undefined>): OperatorConfig {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)}\n${USAGE}`);
    const eq = arg.indexOf('=');
    if (eq >= 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (arg === '--leader-elect' || arg === '--defrag' || arg === '--metering' || arg === '--help') {
      flags.set(arg.slice(2), 'true');
    } else {
      const value = argv[++i];
      if (value === undefined) throw new Error(`flag ${arg} needs a value\n${USAGE}`);
      flags.set(arg.slice(2), value);
    }
  }
  const known = new Set(['kubeconfig', 'metrics-port', 'health-port', 'leader-elect', 'lease-namespace', 'lease-name', 'lease-duration-ms', 'renew-deadline-ms', 'retry-period-ms', 'namespace', 'workers', 'claimant-workers', 'cycle-max-batch', 'cycle-max-plan-ms', 'defrag', 'unassigned-namespaces', 'slice-map-port', 'metering', 'metering-interval-ms', 'metering-retention-days', 'billing-port', 'help']);
  for (const k of flags.keys()) if (!known.has(k)) throw new Error(`unknown flag --${k}\n${USAGE}`);
  const int = (name: string, dflt: number, min: number, max = 65535): number => {
    const raw = flags.get(name);
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}=${raw}: expected an integer between ${min} and ${max}`);
    return n;
  };
  const bool = (name: string, dflt: boolean): boolean => {
    const raw = flags.get(name);
    if (raw === undefined) return dflt;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new Error(`--${name}=${raw}: expected true or false`);
  };
  const leaseDurationMs = int('lease-duration-ms', 15_000, 1, HOUR_MS);
  const renewDeadlineMs = int('renew-deadline-ms', 10_000, 1, HOUR_MS);
  if (renewDeadlineMs >= leaseDurationMs) throw new Error(`--renew-deadline-ms=${renewDeadlineMs} must be shorter than --lease-duration-ms=${leaseDurationMs}`);
  const unassigned = flags.get('unassigned-namespaces') ?? 'allow';
  if (unassigned !== 'allow' && unassigned !== 'refuse') throw new Error(`--unassigned-namespaces=${unassigned}: expected allow or refuse`);
  const kubeconfig = flags.get('kubeconfig');
  const namespace = flags.get('namespace');
  const sliceMapPort = flags.has('slice-map-port') ? int('slice-map-port', 0, 0) : undefined;
  const metering = bool('metering', true);
  const billingPort = flags.has('billing-port') ? int('billing-port', 0, 0) : undefined;
  if (billingPort !== undefined && !metering) throw new Error('--billing-port needs --metering (the export reads the metered records)');
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    metricsPort: int('metrics-port', 8080, 0),
    healthPort: int('health-port', 8081, 0),
    leaderElect: bool('leader-elect', true),
    leaseNamespace: flags.get('lease-namespace') ?? env.POD_NAMESPACE ?? 'haein-system',
    leaseName: flags.get('lease-name') ?? 'haein-operator',
    identity: env.POD_NAME ?? `haein-operator-${process.pid}`,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs: int('retry-period-ms', 2_000, 1, HOUR_MS),
    ...(namespace ? { namespace } : {}),
    workers: int('workers', 2, 1),
    claimantWorkers: int('claimant-workers', 16, 1),
    cycleMaxBatch: int('cycle-max-batch', 1000, 1),
    cycleMaxPlanMs: int('cycle-max-plan-ms', 200, 1),
    defrag: bool('defrag', true),
    unassignedNamespaces: unassigned,
    logLevel: env.LOG_LEVEL ?? 'info',
    ...(sliceMapPort !== undefined ? { sliceMapPort } : {}),
    metering,
    meteringIntervalMs: int('metering-interval-ms', 30_000, 100, HOUR_MS),
    meteringRetentionDays: int('metering-retention-days', 90, 1, 3660),
    ...(billingPort !== undefined ? { billingPort } : {}),
  };
}
