/**
 * The ground truth metering is checked against: every claim of a suite's namespace as the GpuNode ledgers show
 * it, sampled every few milliseconds, and the metered usage the GpuUsage records hold for that namespace. A list
 * shows the ledger at some moment between its request and its response, so each change is bracketed: a claim
 * first listed by sample k appeared after sample k-1 was requested and before sample k answered; the same for its
 * disappearance. An allocation's ledger interval therefore lies within [min, max] (`observedUsage`), however slow
 * the API server is.
 */
import type { GpuNode, GpuUsage } from '../../src/api/types.js';
import type { KubeClient } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { ledgerEntries } from '../../src/ledger/claims.js';
import { accountingProfile } from '../../src/tenancy/gpu-equivalents.js';

/** One allocation as the ledger showed it. */
export interface ObservedAllocation {
  /** `Kind/name/uid/slot`. */
  claim: string;
  tenant: string;
  profile: string;
  /** The claim's `allocatedAt` (ms): the instant of the cycle that placed it. */
  allocatedAt: number;
  /** It appeared in the ledger after this instant (the previous sample's request) … */
  seenAfter: number;
  /** … and before this one (the answer of the first sample showing it). */
  seenBy: number;
  /** It left the ledger after this instant (the request of the last sample showing it) …; undefined while held. */
  goneAfter?: number;
  /** … and before this one (the answer of the first sample without it). */
  goneBy?: number;
}

/** Samples the ledgers of a suite's nodes. */
export class AllocationLog {
  readonly #seen = new Map<string, ObservedAllocation>();
  /** When the previous sample was requested (the log's creation before the first). */
  #lastRequest = Date.now();
  #running = false;
  #loop: Promise<void> | undefined;
  #samples = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly nodeNames: string[],
  ) {}

  /** Starts sampling every `intervalMs`. */
  start(intervalMs = 25): this {
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        await this.sample();
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
    return this;
  }

  /** Stops sampling. */
  async stop(): Promise<number> {
    this.#running = false;
    await this.#loop;
    return this.#samples;
  }

  /** One sample. */
  async sample(): Promise<void> {
    const requested = Date.now();
    const nodes = (await this.client.list<GpuNode>(RESOURCES.gpuNode)).items.filter((n) => this.nodeNames.includes(n.metadata.name ?? ''));
    const answered = Date.now();
    const present = new Set<string>();
    for (const e of ledgerEntries(nodes)) {
      const c = e.claim;
      if (c.namespace !== this.namespace || !c.allocatedAt) continue;
      // A rank of a job with several GPUs has one entry per GPU; each is a GPU in use.
      const key = `${c.kind}/${c.name}/${c.uid}/${c.slot}@${c.allocatedAt}#${e.node}/${e.gpuIndex}/${e.start ?? 'w'}`;
      present.add(key);
      if (!this.#seen.has(key)) {
        this.#seen.set(key, {
          claim: `${c.kind}/${c.name}/${c.uid}/${c.slot}`,
          tenant: c.tenant ?? 'unassigned',
          profile: accountingProfile(e.profile),
          allocatedAt: Date.parse(c.allocatedAt),
          seenAfter: this.#lastRequest,
          seenBy: answered,
        });
      }
    }
    for (const [key, a] of this.#seen) {
      if (a.goneBy === undefined && !present.has(key)) {
        // The previous sample showed it.
        a.goneAfter = this.#lastRequest;
        a.goneBy = answered;
      }
    }
    this.#lastRequest = requested;
    this.#samples++;
  }

  /** Every allocation seen. */
  allocations(): ObservedAllocation[] {
    return [...this.#seen.values()];
  }

  /** True when every allocation seen is gone. */
  allGone(): boolean {
    return this.allocations().every((a) => a.goneBy !== undefined);
  }
}

/** Metered slice-ms of one namespace per `tenant|profile`, over every GpuUsage record, and the records' settledThrough per tenant. */
export async function meteredUsage(client: KubeClient, namespace: string): Promise<{ sliceMs: Map<string, number>; settledThrough: Map<string, number> }> {
  const sliceMs = new Map<string, number>();
  const settledThrough = new Map<string, number>();
  for (const r of (await client.list<GpuUsage>(RESOURCES.gpuUsage)).items) {
    const s = Date.parse(r.status?.settledThrough ?? r.spec.openedAt);
    settledThrough.set(r.spec.tenant, Math.max(settledThrough.get(r.spec.tenant) ?? 0, s));
    for (const row of r.status?.usage ?? []) {
      if (row.namespace !== namespace) continue;
      const k = `${r.spec.tenant}|${row.profile}`;
      sliceMs.set(k, (sliceMs.get(k) ?? 0) + row.sliceMilliseconds.reduce((a, b) => a + b, 0));
    }
  }
  return { sliceMs, settledThrough };
}

/**
 * Per `tenant|profile`: the allocations seen, and the least and most slice-ms their ledger intervals can add up to
 * (allocations still held count up to `now`).
 */
export function observedUsage(allocations: ObservedAllocation[], now = Date.now()): Map<string, { min: number; max: number; count: number }> {
  const out = new Map<string, { min: number; max: number; count: number }>();
  for (const a of allocations) {
    const k = `${a.tenant}|${a.profile}`;
    const o = out.get(k) ?? { min: 0, max: 0, count: 0 };
    o.min += (a.goneAfter ?? now) - a.seenBy;
    o.max += (a.goneBy ?? now) - a.seenAfter;
    o.count++;
    out.set(k, o);
  }
  return out;
}

/** Whether `metered` slice-ms lie within `tolerancePerAllocation` ms of what the ledger can have shown. */
export function withinLedger(metered: number, o: { min: number; max: number; count: number }, tolerancePerAllocation = 1_000): boolean {
  return metered >= o.min - tolerancePerAllocation * o.count && metered <= o.max + tolerancePerAllocation * o.count;
}

/** One line per `tenant|profile`: metered seconds against the ledger's bracket. */
export function usageReport(sliceMs: Map<string, number>, observed: Map<string, { min: number; max: number; count: number }>): string[] {
  return [...observed].map(([k, o]) => `${k}: ${o.count} allocation(s), metered ${((sliceMs.get(k) ?? 0) / 1000).toFixed(3)} s, ledger ${(o.min / 1000).toFixed(3)}–${(o.max / 1000).toFixed(3)} s`);
}
