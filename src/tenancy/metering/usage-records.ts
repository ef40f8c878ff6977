/**
 * The GpuUsage records as this replica knows them: the informer cache, indexed by tenant and day, with this
 * replica's own writes in place of cached versions the watch has not shown yet (so back-to-back settlements do
 * not trip over their own last write). A tenant's checkpoint is its latest record.
 */
import type { GpuUsage } from '../../api/types.js';
import type { LogPort } from '../../runtime/ports.js';
import { readRecord, type UsageRecord } from './usage-record.js';

/** What the index reads: an informer, or (tests) anything that lists. */
export interface UsageSource {
  list(): GpuUsage[];
  /** Registers a change handler (an informer's); without it, every query lists again. */
  onChange?(handler: (obj: GpuUsage, previous: GpuUsage | undefined, deleted: boolean) => void): () => void;
}

/** Records by tenant and day, cache plus own writes. */
export class UsageRecords {
  readonly #source: UsageSource;
  readonly #log: LogPort | undefined;
  /** tenant → date → object, kept by the change handler (undefined: rebuilt from `list()` per query). */
  #index: Map<string, Map<string, GpuUsage>> | undefined;
  /** tenant → the record this replica last wrote or read fresh. */
  readonly #assumed = new Map<string, GpuUsage>();
  readonly #parsed = new WeakMap<GpuUsage, UsageRecord | Error>();
  readonly #listeners: Array<(tenant: string) => void> = [];

  /** Indexes `source`. */
  constructor(source: UsageSource, log?: LogPort) {
    this.#source = source;
    this.#log = log;
    if (source.onChange) {
      this.#index = new Map();
      for (const o of source.list()) this.#put(o);
      source.onChange((o, _prev, deleted) => {
        const tenant = o.spec?.tenant;
        if (!tenant) return;
        if (deleted) this.#index?.get(tenant)?.delete(o.spec.date);
        else this.#put(o);
        this.#changed(tenant);
      });
    }
  }

  /** Calls `fn` with the tenant whenever one of its records changes (cache or own write). */
  onTenantChanged(fn: (tenant: string) => void): void {
    this.#listeners.push(fn);
  }

  /** Every tenant with a record. */
  tenants(): string[] {
    return [...new Set([...this.#byTenant().keys(), ...this.#assumed.keys()])].sort();
  }

  /** The tenant's latest record (its checkpoint), or undefined when it has none. Throws on an unreadable record. */
  latest(tenant: string): UsageRecord | undefined {
    const obj = this.latestObject(tenant);
    return obj ? this.#read(obj) : undefined;
  }

  /** The stored object of the tenant's latest record. */
  latestObject(tenant: string): GpuUsage | undefined {
    const days = this.#byTenant().get(tenant);
    let cached: GpuUsage | undefined;
    for (const o of days?.values() ?? []) if (!cached || o.spec.date > cached.spec.date) cached = o;
    const own = this.#assumed.get(tenant);
    if (!own) return cached;
    if (!cached) return own;
    // The newer of the two: a later day, or the same day settled further; a tie is this replica's own write.
    const c = [cached.spec.date, cached.status?.settledThrough ?? ''];
    const a = [own.spec.date, own.status?.settledThrough ?? ''];
    if (c[0]! > a[0]! || (c[0] === a[0] && c[1]! > a[1]!)) {
      this.#assumed.delete(tenant);
      return cached;
    }
    return own;
  }

  /** Records of every tenant (latest versions known) with a date in [fromDate, toDate]; unreadable ones are skipped. */
  between(fromDate: string, toDate: string): UsageRecord[] {
    const out = new Map<string, GpuUsage>();
    for (const days of this.#byTenant().values()) for (const [d, o] of days) if (d >= fromDate && d <= toDate) out.set(o.metadata.name as string, o);
    for (const o of this.#assumed.values()) {
      if (o.spec.date < fromDate || o.spec.date > toDate) continue;
      const c = out.get(o.metadata.name as string);
      if (!c || (o.status?.settledThrough ?? '') >= (c.status?.settledThrough ?? '')) out.set(o.metadata.name as string, o);
    }
    const records: UsageRecord[] = [];
    for (const o of out.values()) {
      try {
        records.push(this.#read(o));
      } catch (err) {
        this.#log?.error('Skipping an unreadable GpuUsage record', { record: o.metadata.name, err });
      }
    }
    return records;
  }

  /** Every cached record object (retention). */
  objects(): GpuUsage[] {
    return [...this.#byTenant().values()].flatMap((days) => [...days.values()]);
  }

  /** Records an object this replica wrote, or the newest it read fresh from the API server. */
  assume(obj: GpuUsage): void {
    const tenant = obj.spec.tenant;
    this.#assumed.set(tenant, obj);
    this.#changed(tenant);
  }

  /** Takes a fresh list of one tenant's records as the truth (after a refused write). */
  replaceTenant(tenant: string, objs: GpuUsage[]): void {
    const mine = objs.filter((o) => o.spec?.tenant === tenant).sort((a, b) => a.spec.date.localeCompare(b.spec.date));
    const last = mine.at(-1);
    if (last) this.#assumed.set(tenant, last);
    else this.#assumed.delete(tenant);
    if (this.#index) {
      const days = new Map(mine.map((o) => [o.spec.date, o]));
      this.#index.set(tenant, days);
    }
    this.#changed(tenant);
  }

  /** Forgets own writes (a replica that stops leading follows the cache alone). */
  reset(): void {
    this.#assumed.clear();
  }

  #read(obj: GpuUsage): UsageRecord {
    let r = this.#parsed.get(obj);
    if (!r) {
      try {
        r = readRecord(obj);
      } catch (err) {
        r = err as Error;
      }
      this.#parsed.set(obj, r);
    }
    if (r instanceof Error) throw r;
    return r;
  }

  #put(o: GpuUsage): void {
    const tenant = o.spec?.tenant;
    if (!tenant || !this.#index) return;
    let days = this.#index.get(tenant);
    if (!days) this.#index.set(tenant, (days = new Map()));
    days.set(o.spec.date, o);
  }

  #byTenant(): Map<string, Map<string, GpuUsage>> {
    if (this.#index) return this.#index;
    const out = new Map<string, Map<string, GpuUsage>>();
    for (const o of this.#source.list()) {
      if (!o.spec?.tenant) continue;
      let days = out.get(o.spec.tenant);
      if (!days) out.set(o.spec.tenant, (days = new Map()));
      days.set(o.spec.date, o);
    }
    return out;
  }

  #changed(tenant: string): void {
    for (const fn of this.#listeners) {
      try {
        fn(tenant);
      } catch (err) {
        this.#log?.error('Metering listener failed', { tenant, err });
      }
    }
  }
}
