/** Command-line flags of the tenancy benchmark (`dist/bench/tenancy-bench.js`). Pure. */
import { flagValues, numberFlag } from '../flags.js';

/** Resolved benchmark settings. */
export interface TenancyOptions {
  /** Tenants (the first N of the built-in catalogue; more repeat it with a suffix). */
  tenants: number;
  /** GPU nodes. */
  nodes: number;
  /** B200 GPUs per node. */
  gpusPerNode: number;
  /** Simulated hours of arrivals. */
  hours: number;
  /** Simulated seconds between admission cycles. */
  cycleSeconds: number;
  /** Simulated seconds between periodic metering settlements. */
  settleSeconds: number;
  /** A busy slice taken back is free only after its pods' grace period, in simulated seconds. */
  graceSeconds: number;
  /** Placement → Ready on a free slice (MIG reconfiguration and pod start), in simulated seconds. */
  readySeconds: number;
  /** Workload seed. */
  seed: number;
  /** Offered load multiplier (1: the catalogue's demand levels). */
  load: number;
}

/** Usage text. */
export const USAGE = `tenancy-bench [flags]
  --tenants N          tenants (default 10: the built-in catalogue; quotas scale to the cluster)
  --nodes N            B200 nodes (default 128)
  --gpus-per-node N    GPUs per node (default 8)
  --hours N            simulated hours of arrivals (default 24)
  --cycle-s N          simulated seconds between admission cycles (default 5)
  --settle-s N         simulated seconds between periodic metering settlements (default 60)
  --grace-s N          eviction grace period of a busy slice taken back, simulated seconds (default 30)
  --ready-s N          placement → Ready (MIG reconfiguration + pod start), simulated seconds (default 10)
  --seed N             workload seed (default 1)
  --load X             offered-load multiplier (default 1)
  --help               this text`;

function num(name: string, raw: string | undefined, dflt: number, min: number, integer: boolean): number {
  return numberFlag(name, raw, dflt, { min, integer }, USAGE);
}

/** Parses `argv` (without node and script): the options, or `help` when --help was given. Throws on a bad flag. */
export function parseTenancyArgs(argv: string[]): TenancyOptions | 'help' {
  const v = flagValues(
    argv,
    {
      tenants: { type: 'string' },
      nodes: { type: 'string' },
      'gpus-per-node': { type: 'string' },
      hours: { type: 'string' },
      'cycle-s': { type: 'string' },
      'settle-s': { type: 'string' },
      'grace-s': { type: 'string' },
      'ready-s': { type: 'string' },
      seed: { type: 'string' },
      load: { type: 'string' },
      help: { type: 'boolean' },
    },
    USAGE,
  );
  if (v.help) return 'help';
  return {
    tenants: num('tenants', v.tenants, 10, 2, true),
    nodes: num('nodes', v.nodes, 128, 1, true),
    gpusPerNode: num('gpus-per-node', v['gpus-per-node'], 8, 1, true),
    hours: num('hours', v.hours, 24, 0.1, false),
    cycleSeconds: num('cycle-s', v['cycle-s'], 5, 1, true),
    settleSeconds: num('settle-s', v['settle-s'], 60, 1, true),
    graceSeconds: num('grace-s', v['grace-s'], 30, 0, true),
    readySeconds: num('ready-s', v['ready-s'], 10, 0, true),
    seed: num('seed', v.seed, 1, 0, true),
    load: num('load', v.load, 1, 0.01, false),
  };
}
