/**
 * Settlement, the arithmetic of metering: given a tenant's latest record (its checkpoint), the claims it holds
 * and an instant `through`, the records to write so that they hold the tenant's usage up to `through`. Pure.
 *
 * A claim is in use from its `allocatedAt` until it leaves the ledger. Settling adds, for every claim the ledger
 * holds at `through`, its use over [settledThrough, through] — hour by hour — and moves settledThrough to
 * `through`. Claims released before `through` are not in the ledger any more, which is why the admission cycle
 * settles a claim's tenant through the release instant *before* it writes the release: the claim is gone only
 * once its use is durable, and nothing after its release is ever added.
 *
 * A record covers one UTC day: crossing midnight closes the day's record at 24:00 (settledThrough = the next
 * midnight, never written again) and creates the next day's, whose opening balance carries the tenant's totals.
 * Records are created for consecutive days only, so the record after a closed one has exactly one possible name
 * and two writers can never each start a chain of their own.
 */
import { accountingProfile } from '../gpu-equivalents.js';
import type { LedgerEntry } from '../../ledger/claims.js';
import {
  DAY_MS,
  HOUR_MS,
  MAX_USAGE_ROWS,
  OVERFLOW_NAMESPACE,
  UNASSIGNED_TENANT,
  cloneRecord,
  dayStart,
  isoTime,
  newRecord,
  openingAfter,
  rowKey,
  utcDate,
  type UsageRecord,
} from './usage-record.js';

/** A claim as metering sees it. */
export interface MeteredClaim {
  tenant: string;
  namespace: string;
  /** Accounting profile: the MIG profile without `+me`, or `whole`. */
  profile: string;
  /** When it was allocated (ms); absent for a claim older than metering: it is metered from the checkpoint. */
  allocatedAt?: number;
  /** When it left the ledger other than by a release the cycle settled (its GpuNode was deleted); absent: held. */
  endedAt?: number;
}

/** Settlement parameters. */
export interface SettlementOptions {
  /** Namespace totals unused this many days are dropped from the next opening balance. */
  pruneAfterDays: number;
  /** Row limit of one day's record; default {@link MAX_USAGE_ROWS}. */
  maxRows?: number;
}

/** One record to write: `create` for a record that does not exist yet (its status follows the creation). */
export interface SettlementWrite {
  record: UsageRecord;
  create: boolean;
}

/** The claim a ledger entry stands for, as metering counts it. */
export function meteredClaim(e: LedgerEntry): MeteredClaim {
  const at = e.claim.allocatedAt === undefined ? Number.NaN : Date.parse(e.claim.allocatedAt);
  return {
    tenant: e.claim.tenant ?? UNASSIGNED_TENANT,
    namespace: e.claim.namespace,
    profile: accountingProfile(e.profile),
    ...(Number.isNaN(at) ? {} : { allocatedAt: at }),
  };
}

/**
 * The writes that settle `tenant` through `through`, in order, starting from its latest record `latest`
 * (undefined: the tenant has none). `claims` are the tenant's claims in the ledger at `through` (and claims that
 * left it otherwise, with their `endedAt`). Empty when nothing is to settle. A tenant without any record starts
 * at its earliest allocation.
 */
export function planSettlement(tenant: string, latest: UsageRecord | undefined, claims: MeteredClaim[], through: number, opts: SettlementOptions): SettlementWrite[] {
  const writes: SettlementWrite[] = [];
  let cur: UsageRecord;
  if (latest) {
    if (latest.settledThrough >= through) return [];
    cur = cloneRecord(latest);
  } else {
    if (claims.length === 0) return [];
    // Metering of a new tenant starts at its earliest allocation (claims older than metering count from now on).
    const start = Math.min(through, ...claims.map((c) => c.allocatedAt ?? through));
    cur = newRecord(tenant, utcDate(start), start, { since: isoTime(start) });
    writes.push({ record: cur, create: true });
    if (start >= through) return writes;
  }
  const ordered = [...claims].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.profile.localeCompare(b.profile));
  while (cur.settledThrough < through) {
    const end = dayStart(cur.date) + DAY_MS;
    if (cur.settledThrough >= end) {
      const date = utcDate(end);
      cur = newRecord(tenant, date, end, openingAfter(cur, date, opts.pruneAfterDays));
      writes.push({ record: cur, create: true });
      continue;
    }
    const upTo = Math.min(through, end);
    accrue(cur, ordered, cur.settledThrough, upTo, opts.maxRows ?? MAX_USAGE_ROWS);
    cur.settledThrough = upTo;
    if (writes.at(-1)?.record !== cur) writes.push({ record: cur, create: false });
  }
  return writes;
}

/** Adds the claims' use over [from, to) — within `r`'s day — to `r`'s hourly rows. */
function accrue(r: UsageRecord, claims: MeteredClaim[], from: number, to: number, maxRows: number): void {
  const midnight = dayStart(r.date);
  for (const c of claims) {
    const a = Math.max(from, c.allocatedAt ?? from);
    const b = Math.min(to, c.endedAt ?? to);
    if (a >= b) continue;
    const row = rowFor(r, c.namespace, c.profile, maxRows);
    for (let h = Math.floor((a - midnight) / HOUR_MS); h * HOUR_MS + midnight < b; h++) {
      const hs = midnight + h * HOUR_MS;
      row.hours[h] = (row.hours[h] as number) + Math.min(b, hs + HOUR_MS) - Math.max(a, hs);
    }
  }
}

/** The row of a namespace and profile; once the record is full, the overflow row of the profile. */
function rowFor(r: UsageRecord, namespace: string, profile: string, maxRows: number): { hours: number[] } {
  let k = rowKey(namespace, profile);
  let row = r.rows.get(k);
  if (row) return row;
  const regular = [...r.rows.values()].filter((x) => x.namespace !== OVERFLOW_NAMESPACE).length;
  if (regular >= maxRows) {
    namespace = OVERFLOW_NAMESPACE;
    k = rowKey(namespace, profile);
    row = r.rows.get(k);
    if (row) return row;
  }
  row = { namespace, profile, hours: new Array<number>(24).fill(0) };
  r.rows.set(k, row);
  return row;
}

/** Identity of a claim wherever it sits (a defragmentation move keeps it). */
export function claimIdentity(e: LedgerEntry): string {
  const c = e.claim;
  return `${c.kind}/${c.namespace}/${c.name}/${c.uid}/${c.slot}`;
}

/**
 * The claims each tenant holds: the ledger's entries, and `departed` entries (claims whose GpuNode was deleted,
 * with the instant they left) unless the claim is still in the ledger elsewhere. `owns` limits them to the
 * namespaces this operator manages.
 */
export function claimsByTenant(entries: LedgerEntry[], departed: Array<{ entry: LedgerEntry; endedAt: number }> = [], owns: (namespace: string) => boolean = () => true): Map<string, MeteredClaim[]> {
  const out = new Map<string, MeteredClaim[]>();
  const add = (c: MeteredClaim) => {
    let list = out.get(c.tenant);
    if (!list) out.set(c.tenant, (list = []));
    list.push(c);
  };
  const live = new Set<string>();
  for (const e of entries) {
    if (!owns(e.claim.namespace)) continue;
    live.add(claimIdentity(e));
    add(meteredClaim(e));
  }
  for (const d of departed) if (owns(d.entry.claim.namespace) && !live.has(claimIdentity(d.entry))) add({ ...meteredClaim(d.entry), endedAt: d.endedAt });
  return out;
}
