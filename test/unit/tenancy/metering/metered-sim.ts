/**
 * The in-memory operator (`OperatorSim`) with metering wired as the operator wires it: the settler's hooks on the
 * admission cycle, records read from the fake API server, the simulated clock. `writer()` makes another settler
 * over the same API server (a second leader, or the next one after a crash), with its own view of the records.
 */
import type { GpuUsage } from '../../../../src/api/types.js';
import { RESOURCES, type ResourceRef } from '../../../../src/k8s/resources.js';
import { claimsByTenant } from '../../../../src/tenancy/metering/settlement.js';
import { HOUR_MS, readRecord, type UsageRecord } from '../../../../src/tenancy/metering/usage-record.js';
import { UsageRecords, type UsageSource } from '../../../../src/tenancy/metering/usage-records.js';
import { UsageSettler, type MeteringClient, type UsageSettlerDeps, type UsageSettlerOptions } from '../../../../src/tenancy/metering/usage-settler.js';
import type { GpuNode } from '../../../../src/api/types.js';
import { ApiError } from '../../../../src/k8s/errors.js';
import { quietLog } from '../../support/fakes.js';
import { OperatorSim, type SimOptions } from '../../support/operator-sim.js';

/** A client over the sim's API server whose GpuUsage writes can be made to fail. */
export class FlakyUsageClient implements MeteringClient {
  /** Calls to fail (each once): `create` or `status`, of one record or any, with the error to throw (default a 500). */
  readonly failures: Array<{ call: 'create' | 'status'; name?: string; error?: Error }> = [];
  readonly calls: string[] = [];
  /** Called before each write (tests look at the ledger at that moment). */
  beforeWrite: ((call: string) => void) | undefined;

  constructor(private readonly sim: OperatorSim) {}

  #fail(call: 'create' | 'status', name: string): void {
    this.beforeWrite?.(`${call} ${name}`);
    const i = this.failures.findIndex((f) => f.call === call && (f.name === undefined || f.name === name));
    if (i < 0) return;
    const [f] = this.failures.splice(i, 1);
    throw f!.error ?? new ApiError(`${call}: etcd timed out`, 500, { reason: 'InternalError' });
  }

  async create<T>(ref: ResourceRef, obj: T): Promise<T> {
    const name = (obj as GpuUsage).metadata.name as string;
    this.calls.push(`create ${name}`);
    this.#fail('create', name);
    return this.sim.client.create(ref, obj);
  }

  async mergePatchStatus<T>(ref: ResourceRef, name: string, patch: object, ns?: string): Promise<T> {
    this.calls.push(`status ${name}`);
    this.#fail('status', name);
    return this.sim.client.mergePatchStatus(ref, name, patch, ns);
  }

  list<T>(ref: ResourceRef, opts?: { labelSelector?: string }): Promise<{ items: T[] }> {
    this.calls.push(`list ${opts?.labelSelector ?? ''}`);
    return this.sim.client.list<T>(ref, opts);
  }

  delete(ref: ResourceRef, name: string): Promise<boolean> {
    this.calls.push(`delete ${name}`);
    return this.sim.client.delete(ref, name);
  }
}

/** The sim's GpuUsage objects as a record source, optionally frozen (a cache that lags behind). */
export class RecordSource implements UsageSource {
  #frozen: GpuUsage[] | undefined;

  constructor(private readonly sim: OperatorSim) {}

  list(): GpuUsage[] {
    return this.#frozen ?? this.sim.client.all<GpuUsage>(RESOURCES.gpuUsage);
  }

  /** Stops following the API server (until `thaw`). */
  freeze(): void {
    this.#frozen = this.sim.client.all<GpuUsage>(RESOURCES.gpuUsage);
  }

  thaw(): void {
    this.#frozen = undefined;
  }
}

/** One settler over the sim: a replica's metering. */
export interface Writer {
  settler: UsageSettler;
  records: UsageRecords;
  source: RecordSource;
  client: FlakyUsageClient;
}

/** The sim with metering. */
export class MeteredSim {
  readonly sim: OperatorSim;
  /** The leader's metering (the one the admission cycle calls). */
  leader!: Writer;

  constructor(nodes: GpuNode[], opts: SimOptions & { settler?: UsageSettlerOptions } = {}) {
    this.sim = new OperatorSim(nodes, {
      ...opts,
      beforeRelease: (released, at) => this.leader.settler.beforeRelease(released, at),
      inFlight: { begin: (at) => this.leader.settler.begin(at), end: () => this.leader.settler.end() },
    });
    this.leader = this.writer(opts.settler);
  }

  /** A settler over the same API server with its own record cache. */
  writer(opts: UsageSettlerOptions = {}, deps: Partial<UsageSettlerDeps> = {}): Writer {
    const source = new RecordSource(this.sim);
    const records = new UsageRecords(source);
    const client = new FlakyUsageClient(this.sim);
    const settler = new UsageSettler(
      { client, records, ledger: () => this.sim.ledger.entries(), fence: () => !this.sim.fenced, log: quietLog, now: () => this.sim.now().getTime(), ...deps },
      opts,
    );
    return { settler, records, source, client };
  }

  /** Makes `w` the settler the admission cycle calls (a new leader). */
  lead(w: Writer): void {
    this.leader = w;
  }

  /** Every stored record, by name. */
  records(): Map<string, UsageRecord> {
    return new Map(this.sim.client.all<GpuUsage>(RESOURCES.gpuUsage).map((o) => [o.metadata.name as string, readRecord(o)]));
  }

  /** Stored slice-ms of a tenant per `namespace|profile` over every record. */
  sliceMs(tenant = 'unassigned'): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.records().values()) {
      if (r.tenant !== tenant) continue;
      for (const row of r.rows.values()) {
        const k = `${row.namespace}|${row.profile}`;
        out.set(k, (out.get(k) ?? 0) + row.hours.reduce((a, b) => a + b, 0));
      }
    }
    for (const [k, v] of out) if (v === 0) out.delete(k);
    return out;
  }

  /** The tenant's claims the ledger holds now. */
  held(): Map<string, unknown[]> {
    return claimsByTenant(this.sim.ledger.entries());
  }

  /** Advances the clock by `hours`. */
  hours(hours: number): void {
    this.sim.tick(hours * HOUR_MS);
  }
}
