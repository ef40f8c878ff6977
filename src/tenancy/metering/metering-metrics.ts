/**
 * Prometheus counters of metered usage, monotonic across restarts and failovers: every replica follows the
 * GpuUsage records (its informer) and raises each counter up to the durable total the tenant's latest record
 * holds. A new process starts its counters at 0 and raises them to the durable totals at once, so Prometheus
 * sees the series continue upwards (`increase()` works across restarts) and every replica reports the same
 * figures (aggregate them with `max`, not `sum`).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { recordTotals, sevenths, type UsageRecord } from './usage-record.js';

/** Names of the metering metrics. */
export const METERING_METRIC_NAMES = {
  sliceSeconds: 'haein_metered_slice_seconds_total',
  gpuEquivalentSeconds: 'haein_metered_gpu_equivalent_seconds_total',
  settledThrough: 'haein_metering_settled_through_timestamp_seconds',
  settlements: 'haein_metering_settlements_total',
} as const;

/** Help text per metric (also their documentation). */
export const METERING_METRIC_HELP: Record<keyof typeof METERING_METRIC_NAMES, string> = {
  sliceSeconds:
    'Settled slice-seconds per tenant, namespace and profile since the tenant\'s metering began (a whole GPU counts as one slice of profile `whole`); raised to the durable totals of the GpuUsage records.',
  gpuEquivalentSeconds: 'Settled GPU-equivalent-seconds per tenant and namespace (a slice counts compute slices / 7, a whole GPU 1); raised to the durable totals.',
  settledThrough: 'Instant up to which each tenant\'s usage is settled durably (Unix seconds); lag behind time() is unsettled usage.',
  settlements: 'Settlements of a tenant\'s usage by this replica while leading, by result (ok, conflict: a guarded write was refused and retried, error).',
};

/** The counters, raised from records. */
export class MeteringMetrics {
  readonly sliceSeconds: Counter<'tenant' | 'namespace' | 'profile'>;
  readonly gpuEquivalentSeconds: Counter<'tenant' | 'namespace'>;
  readonly settledThrough: Gauge<'tenant'>;
  readonly settlements: Counter<'result'>;
  /** Label key → the durable total last seen (slice-ms, or seventh-ms for GPU-equivalents). */
  readonly #seen = new Map<string, number>();

  /** Registers the metrics on `registry`. */
  constructor(registry: Registry) {
    const n = METERING_METRIC_NAMES;
    const h = METERING_METRIC_HELP;
    const registers = [registry];
    this.sliceSeconds = new Counter({ name: n.sliceSeconds, help: h.sliceSeconds, labelNames: ['tenant', 'namespace', 'profile'], registers });
    this.gpuEquivalentSeconds = new Counter({ name: n.gpuEquivalentSeconds, help: h.gpuEquivalentSeconds, labelNames: ['tenant', 'namespace'], registers });
    this.settledThrough = new Gauge({ name: n.settledThrough, help: h.settledThrough, labelNames: ['tenant'], registers });
    this.settlements = new Counter({ name: n.settlements, help: h.settlements, labelNames: ['result'], registers });
  }

  /** Counts one settlement. */
  settlement(result: 'ok' | 'conflict' | 'error'): void {
    this.settlements.inc({ result });
  }

  /** Raises the tenant's counters to the totals of its latest record (never lowers them). */
  observe(record: UsageRecord): void {
    const tenant = record.tenant;
    this.settledThrough.set({ tenant }, record.settledThrough / 1000);
    const byNamespace = new Map<string, number>();
    for (const n of recordTotals(record).namespaces) {
      this.#raise(`s|${tenant}|${n.namespace}|${n.profile}`, n.sliceMilliseconds, (ms) => this.sliceSeconds.inc({ tenant, namespace: n.namespace, profile: n.profile }, ms / 1000));
      byNamespace.set(n.namespace, (byNamespace.get(n.namespace) ?? 0) + n.sliceMilliseconds * sevenths(n.profile));
    }
    for (const [namespace, sevenMs] of byNamespace) {
      this.#raise(`g|${tenant}|${namespace}`, sevenMs, (ms) => this.gpuEquivalentSeconds.inc({ tenant, namespace }, ms / 7000));
    }
  }

  /**
   * Adds what the durable total grew by since last seen. A total below the last one was restarted (a namespace
   * unused for the retention period was dropped from the opening balance, then used again): all of it is new.
   */
  #raise(key: string, total: number, inc: (ms: number) => void): void {
    const seen = this.#seen.get(key) ?? 0;
    if (total === seen) return;
    this.#seen.set(key, total);
    inc(total > seen ? total - seen : total);
  }
}
