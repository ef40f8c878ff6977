/**
 * A GpuUsage record as metering computes with it: one tenant's usage of one UTC day in slice-milliseconds per
 * namespace, profile and hour, with the opening balance carried from the tenant's previous record. Integer
 * milliseconds throughout, so that adding usage up in any order or split gives exactly the same figures; the
 * GPU-equivalents of a row follow from its profile. Pure: no Kubernetes calls.
 */
import { API_VERSION, TENANT_LABEL } from '../../api/constants.js';
import type { GpuUsage, NamespaceUsageTotal, ProfileUsageTotal, UsageOpening } from '../../api/types.js';
import { COMPUTE_SLICES_PER_GPU, gpuEquivalentsOf } from '../gpu-equivalents.js';

/** Milliseconds in an hour. */
export const HOUR_MS = 3_600_000;
/** Milliseconds in a day. */
export const DAY_MS = 24 * HOUR_MS;
/** The tenant charged for claims of namespaces that belong to no GpuTenant. */
export const UNASSIGNED_TENANT = 'unassigned';
/** The namespace a day's usage is counted under once the record has {@link MAX_USAGE_ROWS} rows. */
export const OVERFLOW_NAMESPACE = '(other)';
/** Most namespace × profile rows of one day's record (the overflow rows come on top: one per profile). */
export const MAX_USAGE_ROWS = 960;
/** Most namespace × profile totals carried in an opening balance (the least recently used are dropped first). */
export const MAX_OPENING_ROWS = 1024;

/** One namespace and profile's slice-milliseconds per UTC hour of the record's day. */
export interface UsageRow {
  namespace: string;
  profile: string;
  /** 24 entries. */
  hours: number[];
}

/** A record in computable form. */
export interface UsageRecord {
  tenant: string;
  /** UTC day, `yyyy-mm-dd`. */
  date: string;
  /** Usage is recorded from here (ms since epoch). */
  openedAt: number;
  opening: UsageOpening;
  /** Usage before this instant is in `rows` (ms since epoch). */
  settledThrough: number;
  /** Rows by {@link rowKey}. */
  rows: Map<string, UsageRow>;
  /** The stored object's resourceVersion (absent for a record not created yet). */
  resourceVersion?: string;
}

/** The UTC day of an instant, `yyyy-mm-dd`. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Midnight (UTC) starting a day, in ms since epoch. */
export function dayStart(date: string): number {
  return Date.parse(`${date}T00:00:00.000Z`);
}

/** An instant as RFC 3339 with milliseconds. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Name of a tenant's record of one day: `<tenant>.<yyyy-mm-dd>`. */
export function recordName(tenant: string, date: string): string {
  return `${tenant}.${date}`;
}

/** Key of a row: namespace and profile. */
export function rowKey(namespace: string, profile: string): string {
  return `${namespace}\u0000${profile}`;
}

/** A profile's GPU-equivalents in sevenths (1g → 1, 3g → 3, 7g and `whole` → 7): slice-ms × this / 7000 = GPU-eq-seconds. */
export function sevenths(profile: string): number {
  return Math.round(gpuEquivalentsOf(profile === 'whole' ? undefined : profile) * COMPUTE_SLICES_PER_GPU);
}

/** GPU-equivalent-seconds of `sliceMs` slice-milliseconds of `profile`. */
export function gpuEquivalentSeconds(profile: string, sliceMs: number): number {
  return (sliceMs * sevenths(profile)) / (1000 * COMPUTE_SLICES_PER_GPU);
}

/** A new, empty record of `date` opened at `openedAt`. */
export function newRecord(tenant: string, date: string, openedAt: number, opening: UsageOpening): UsageRecord {
  return { tenant, date, openedAt, opening, settledThrough: openedAt, rows: new Map() };
}

/** A deep copy (settlement never edits the record it was given). */
export function cloneRecord(r: UsageRecord): UsageRecord {
  return {
    ...r,
    opening: structuredClone(r.opening),
    rows: new Map([...r.rows].map(([k, row]) => [k, { ...row, hours: [...row.hours] }])),
  };
}

