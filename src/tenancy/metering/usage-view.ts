/**
 * Usage as of now, for the billing export: the durable records, with the part not settled yet added as the
 * settlement would add it (the same arithmetic over the ledger as this replica's cache has it). Reads caches
 * only: a report costs the API server nothing. Any replica can answer; the leader's answer also respects the
 * admission cycle in flight.
 */
import type { LedgerEntry } from '../../ledger/claims.js';
import { buildReport, type UsageQuery, type UsageReport } from './billing-report.js';
import { claimsByTenant, planSettlement } from './settlement.js';
import { DAY_MS, UNASSIGNED_TENANT, dayStart, recordName, utcDate, type UsageRecord } from './usage-record.js';
import type { UsageRecords } from './usage-records.js';

/** What the view reads. */
export interface UsageViewDeps {
  records: UsageRecords;
  /** Every claim in the ledger as this replica knows it. */
  ledger(): LedgerEntry[];
  owns?(namespace: string): boolean;
  /** Whether a tenant still exists (its GpuTenant); absent: every tenant does. */
  tenantExists?(tenant: string): boolean;
  /** The latest instant usage is known up to (the leader's settler bounds it by the cycle in flight). */
  watermark?(): number;
  retentionDays: number;
  /** True once the caches are synced, else what is missing. */
  synced?(): boolean | string;
  now?: () => number;
}

/** Reports from records plus the unsettled part. */
export class UsageView {
  readonly #d: UsageViewDeps;

  /** Reads `deps`. */
  constructor(deps: UsageViewDeps) {
    this.#d = deps;
  }

  /** True when reports can be made, else why not. */
  ready(): boolean | string {
    return this.#d.synced?.() ?? true;
  }

  /** The report of `q`: durable usage and the unsettled part up to now. */
  report(q: UsageQuery): UsageReport {
    const now = this.#d.now?.() ?? Date.now();
    const upTo = Math.min(now, this.#d.watermark?.() ?? now);
    const held = claimsByTenant(this.#d.ledger(), [], this.#d.owns);
    const exists = this.#d.tenantExists ?? (() => true);
    const first = utcDate(q.from);
    const last = utcDate(q.to - 1);
    const view = new Map<string, UsageRecord>(this.#d.records.between(first, last).map((r) => [recordName(r.tenant, r.date), r]));
    let closedThrough: number | undefined = Number.POSITIVE_INFINITY;
    for (const tenant of new Set([...this.#d.records.tenants(), ...held.keys()])) {
      if (q.tenant !== undefined && tenant !== q.tenant) continue;
      let latest: UsageRecord | undefined;
      try {
        latest = this.#d.records.latest(tenant);
      } catch {
        closedThrough = undefined;
        continue;
      }
      const claims = held.get(tenant) ?? [];
      // A tenant that is gone and holds nothing has no more usage: it does not hold the report open.
      const active = claims.length > 0 || tenant === UNASSIGNED_TENANT || exists(tenant);
      if (active && closedThrough !== undefined) closedThrough = latest ? Math.min(closedThrough, latest.settledThrough) : undefined;
      // Nothing held: nothing unsettled to add (and no empty days to compute for a tenant idle for long).
      if (claims.length === 0) continue;
      for (const w of planSettlement(tenant, latest, claims, upTo, { pruneAfterDays: this.#d.retentionDays })) {
        if (w.record.date >= first && w.record.date <= last) view.set(recordName(tenant, w.record.date), w.record);
      }
    }
    if (closedThrough === Number.POSITIVE_INFINITY) closedThrough = upTo;
    return buildReport(view.values(), q, { now, closedThrough, retainedFrom: dayStart(utcDate(now - this.#d.retentionDays * DAY_MS)) });
  }
}
