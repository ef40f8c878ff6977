/**
 * The billing export's arithmetic: a query (time range, grouping, granularity, format) over usage records, and
 * the report as JSON or CSV. The range is widened to whole UTC hours — the records' granularity — so every row
 * covers whole hours and sums exactly. Pure.
 */
import { DAY_MS, HOUR_MS, dayStart, isoTime, round3, sevenths, utcDate, type UsageRecord } from './usage-record.js';

/** Dimensions a report can be grouped by, in column order. */
export const GROUP_KEYS = ['tenant', 'namespace', 'profile'] as const;
/** One dimension. */
export type GroupKey = (typeof GROUP_KEYS)[number];

/** Longest range of an hourly report, in hours (a month and a day). */
export const MAX_HOURLY_RANGE_HOURS = 32 * 24;
/** Longest range of a total report, in days. */
export const MAX_RANGE_DAYS = 400;

/** A parsed usage query. */
export interface UsageQuery {
  /** Start, rounded down to the hour (ms). */
  from: number;
  /** End (exclusive), rounded up to the hour (ms). */
  to: number;
  groupBy: GroupKey[];
  /** `total`: one row per group over the range; `hour`: one row per group and hour. */
  granularity: 'total' | 'hour';
  format: 'json' | 'csv';
  /** Only this tenant. */
  tenant?: string;
}

/** One row of a report. */
export interface ReportRow {
  from: string;
  to: string;
  tenant?: string;
  namespace?: string;
  profile?: string;
  /** Slice-seconds (a whole GPU counts as one slice), exact to the millisecond. */
  sliceSeconds: number;
  /** GPU-equivalent-seconds, rounded to the millisecond. */
  gpuEquivalentSeconds: number;
}

/** A usage report. */
export interface UsageReport {
  from: string;
  to: string;
  groupBy: GroupKey[];
  granularity: UsageQuery['granularity'];
  tenant?: string;
  generatedAt: string;
  /**
   * Every hour of the range is settled durably for every tenant and retained: the figures will never change.
   * A report that is not complete includes the usage not settled yet, as the ledger has it now.
   */
  complete: boolean;
  /** Usage before this instant is settled for every tenant (final). */
  closedThrough?: string;
  /** Records from this instant on are retained; usage before it is gone. */
  retainedFrom: string;
  rows: ReportRow[];
}

/** What the report says about finality besides the records. */
export interface ReportStatus {
  now: number;
  /** Every tenant's usage before this instant is settled durably; undefined: some tenant has settled nothing. */
  closedThrough: number | undefined;
  /** Records of days before this instant have been deleted (retention). */
  retainedFrom: number;
}

/** Parses the query string of `GET /billing/usage`; a string is the error to answer with 400. */
export function parseUsageQuery(params: URLSearchParams): UsageQuery | string {
  const time = (name: string): number | string => {
    const raw = params.get(name);
    if (raw === null || raw === '') return `${name} is required (RFC 3339, e.g. 2026-03-01T00:00:00Z)`;
    // RFC 3339 needs a date, a time and an offset; Date.parse alone would take "2026" or "March 1".
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(raw) || Number.isNaN(Date.parse(raw))) {
      return `${name}=${raw} is not an RFC 3339 time (e.g. 2026-03-01T00:00:00Z)`;
    }
    return Date.parse(raw);
  };
  const fromRaw = time('from');
  if (typeof fromRaw === 'string') return fromRaw;
  const toRaw = time('to');
  if (typeof toRaw === 'string') return toRaw;
  if (toRaw <= fromRaw) return 'to must be after from';
  const groupRaw = params.get('groupBy') ?? GROUP_KEYS.join(',');
  const groups = groupRaw === '' ? [] : groupRaw.split(',').map((g) => g.trim());
  for (const g of groups) if (!(GROUP_KEYS as readonly string[]).includes(g)) return `groupBy=${groupRaw}: ${g} is not one of ${GROUP_KEYS.join(', ')}`;
  const groupBy = GROUP_KEYS.filter((k) => groups.includes(k));
  const granularity = params.get('granularity') ?? 'total';
  if (granularity !== 'total' && granularity !== 'hour') return `granularity=${granularity}: expected total or hour`;
  const format = params.get('format') ?? 'json';
  if (format !== 'json' && format !== 'csv') return `format=${format}: expected json or csv`;
  const from = Math.floor(fromRaw / HOUR_MS) * HOUR_MS;
  const to = Math.ceil(toRaw / HOUR_MS) * HOUR_MS;
  if (granularity === 'hour' && to - from > MAX_HOURLY_RANGE_HOURS * HOUR_MS) return `an hourly report covers at most ${MAX_HOURLY_RANGE_HOURS} hours; ask for less, or for granularity=total`;
  if (to - from > MAX_RANGE_DAYS * DAY_MS) return `a report covers at most ${MAX_RANGE_DAYS} days`;
  const tenant = params.get('tenant');
  return { from, to, groupBy, granularity, format, ...(tenant ? { tenant } : {}) };
}

