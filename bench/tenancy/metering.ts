/**
 * Metering in the replay, through the operator's settlement arithmetic (`src/tenancy/metering/settlement.ts`):
 * each tenant's chain of day records is settled through an instant from the claims the ledger holds then — before
 * a cycle writes releases (the `beforeRelease` hook) and periodically — exactly as the operator's settler does,
 * minus the API writes. Pure.
 *
 * To tell what each allocation was metered, every allocation also gets a record of its own, settled by the same
 * function at the same instants with only its claim (runs of consecutive settlements it took part in are folded
 * into one call, which the arithmetic makes exact: usage is additive in integer milliseconds). The tenants'
 * records must equal the sum of their allocations' records, to the millisecond.
 */
import type { LedgerEntry } from '../../src/ledger/claims.js';
import { meteredClaim, planSettlement, type MeteredClaim } from '../../src/tenancy/metering/settlement.js';
import { recordTotals, rowKey, UNASSIGNED_TENANT, type UsageRecord } from '../../src/tenancy/metering/usage-record.js';

/** Namespace totals older than this are dropped from opening balances (irrelevant within a few days). */
const SETTLEMENT = { pruneAfterDays: 35 };

/** Settles a record chain through `through` with `claims`; returns its latest record. */
function settle(owner: string, latest: UsageRecord | undefined, claims: MeteredClaim[], through: number): UsageRecord | undefined {
  const writes = planSettlement(owner, latest, claims, through, SETTLEMENT);
  return writes.length > 0 ? (writes.at(-1) as (typeof writes)[number]).record : latest;
}

/** Slice-milliseconds a record chain holds in total (opening balance + its day), per `namespace\0profile` row. */
export function chainTotals(latest: UsageRecord | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (latest) for (const n of recordTotals(latest).namespaces) out.set(rowKey(n.namespace, n.profile), n.sliceMilliseconds);
  return out;
}

/**
 * The identity of one allocation — one ledger entry: a slice, or one GPU of a worker — by its claim, its place and
 * the instant it was allocated.
 */
export function allocationId(e: LedgerEntry): string {
  const c = e.claim;
  return `${c.kind}/${c.namespace}/${c.name}/${c.uid}/${c.slot}@${e.node}/${e.gpuIndex}/${e.start ?? 'whole'}@${c.allocatedAt ?? ''}`;
}

interface Shadow {
  id: string;
  claim: MeteredClaim;
  /** The last tenant settlement it took part in. */
  stamp: number;
  latest: UsageRecord | undefined;
  /** The last settlement instant of the current run, and whether the claim was in the ledger during that run. */
  run: { present: boolean; through: number } | undefined;
}

/** What metering derives from one ledger entry (cached per claim object: the ledger keeps most of them). */
interface EntryInfo {
  node: string;
  id: string;
  claim: MeteredClaim;
  shadow: Shadow | undefined;
}

/** Tenant records plus one record per allocation. */
export class MeteringBook {
  readonly #tenants = new Map<string, UsageRecord>();
  readonly #shadows = new Map<string, Shadow>();
  readonly #info = new WeakMap<object, Array<EntryInfo | undefined>>();
  /** Settlements made per tenant (each is what the operator writes to a GpuUsage record). */
  settlements = 0;

  /**
   * Settles `tenant` through `through` from the ledger's claims of that tenant (`entries`). `live`: the
   * allocations of that tenant the replay knows are held now (an allocation missing from the ledger is settled
   * without its claim, i.e. not metered for that stretch).
   */
  settleTenant(tenant: string, entries: LedgerEntry[], through: number, live: Iterable<string>): void {
    const infos = entries.map((e) => this.#infoOf(e));
    this.#tenants.set(tenant, settle(tenant, this.#tenants.get(tenant), infos.map((i) => i.claim), through) as UsageRecord);
    const stamp = ++this.settlements;
    for (const info of infos) {
      // An allocation id is never reused: once closed, its entry has left the ledger for good.
      let s = info.shadow;
      if (!s) {
        s = this.#shadows.get(info.id);
        if (!s) this.#shadows.set(info.id, (s = { id: info.id, claim: info.claim, stamp, latest: undefined, run: undefined }));
        info.shadow = s;
      }
      s.stamp = stamp;
      this.#advance(s, true, through);
    }
    for (const id of live) {
      const s = this.#shadows.get(id);
      if (s && s.stamp !== stamp) this.#advance(s, false, through);
    }
  }

  /** The allocation's metered slice-milliseconds; it is forgotten afterwards. */
  close(id: string): number {
    const s = this.#shadows.get(id);
    if (!s) return 0;
    this.#flush(s);
    this.#shadows.delete(id);
    let ms = 0;
    for (const v of chainTotals(s.latest).values()) ms += v;
    return ms;
  }

  /** Tenants with records. */
  tenants(): string[] {
    return [...this.#tenants.keys()].sort();
  }

  /** A tenant's metered slice-milliseconds per `namespace\0profile` row. */
  tenantTotals(tenant: string): Map<string, number> {
    return chainTotals(this.#tenants.get(tenant));
  }

  #infoOf(e: LedgerEntry): EntryInfo {
    let byPlace = this.#info.get(e.claim);
    if (!byPlace) this.#info.set(e.claim, (byPlace = []));
    // A claim holds at most one entry per GPU and start slot (whole GPUs: slot 8).
    const k = e.gpuIndex * 9 + (e.start ?? 8);
    let info = byPlace[k];
    if (!info || info.node !== e.node) byPlace[k] = info = { node: e.node, id: allocationId(e), claim: meteredClaim(e), shadow: undefined };
    return info;
  }

  #advance(s: Shadow, present: boolean, through: number): void {
    if (s.run && s.run.present !== present) this.#flush(s);
    if (s.run) s.run.through = through;
    else s.run = { present, through };
  }

  #flush(s: Shadow): void {
    if (!s.run) return;
    s.latest = settle(s.id, s.latest, s.run.present ? [s.claim] : [], s.run.through);
    s.run = undefined;
  }
}

/** The tenant metering charges a ledger entry to. */
export function meteredTenant(e: LedgerEntry): string {
  return e.claim.tenant ?? UNASSIGNED_TENANT;
}
