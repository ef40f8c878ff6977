/**
 * Settles metered usage into GpuUsage records (leader only): before the admission cycle writes releases (the
 * `beforeRelease` hook), every `intervalMs`, on becoming leader, and when a GpuNode with claims is deleted. Also
 * deletes records older than the retention period and mirrors each tenant's totals into its GpuTenant status.
 *
 * Why no second is lost or counted twice:
 * - Every write is guarded: a status write carries the record's resourceVersion, a new day's record is created
 *   by name (exclusive), and only after the previous day's record was closed. A writer whose view is stale (a
 *   stale leader, a cache behind) is refused, reads the tenant's records fresh and plans again.
 * - Each settlement goes no further than the instant of the admission cycle in flight (`inFlight`): claims that
 *   cycle allocates carry its instant and are not in the ledger yet, and claims it releases are settled up to that
 *   instant by `beforeRelease` before they leave the ledger.
 * - Writes for one tenant are serialized in this replica; a crash between two writes leaves a prefix of a correct
 *   settlement, from which the next leader continues (its claims still carry their `allocatedAt`).
 */
import { API_VERSION, TENANT_LABEL } from '../../api/constants.js';
import type { GpuNode, GpuUsage } from '../../api/types.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../k8s/errors.js';
import { RESOURCES, type ResourceRef } from '../../k8s/resources.js';
import { ledgerEntries, type LedgerEntry } from '../../ledger/claims.js';
import type { LogPort } from '../../runtime/ports.js';
import { claimsByTenant, planSettlement, type MeteredClaim, type SettlementWrite } from './settlement.js';
import { DAY_MS, HOUR_MS, UNASSIGNED_TENANT, recordObject, utcDate, type UsageRecord } from './usage-record.js';
import type { UsageRecords } from './usage-records.js';

/** The API calls settlement makes (a `KubeClient` fits). */
export interface MeteringClient {
  create<T>(ref: ResourceRef, obj: T): Promise<T>;
  /** Status merge patch; a `metadata.resourceVersion` in the patch is a precondition (409 when stale). */
  mergePatchStatus<T>(ref: ResourceRef, name: string, patch: object, namespace?: string): Promise<T>;
  list<T>(ref: ResourceRef, opts?: { labelSelector?: string }): Promise<{ items: T[] }>;
  delete(ref: ResourceRef, name: string, namespace?: string): Promise<boolean>;
}

/** Counters of settlement outcomes. */
export interface SettlementMetricsPort {
  settlement(result: 'ok' | 'conflict' | 'error'): void;
}

/** What the settler reads and writes. */
export interface UsageSettlerDeps {
  client: MeteringClient;
  records: UsageRecords;
  /** Every claim in the ledger as this replica knows it (including its own writes the cache has not shown). */
  ledger(): LedgerEntry[];
  /** Whether this operator meters the claims of a namespace (all, unless it manages one namespace). */
  owns?(namespace: string): boolean;
  /** Whether a tenant still exists (its GpuTenant); absent: every tenant does. */
  tenantExists?(tenant: string): boolean;
  /** Mirrors a tenant's settled totals into its GpuTenant status (best effort). */
  mirror?(tenant: string, record: UsageRecord): Promise<void>;
  /** True while this replica may write (it holds an unexpired Lease). */
  fence(): boolean;
  metrics?: SettlementMetricsPort;
  log: LogPort;
  now?: () => number;
}

/** Timing and retention. */
export interface UsageSettlerOptions {
  /** Settle every tenant holding claims this often; default 30 s. */
  intervalMs?: number;
  /** Records of days older than this are deleted (a tenant's latest record always stays); default 90. */
  retentionDays?: number;
  /** Tenants settled at once; default 8. */
  concurrency?: number;
  /** Attempts of one settlement whose writes are refused (the view is read fresh between them); default 5. */
  maxAttempts?: number;
  /** A tenant's GpuTenant status mirror is written at most this often; default 60 s. */
  mirrorIntervalMs?: number;
}