/** Sums the records' hours within the query's range by its groups (and hours). */
export function buildReport(records: Iterable<UsageRecord>, q: UsageQuery, status: ReportStatus): UsageReport {
  const first = utcDate(q.from);
  const last = utcDate(q.to - 1);
  const acc = new Map<string, { row: Omit<ReportRow, 'sliceSeconds' | 'gpuEquivalentSeconds'>; sliceMs: number; sevenMs: number }>();
  for (const r of records) {
    if (r.date < first || r.date > last || (q.tenant !== undefined && r.tenant !== q.tenant)) continue;
    const midnight = dayStart(r.date);
    for (const row of r.rows.values()) {
      const dims = { tenant: r.tenant, namespace: row.namespace, profile: row.profile };
      for (let h = 0; h < 24; h++) {
        const ms = row.hours[h] as number;
        const start = midnight + h * HOUR_MS;
        if (ms === 0 || start < q.from || start >= q.to) continue;
        const span = q.granularity === 'hour' ? [start, start + HOUR_MS] : [q.from, q.to];
        const picked = Object.fromEntries(q.groupBy.map((k) => [k, dims[k]])) as Partial<Record<GroupKey, string>>;
        const key = JSON.stringify([span[0], ...q.groupBy.map((k) => dims[k])]);
        let a = acc.get(key);
        if (!a) acc.set(key, (a = { row: { from: isoTime(span[0] as number), to: isoTime(span[1] as number), ...picked }, sliceMs: 0, sevenMs: 0 }));
        a.sliceMs += ms;
        a.sevenMs += ms * sevenths(row.profile);
      }
    }
  }
  const rows = [...acc.values()]
    .map((a) => ({ ...a.row, sliceSeconds: a.sliceMs / 1000, gpuEquivalentSeconds: round3(a.sevenMs / 7000) }))
    .sort((a, b) => a.from.localeCompare(b.from) || GROUP_KEYS.reduce((c, k) => c || (a[k] ?? '').localeCompare(b[k] ?? ''), 0));
  const complete = status.closedThrough !== undefined && q.to <= status.closedThrough && q.from >= status.retainedFrom;
  return {
    from: isoTime(q.from),
    to: isoTime(q.to),
    groupBy: q.groupBy,
    granularity: q.granularity,
    ...(q.tenant !== undefined ? { tenant: q.tenant } : {}),
    generatedAt: isoTime(status.now),
    complete,
    ...(status.closedThrough !== undefined ? { closedThrough: isoTime(status.closedThrough) } : {}),
    retainedFrom: isoTime(status.retainedFrom),
    rows,
  };
}

/** The report as CSV: a header, then one line per row (seconds with 3 decimals). */
export function reportCsv(report: UsageReport): string {
  const header = ['from', 'to', ...report.groupBy, 'slice_seconds', 'gpu_equivalent_seconds'];
  const lines = report.rows.map((r) => [r.from, r.to, ...report.groupBy.map((k) => csvField(r[k] ?? '')), r.sliceSeconds.toFixed(3), r.gpuEquivalentSeconds.toFixed(3)].join(','));
  return `${[header.join(','), ...lines].join('\n')}\n`;
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
