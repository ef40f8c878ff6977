/**
 * The ground truth metering is checked against: every claim of a suite's namespace as the GpuNode ledgers show
 * it, sampled every few milliseconds — the first sample that showed it and the first in which it was gone — and
 * the metered usage the GpuUsage records hold for that namespace. Metering counts from the instant of the cycle
 * that placed a claim to the instant of the cycle that released it, each a write's latency before the ledger
 * shows it: the ledger's interval is measured the same way at both ends, so those latencies cancel.
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
  /** First sample that showed it (ms). */
  seenAt: number;
  /** First sample without it (ms); undefined while held. */
  goneAt?: number;
}

/** Samples the ledgers of a suite's nodes. */
export class AllocationLog {
  readonly #seen = new Map<string, ObservedAllocation>();
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
    const nodes = (await this.client.list<GpuNode>(RESOURCES.gpuNode)).items.filter((n) => this.nodeNames.includes(n.metadata.name ?? ''));
    const at = Date.now();
    const present = new Set<string>();
    for (const e of ledgerEntries(nodes)) {
      const c = e.claim;
      if (c.namespace !== this.namespace || !c.allocatedAt) continue;
      // A rank of a job with several GPUs has one entry per GPU; each is a GPU in use.
      const key = `${c.kind}/${c.name}/${c.uid}/${c.slot}@${c.allocatedAt}#${e.node}/${e.gpuIndex}/${e.start ?? 'w'}`;
      present.add(key);
      if (!this.#seen.has(key)) this.#seen.set(key, { claim: `${c.kind}/${c.name}/${c.uid}/${c.slot}`, tenant: c.tenant ?? 'unassigned', profile: accountingProfile(e.profile), allocatedAt: Date.parse(c.allocatedAt), seenAt: at });
    }
    for (const [key, a] of this.#seen) if (a.goneAt === undefined && !present.has(key)) a.goneAt = at;
    this.#samples++;
  }

  /** Every allocation seen. */
  allocations(): ObservedAllocation[] {
    return [...this.#seen.values()];
  }

  /** True when every allocation seen is gone. */
  allGone(): boolean {
    return this.allocations().every((a) => a.goneAt !== undefined);
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

/** Slice-ms the ledger showed and allocation count per `tenant|profile` (allocations still held count up to `now`). */
export function observedUsage(allocations: ObservedAllocation[], now = Date.now()): Map<string, { ms: number; count: number }> {
  const out = new Map<string, { ms: number; count: number }>();
  for (const a of allocations) {
    const k = `${a.tenant}|${a.profile}`;
    const o = out.get(k) ?? { ms: 0, count: 0 };
    o.ms += (a.goneAt ?? now) - a.seenAt;
    o.count++;
    out.set(k, o);
  }
  return out;
}