/** The leader's settlement loop and the admission cycle's metering hooks. */
export class UsageSettler {
  readonly #d: UsageSettlerDeps;
  readonly #o: Required<UsageSettlerOptions>;
  readonly #now: () => number;
  /** Tenant → the settlement running or queued for it. */
  readonly #chains = new Map<string, Promise<void>>();
  /** Instant of the admission cycle in flight. */
  #inFlight: number | undefined;
  /** Claims of deleted GpuNodes not settled up to their end yet. */
  #departed: Array<{ entry: LedgerEntry; endedAt: number }> = [];
  /** Tenant → when its mirror was last written, and the settledThrough it showed. */
  readonly #mirrored = new Map<string, { at: number; through: number }>();
  #retentionAt = 0;
  #running = false;
  #loop: Promise<void> | undefined;
  #wakeup: (() => void) | undefined;
  #passes = 0;

  /** Creates a stopped settler. */
  constructor(deps: UsageSettlerDeps, opts: UsageSettlerOptions = {}) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#o = {
      intervalMs: opts.intervalMs ?? 30_000,
      retentionDays: opts.retentionDays ?? 90,
      concurrency: opts.concurrency ?? 8,
      maxAttempts: opts.maxAttempts ?? 5,
      mirrorIntervalMs: opts.mirrorIntervalMs ?? 60_000,
    };
  }

  /** The retention period in days. */
  get retentionDays(): number {
    return this.#o.retentionDays;
  }

  /** The admission cycle of `at` starts planning: settle no further than `at` until it has written. */
  begin(at: Date): void {
    this.#inFlight = at.getTime();
  }

  /** The admission cycle's writes are done (or abandoned). */
  end(): void {
    this.#inFlight = undefined;
  }

  /** The latest instant settlement may reach now: the present, or the instant of the cycle in flight. */
  watermark(): number {
    const now = this.#now();
    return this.#inFlight === undefined ? now : Math.min(now, this.#inFlight);
  }

  /**
   * The admission cycle's hook: settles every tenant of `released` through `at` (their claims are still in the
   * ledger) before the releases are written. Rejects when a settlement fails: the cycle then writes nothing.
   */
  async beforeRelease(released: LedgerEntry[], at: Date): Promise<void> {
    const owns = this.#d.owns ?? (() => true);
    const tenants = [...new Set(released.filter((e) => owns(e.claim.namespace)).map((e) => e.claim.tenant ?? UNASSIGNED_TENANT))];
    const failures = (await this.#settleMany(tenants, at.getTime())).filter((r) => r.status === 'rejected');
    if (failures.length > 0) throw new Error(`settling the usage of ${failures.length} tenant(s) before a release`, { cause: (failures[0] as PromiseRejectedResult).reason });
  }

  /** A GpuNode was deleted: its claims left the ledger now, without a settled release. */
  nodeDeleted(node: GpuNode): void {
    if (!this.#running) return;
    const endedAt = this.#now();
    const entries = ledgerEntries([node]).filter((e) => (this.#d.owns ?? (() => true))(e.claim.namespace));
    if (entries.length === 0) return;
    for (const entry of entries) this.#departed.push({ entry, endedAt });
    this.#kick();
  }

  /** Settlement passes run so far (tests). */
  passes(): number {
    return this.#passes;
  }

  /** Starts the loop (on becoming leader): the first pass runs at once. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops the loop; settlements in flight finish (each write checks the Lease first). */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#kick();
    await this.#loop;
    await Promise.allSettled([...this.#chains.values()]);
    this.#departed = [];
    this.#inFlight = undefined;
    this.#d.records.reset();
  }

  /**
   * One pass: settles every tenant holding claims through the watermark, and tenants holding none once an hour
   * (so every existing tenant's hours close); then mirrors and retention. Resolves when done; never rejects.
   */
  async settleAll(): Promise<void> {
    const through = this.watermark();
    const held = this.#held();
    const exists = this.#d.tenantExists ?? (() => true);
    const tenants = new Set(held.keys());
    for (const t of this.#d.records.tenants()) {
      if (tenants.has(t) || (t !== UNASSIGNED_TENANT && !exists(t))) continue;
      const latest = this.#latestQuietly(t);
      if (latest && Math.floor(latest.settledThrough / HOUR_MS) < Math.floor(through / HOUR_MS)) tenants.add(t);
    }
    const results = await this.#settleMany([...tenants], through);
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.#d.log.warn('Settling a tenant\'s usage failed; the next pass tries again', { tenant: [...tenants][i], err: r.reason });
    });
    this.#passes++;
    await this.#mirror();
    await this.#retention();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      await this.settleAll();
      if (!this.#running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#o.intervalMs);
        this.#wakeup = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  #kick(): void {
    const w = this.#wakeup;
    this.#wakeup = undefined;
    w?.();
  }

  /** Claims held per tenant now (ledger plus departed). */
  #held(): Map<string, MeteredClaim[]> {
    return claimsByTenant(this.#d.ledger(), this.#departed, this.#d.owns);
  }

  /** Settles tenants through `through`, at most `concurrency` at once. */
  async #settleMany(tenants: string[], through: number): Promise<PromiseSettledResult<void>[]> {
    const results: PromiseSettledResult<void>[] = new Array(tenants.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < tenants.length) {
        const i = next++;
        try {
          await this.#settle(tenants[i] as string, through);
          results[i] = { status: 'fulfilled', value: undefined };
        } catch (reason) {
          results[i] = { status: 'rejected', reason };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.concurrency, tenants.length) }, worker));
    return results;
  }

  /** Settles one tenant through `through` (bounded by the watermark), after any settlement of it in flight. */
  #settle(tenant: string, through: number): Promise<void> {
    const prev = this.#chains.get(tenant) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => this.#settleNow(tenant, through));
    this.#chains.set(tenant, run);
    void run.catch(() => undefined).finally(() => {
      if (this.#chains.get(tenant) === run) this.#chains.delete(tenant);
    });
    return run;
  }

  async #settleNow(tenant: string, through: number): Promise<void> {
    let fresh = false;
    for (let attempt = 1; ; attempt++) {
      if (!this.#d.fence()) throw new Error(`settling tenant ${tenant}: this replica may not write (no valid Lease)`);
      // A tenant this replica knows no record of may have some the cache has not shown: look before creating one.
      if (!fresh && this.#d.records.latestObject(tenant) === undefined) {
        await this.#refresh(tenant);
        fresh = true;
      }
      // The instant and the view of the ledger are taken together, with no await in between.
      const upTo = Math.min(through, this.watermark());
      const claims = this.#held().get(tenant) ?? [];
      const writes = planSettlement(tenant, this.#d.records.latest(tenant), claims, upTo, { pruneAfterDays: this.#o.retentionDays });
      if (writes.length === 0) return;
      try {
        for (const w of writes) await this.#write(w);
        this.#departed = this.#departed.filter((d) => (d.entry.claim.tenant ?? UNASSIGNED_TENANT) !== tenant || d.endedAt > upTo);
        this.#d.metrics?.settlement('ok');
        return;
      } catch (err) {
        const refused = isConflict(err) || isAlreadyExists(err) || isNotFound(err);
        this.#d.metrics?.settlement(refused ? 'conflict' : 'error');
        if (!refused || attempt >= this.#o.maxAttempts) throw new Error(`settling tenant ${tenant} through ${new Date(upTo).toISOString()}`, { cause: err });
        this.#d.log.debug('A GpuUsage record changed under a settlement; reading the tenant\'s records fresh', { tenant, err });
        await this.#refresh(tenant);
        fresh = true;
      }
    }
  }

  /** One write: a record's creation (then its status), or its status, guarded by its resourceVersion. */
  async #write(w: SettlementWrite): Promise<void> {
    if (!this.#d.fence()) throw new Error('this replica may not write (no valid Lease)');
    const obj = recordObject(w.record);
    const name = obj.metadata.name as string;
    if (name.length > 253) throw new Error(`tenant ${w.record.tenant}: the name is too long for a GpuUsage record (${name})`);
    let rv = w.record.resourceVersion;
    if (w.create) {
      const labels = w.record.tenant.length <= 63 ? { labels: { [TENANT_LABEL]: w.record.tenant } } : {};
      const created = await this.#d.client.create<GpuUsage>(RESOURCES.gpuUsage, { apiVersion: API_VERSION, kind: 'GpuUsage', metadata: { name, ...labels }, spec: obj.spec });
      this.#d.records.assume(created);
      rv = created.metadata.resourceVersion;
      if (w.record.rows.size === 0 && w.record.settledThrough === w.record.openedAt) return;
      if (!this.#d.fence()) throw new Error('this replica may not write (no valid Lease)');
    }
    const written = await this.#d.client.mergePatchStatus<GpuUsage>(RESOURCES.gpuUsage, name, { metadata: { resourceVersion: rv }, status: obj.status });
    this.#d.records.assume(written);
  }

  /** Reads one tenant's records fresh from the API server. */
  async #refresh(tenant: string): Promise<void> {
    const selector = tenant.length <= 63 ? { labelSelector: `${TENANT_LABEL}=${tenant}` } : {};
    const { items } = await this.#d.client.list<GpuUsage>(RESOURCES.gpuUsage, selector);
    this.#d.records.replaceTenant(tenant, items);
  }

  #latestQuietly(tenant: string): UsageRecord | undefined {
    try {
      return this.#d.records.latest(tenant);
    } catch {
      return undefined;
    }
  }

  /** Writes the GpuTenant mirrors that are due: settled further since the last, at most once per interval (best effort). */
  async #mirror(): Promise<void> {
    const mirror = this.#d.mirror;
    if (!mirror) return;
    const now = this.#now();
    const exists = this.#d.tenantExists ?? (() => true);
    for (const t of this.#d.records.tenants()) {
      const last = this.#mirrored.get(t);
      if (t === UNASSIGNED_TENANT || !exists(t) || (last && now - last.at < this.#o.mirrorIntervalMs) || !this.#d.fence()) continue;
      const latest = this.#latestQuietly(t);
      if (!latest || latest.settledThrough === last?.through) continue;
      try {
        await mirror(t, latest);
        this.#mirrored.set(t, { at: now, through: latest.settledThrough });
      } catch (err) {
        this.#d.log.debug('Mirroring metered usage into the GpuTenant status failed', { tenant: t, err });
      }
    }
  }

  /**
   * Deletes records older than the retention period, at most once an hour. A tenant's latest record stays (it
   * carries the totals and the checkpoint), unless the tenant is gone and holds nothing: then its usage is over.
   */
  async #retention(): Promise<void> {
    const now = this.#now();
    if (now - this.#retentionAt < HOUR_MS) return;
    this.#retentionAt = now;
    const oldest = utcDate(now - this.#o.retentionDays * DAY_MS);
    const exists = this.#d.tenantExists ?? (() => true);
    const held = this.#held();
    const latest = new Map<string, string>();
    const objects = this.#d.records.objects();
    for (const o of objects) if ((latest.get(o.spec.tenant) ?? '') < o.spec.date) latest.set(o.spec.tenant, o.spec.date);
    const over = (t: string) => t !== UNASSIGNED_TENANT && !exists(t) && !held.has(t);
    for (const o of objects) {
      if (o.spec.date >= oldest || (latest.get(o.spec.tenant) === o.spec.date && !over(o.spec.tenant)) || !this.#d.fence()) continue;
      try {
        await this.#d.client.delete(RESOURCES.gpuUsage, o.metadata.name as string);
      } catch (err) {
        this.#d.log.warn('Deleting an expired GpuUsage record failed', { record: o.metadata.name, err });
      }
    }
  }
}