/** Reads a stored record; throws on a record metering did not write (a clear error beats a wrong bill). */
export function readRecord(obj: GpuUsage): UsageRecord {
  const name = obj.metadata.name ?? '';
  const { tenant, date, openedAt, opening } = obj.spec ?? ({} as GpuUsage['spec']);
  const opened = Date.parse(openedAt);
  if (!tenant || !date || Number.isNaN(opened) || !opening || Number.isNaN(Date.parse(opening.since))) throw new Error(`GpuUsage ${name}: spec is incomplete`);
  const settled = obj.status?.settledThrough ? Date.parse(obj.status.settledThrough) : opened;
  if (Number.isNaN(settled)) throw new Error(`GpuUsage ${name}: status.settledThrough is not a time`);
  const rows = new Map<string, UsageRow>();
  for (const u of obj.status?.usage ?? []) {
    if (u.sliceMilliseconds.length !== 24) throw new Error(`GpuUsage ${name}: ${u.namespace}/${u.profile} has ${u.sliceMilliseconds.length} hours, not 24`);
    rows.set(rowKey(u.namespace, u.profile), { namespace: u.namespace, profile: u.profile, hours: [...u.sliceMilliseconds] });
  }
  return {
    tenant,
    date,
    openedAt: opened,
    opening,
    settledThrough: settled,
    rows,
    ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
  };
}

/** The stored shape of a record (rows sorted, the day's display totals derived). */
export function recordObject(r: UsageRecord): GpuUsage {
  const usage = sortedRows(r).map((row) => ({ namespace: row.namespace, profile: row.profile, sliceMilliseconds: [...row.hours] }));
  let sliceMs = 0;
  let sevenMs = 0;
  for (const row of usage) {
    const sum = row.sliceMilliseconds.reduce((a, b) => a + b, 0);
    sliceMs += sum;
    sevenMs += sum * sevenths(row.profile);
  }
  return {
    apiVersion: API_VERSION,
    kind: 'GpuUsage',
    metadata: {
      name: recordName(r.tenant, r.date),
      labels: { [TENANT_LABEL]: r.tenant },
      ...(r.resourceVersion ? { resourceVersion: r.resourceVersion } : {}),
    },
    spec: { tenant: r.tenant, date: r.date, openedAt: isoTime(r.openedAt), opening: r.opening },
    status: {
      settledThrough: isoTime(r.settledThrough),
      usage,
      sliceHours: round3(sliceMs / HOUR_MS),
      gpuEquivalentHours: round3(sevenMs / (HOUR_MS * COMPUTE_SLICES_PER_GPU)),
    },
  };
}

/** Rows in namespace, profile order. */
export function sortedRows(r: UsageRecord): UsageRow[] {
  return [...r.rows.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.profile.localeCompare(b.profile));
}

/** The tenant's totals up to the record's `settledThrough`: its opening balance plus the day's rows. */
export function recordTotals(r: UsageRecord): { namespaces: NamespaceUsageTotal[]; profiles: ProfileUsageTotal[] } {
  const namespaces = new Map<string, NamespaceUsageTotal>();
  for (const n of r.opening.namespaces ?? []) namespaces.set(rowKey(n.namespace, n.profile), { ...n });
  const profiles = new Map<string, ProfileUsageTotal>();
  for (const p of r.opening.profiles ?? []) profiles.set(p.profile, { ...p });
  for (const row of r.rows.values()) {
    const sum = row.hours.reduce((a, b) => a + b, 0);
    if (sum === 0) continue;
    const k = rowKey(row.namespace, row.profile);
    const n = namespaces.get(k);
    namespaces.set(k, { namespace: row.namespace, profile: row.profile, sliceMilliseconds: (n?.sliceMilliseconds ?? 0) + sum, lastUsed: r.date });
    const p = profiles.get(row.profile);
    profiles.set(row.profile, { profile: row.profile, sliceMilliseconds: (p?.sliceMilliseconds ?? 0) + sum });
  }
  return {
    namespaces: [...namespaces.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.profile.localeCompare(b.profile)),
    profiles: [...profiles.values()].sort((a, b) => a.profile.localeCompare(b.profile)),
  };
}

/**
 * The opening balance of the record after `r` (which must be closed): `r`'s totals, without namespace rows
 * unused for `pruneAfterDays` days before `nextDate`, at most {@link MAX_OPENING_ROWS} of them (most recently
 * used first). The per-profile totals keep everything.
 */
export function openingAfter(r: UsageRecord, nextDate: string, pruneAfterDays: number): UsageOpening {
  const totals = recordTotals(r);
  const oldest = utcDate(dayStart(nextDate) - pruneAfterDays * DAY_MS);
  const kept = totals.namespaces
    .filter((n) => n.lastUsed >= oldest)
    .sort((a, b) => b.lastUsed.localeCompare(a.lastUsed) || a.namespace.localeCompare(b.namespace) || a.profile.localeCompare(b.profile))
    .slice(0, MAX_OPENING_ROWS)
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.profile.localeCompare(b.profile));
  return {
    since: r.opening.since,
    ...(kept.length > 0 ? { namespaces: kept } : {}),
    ...(totals.profiles.length > 0 ? { profiles: totals.profiles } : {}),
  };
}

/** Rounds to 3 decimals (milliseconds, for seconds). */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
