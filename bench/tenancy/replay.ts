/**
 * Replays an arrival stream through the operator's admission code on a simulated clock: the admission queue
 * (`AdmissionQueue`: parking until capacity changes), the cycle planner (`planCycle`: quota, fair order,
 * placement, reclaim, same-tenant preemption) with a `QuotaBook` built per cycle from the tenants and the ledger
 * as the operator builds it, the cycle's released claims (`releasedClaims`) settled by metering before they are
 * written, and a node agent (`cluster-sim.ts`) realising what the cycle wrote.
 *
 * Clock: a cycle every `cycleSeconds` (plus a sub-second jitter, as a real cycle starts whenever the previous one
 * ends); arrivals, completions, give-ups, pods starting and evictions ending take effect at the next cycle. A
 * request is Ready when its pods run: `readySeconds` after it was placed, or after the evictions it waits for end
 * (`graceSeconds` after a busy slice was taken). A job runs its service time once Ready; losing a slice pauses
 * it (its work so far is kept) and it asks again.
 *
 * Ground truth is the replay's own: an allocation (one ledger entry: a slice or a whole GPU) lives from the cycle
 * that wrote it to the cycle that removed it, by the simulated clock, whatever the claims say.
 */
import { performance } from 'node:perf_hooks';
import type { GpuNode, GpuPartition, GpuTenant, TrainingJob } from '../../src/api/types.js';
import { ledgerEntries, type LedgerEntry } from '../../src/ledger/claims.js';
import { AdmissionQueue } from '../../src/scheduler/admission-queue.js';
import { releasedClaims } from '../../src/scheduler/admission-cycle.js';
import { planCycle, type PlannedVictim } from '../../src/scheduler/cycle-planner.js';
import { demandKey, jobDemand, partitionDemand, type Demand, type HoldWant } from '../../src/scheduler/demand.js';
import { accountingProfile, entryGpuEquivalents } from '../../src/tenancy/gpu-equivalents.js';
import type { PlacementRequest } from '../../src/placement/types.js';
import { QuotaBook, type QuotaCost } from '../../src/tenancy/quota-book.js';
import { requestCost } from '../../src/tenancy/request-cost.js';
import { TenantDirectory } from '../../src/tenancy/tenant-resolution.js';
import { rng } from '../seeded-random.js';
import { ClusterSim } from './cluster-sim.js';
import { ShareTracker, type ShareFigures, type ShareInput } from './fair-share.js';
import { allocationId, MeteringBook, meteredTenant } from './metering.js';
import { NominalWatch, OwedCapacity } from './nominal-watch.js';
import { Timeline } from './timeline.js';
import type { Arrival } from './workload.js';

/** The operator's default batch: at most this many demands are decided per cycle. */
export const MAX_BATCH = 1000;

/** What one replay needs. */
export interface ReplayConfig {
  nodes: number;
  gpusPerNode: number;
  tenants: GpuTenant[];
  arrivals: Arrival[];
  /** Instant the run starts (ms since epoch). */
  startMs: number;
  /** Simulated seconds the run lasts (allocations still held then end there). */
  seconds: number;
  cycleSeconds: number;
  settleSeconds: number;
  graceSeconds: number;
  readySeconds: number;
  /** Seed of the cycles' sub-second jitter. */
  seed: number;
}

/** What one replay measured. */
export interface ReplayResult {
  /** Admission cycles planned (ticks with something to decide). */
  cycles: number;
  ticks: number;
  /** GPU-equivalent-seconds allocated / (cluster GPUs × run seconds). */
  utilisation: number;
  /** Allocations (ledger entries: a slice or a whole GPU) that began and ended (or were held at the end). */
  allocations: number;
  /** Requests placed (a placement may take several allocations). */
  placements: number;
  /** Placements that took borrowed capacity back for a tenant within its nominal quota, and their victims. */
  reclaims: number;
  reclaimVictims: number;
  /** Lender's request (arrival, or re-request after losing a slice) → Ready of its reclaiming placement, seconds. */
  reclaimLatencies: number[];
  /** The same, from when the capacity it was owed existed (the operator's reaction: placing, eviction, Ready). */
  reclaimOwedLatencies: number[];
  /** Summed over the reclaiming placements: how their request → placement waits divide by {@link WaitReason}, seconds. */
  reclaimWaitSeconds: Record<WaitReason, number>;
  /** Placements that preempted lower-priority claims of their own tenant, and their victims. */
  priorityPreemptions: number;
  priorityVictims: number;
  /** Victims whose pods had to be evicted first. */
  busyVictims: number;
  completed: number;
  /** Requests whose owners gave up waiting. */
  abandoned: number;
  nominalViolations: number;
  violationExamples: string[];
  metering: {
    /** Largest |metered − truth| of one allocation, seconds. */
    maxErrorSeconds: number;
    /** Σ |metered − truth| over allocations, seconds. */
    totalErrorSeconds: number;
    /** Σ over tenant rows |tenant record − Σ of its allocations' records|, milliseconds (0: consistent). */
    tenantMismatchMs: number;
    /** Σ over tenants |tenant record − truth|, seconds. */
    tenantErrorSeconds: number;
    settlements: number;
    /** Claims whose allocatedAt was not the instant of the cycle that wrote them. */
    badAllocatedAt: number;
  };
  shares: ShareFigures[];
  maxShareDeviation: number;
  /** GPU-equivalent-hours allocated per tenant. */
  gpuEqHoursByTenant: Record<string, number>;
  /** Waiting verdicts by code (every cycle's). */
  waitingByCode: Record<string, number>;
  replansWithoutChange: number;
  /** Wall-clock seconds spent in planCycle. */
  plannerSeconds: number;
}

/**
 * Why a waiting request waited at a cycle's start: `notWithinNominal` — its tenant's quota did not admit it within
 * the nominal quota (or it still held part of its gang); `fitsNowhere` — within nominal, but it fitted nowhere even
 * with its cohort peers' borrowed claims taken back (its shape); `owed` — the capacity it was owed existed.
 */
export type WaitReason = 'notWithinNominal' | 'fitsNowhere' | 'owed';

const NO_WAIT = (): Record<WaitReason, number> => ({ notWithinNominal: 0, fitsNowhere: 0, owed: 0 });

interface Item {
  arrival: Arrival;
  key: string;
  obj: GpuPartition | TrainingJob;
  /** Entries a full holding has (slices, or whole GPUs of all workers). */
  entries: number;
  state: 'waiting' | 'running' | 'releasing' | 'gone';
  /** Allocation ids held → where, slot, GPU-equivalents and Ready instant. */
  held: Map<string, { node: string; gpuIndex: number; slot: number; eq: number; readyAt: number }>;
  /** GPU-equivalents held. */
  heldEq: number;
  /** When its current unmet request was made (ms). */
  requestedAt: number;
  /**
   * Since when capacity it is owed has existed while it waits (ms): the cycle after which it asked within its
   * tenant's nominal quota and fitted on free plus reclaimable capacity (`nominal-watch.ts`).
   */
  owedSince: number | undefined;
  /** Milliseconds its current request has waited, by reason, up to the last cycle's start. */
  waitMs: Record<WaitReason, number>;
  /** Why it waits since `from` (the last cycle's verdict); undefined until its request was first judged. */
  wait: { reason: WaitReason; from: number } | undefined;
  everPlaced: boolean;
  remainingMs: number;
  runStart: number | undefined;
  /** Bumped whenever a scheduled completion stops being valid. */
  epoch: number;
}

interface Allocation {
  id: string;
  itemKey: string;
  tenant: string;
  namespace: string;
  profile: string;
  eq: number;
  start: number;
}

type ItemEvent = { kind: 'arrive'; arrival: Arrival } | { kind: 'complete'; key: string; epoch: number } | { kind: 'giveUp'; key: string };

const PRODUCTS = ['NVIDIA-B200'];

/** Ledger entries grouped by the tenant metering charges them to. */
function entriesByTenant(entries: LedgerEntry[]): Map<string, LedgerEntry[]> {
  const out = new Map<string, LedgerEntry[]>();
  for (const e of entries) {
    const t = meteredTenant(e);
    let list = out.get(t);
    if (!list) out.set(t, (list = []));
    list.push(e);
  }
  return out;
}

/** Runs one replay. */
export function replay(cfg: ReplayConfig): ReplayResult {
  return new Replay(cfg).run();
}

class Replay {
  readonly #cfg: ReplayConfig;
  readonly #cluster: ClusterSim;
  readonly #queue = new AdmissionQueue();
  readonly #dir: TenantDirectory;
  readonly #tenants: Map<string, GpuTenant>;
  readonly #items = new Map<string, Item>();
  readonly #waiting = new Set<Item>();
  readonly #events = new Timeline<ItemEvent>();
  readonly #live = new Map<string, Allocation>();
  readonly #liveByTenant = new Map<string, Set<string>>();
  readonly #heldEq = new Map<string, number>();
  readonly #readyAt = new Map<string, number>();
  readonly #metering = new MeteringBook();
  readonly #watch = new NominalWatch();
  readonly #shares: ShareTracker;
  #seq = 0;
  #now = 0;
  #prevTick = 0;
  readonly #r: ReturnType<typeof rng>;
  readonly #out = {
    cycles: 0,
    ticks: 0,
    placements: 0,
    reclaims: 0,
    reclaimVictims: 0,
    reclaimLatencies: [] as number[],
    reclaimOwedLatencies: [] as number[],
    reclaimWaitMs: NO_WAIT(),
    priorityPreemptions: 0,
    priorityVictims: 0,
    busyVictims: 0,
    completed: 0,
    abandoned: 0,
    allocations: 0,
    gpuEqMs: 0,
    gpuEqMsByTenant: new Map<string, number>(),
    truthMsByTenantRow: new Map<string, number>(),
    meteredMsByTenantRow: new Map<string, number>(),
    maxErrorMs: 0,
    totalErrorMs: 0,
    badAllocatedAt: 0,
    waitingByCode: new Map<string, number>(),
    plannerMs: 0,
  };

  constructor(cfg: ReplayConfig) {
    this.#cfg = cfg;
    this.#cluster = new ClusterSim(cfg.nodes, cfg.gpusPerNode, (e, now) => (this.#readyAt.get(allocationId(e)) ?? Infinity) <= now);
    this.#dir = new TenantDirectory(cfg.tenants, cfg.tenants.flatMap((t) => (t.spec.namespaces ?? []).map((name) => ({ name }))));
    this.#tenants = new Map(cfg.tenants.map((t) => [t.metadata.name as string, t]));
    this.#shares = new ShareTracker(cfg.nodes * cfg.gpusPerNode);
    this.#r = rng(cfg.seed * 2_654_435_761 + 17);
    for (const a of cfg.arrivals) this.#events.push(cfg.startMs + Math.round(a.at * 1000), { kind: 'arrive', arrival: a });
  }

  run(): ReplayResult {
    const { startMs, cycleSeconds, settleSeconds } = this.#cfg;
    const endMs = startMs + this.#cfg.seconds * 1000;
    let nextSettle = startMs + settleSeconds * 1000;
    for (let k = 0; ; k++) {
      // A real cycle starts whenever the previous one ended: not on a whole second.
      const now = startMs + k * cycleSeconds * 1000 + Math.floor(this.#r() * 1000);
      if (now >= endMs) break;
      for (; nextSettle <= now; nextSettle += settleSeconds * 1000) this.#settleAll(nextSettle);
      this.#now = now;
      this.#tick(now);
    }
    for (; nextSettle < endMs; nextSettle += settleSeconds * 1000) this.#settleAll(nextSettle);
    this.#settleAll(endMs);
    for (const a of [...this.#live.values()]) this.#close(a, endMs);
    return this.#result();
  }

  #tick(now: number): void {
    this.#out.ticks++;
    for (const ev of this.#events.due(now)) this.#onEvent(ev);
    if (this.#cluster.advance(now)) this.#seq++;
    const ledger = this.#cluster.list();
    let entries: LedgerEntry[] | undefined;
    const entriesBefore = () => (entries ??= ledgerEntries(ledger));
    for (const item of this.#waiting) {
      if (!item.wait) continue;
      item.waitMs[item.wait.reason] += now - item.wait.from;
      item.wait.from = now;
    }
    const candidates = this.#nominalCandidates();
    this.#queue.wake(this.#seq);
    if (this.#queue.readyCount() > 0) this.#cycle(now, ledger, entriesBefore());
    const fitsNowhere = new Set<string>();
    const owed = this.#owed(candidates, ledger, entriesBefore, fitsNowhere);
    this.#watch.cycle(owed, (key) => this.#describe(key, now));
    const owedKeys = new Set(owed);
    for (const item of this.#waiting) {
      const reason = owedKeys.has(item.key) ? 'owed' : fitsNowhere.has(item.key) ? 'fitsNowhere' : 'notWithinNominal';
      item.wait = { reason, from: item.wait?.from ?? item.requestedAt };
    }
    this.#sampleShares();
    this.#prevTick = now;
  }

  #setState(item: Item, state: Item['state']): void {
    item.state = state;
    if (state === 'waiting') this.#waiting.add(item);
    else this.#waiting.delete(item);
    if (state === 'gone') this.#items.delete(item.key);
  }

  #onEvent(ev: ItemEvent): void {
    if (ev.kind === 'arrive') return this.#arrive(ev.arrival);
    const item = this.#items.get(ev.key);
    if (!item) return;
    if (ev.kind === 'complete') {
      if (item.state !== 'running' || item.epoch !== ev.epoch) return;
      this.#out.completed++;
      this.#release(item);
      return;
    }
    // The owner gives up on a request that never ran.
    if (item.state !== 'waiting' || item.everPlaced) return;
    this.#out.abandoned++;
    if (item.held.size > 0) this.#release(item);
    else {
      this.#queue.remove(item.key);
      this.#setState(item, 'gone');
    }
  }

  #arrive(a: Arrival): void {
    const at = this.#cfg.startMs + Math.round(a.at * 1000);
    const meta = { name: a.id, namespace: a.namespace, uid: `uid-${a.id}`, generation: 1, creationTimestamp: new Date(at).toISOString() };
    const obj: GpuPartition | TrainingJob =
      a.kind === 'GpuPartition'
        ? {
            apiVersion: 'gpu.haein.dev/v1alpha1',
            kind: 'GpuPartition',
            metadata: meta,
            spec: { profile: a.profile as string, count: a.count as number, priority: a.priority, preemptible: a.preemptible, ...(a.mayPreempt ? { preemptionPolicy: 'PreemptLowerPriority' as const } : {}) },
          }
        : {
            apiVersion: 'gpu.haein.dev/v1alpha1',
            kind: 'TrainingJob',
            metadata: meta,
            spec: { replicas: a.replicas as number, gpusPerWorker: a.gpusPerWorker as number, priority: a.priority, template: { spec: { containers: [] } } },
          };
    const entries = a.kind === 'GpuPartition' ? (a.count as number) : (a.replicas as number) * (a.gpusPerWorker as number);
    const item: Item = { arrival: a, key: demandKey(a.kind, a.namespace, a.id), obj, entries, state: 'waiting', held: new Map(), heldEq: 0, requestedAt: at, owedSince: undefined, waitMs: NO_WAIT(), wait: undefined, everPlaced: false, remainingMs: a.serviceSeconds * 1000, runStart: undefined, epoch: 0 };
    this.#items.set(item.key, item);
    this.#setState(item, 'waiting');
    this.#queue.submit(this.#hold(item));
    this.#events.push(at + a.patienceSeconds * 1000, { kind: 'giveUp', key: item.key });
  }

  /** The item's demand to hold everything it asks for (as its reconciler submits it). */
  #hold(item: Item): Demand {
    if (item.obj.kind === 'TrainingJob') return jobDemand(item.obj, { release: false });
    const inUse = [...item.held.values()].some((h) => h.readyAt <= this.#now);
    return partitionDemand(item.obj, { release: false, inUse });
  }

  /** The object is deleted: its demand becomes a release. */
  #release(item: Item): void {
    this.#setState(item, 'releasing');
    item.epoch++;
    this.#queue.submit(item.obj.kind === 'TrainingJob' ? jobDemand(item.obj, { release: true }) : partitionDemand(item.obj, { release: true, inUse: false }));
  }

  /**
   * Waiting requests (at the start of a cycle) that ask within their tenant's nominal quota by the replay's own
   * count of what each tenant holds: the only ones that can be owed capacity.
   */
  #nominalCandidates(): Array<{ item: Item; request: PlacementRequest; cost: QuotaCost }> {
    const out = [];
    for (const item of this.#waiting) {
      const t = this.#tenants.get(item.arrival.tenant);
      if (!t) continue;
      // What it still asks for cannot be within the nominal quota: no need to build its request.
      const used = this.#heldEq.get(t.metadata.name as string) ?? 0;
      if (used + item.arrival.gpuEq - item.heldEq > t.spec.nominal + 1e-9 && item.heldEq === 0) {
        item.owedSince = undefined;
        continue;
      }
      const want = this.#hold(item).want as HoldWant;
      const slots = new Set([...item.held.values()].map((h) => h.slot));
      // A gang holding part of itself gives it back before asking again: judged once it holds nothing.
      if (item.obj.kind === 'TrainingJob' && slots.size > 0) continue;
      const missing = [...Array(want.slots).keys()].filter((s) => !slots.has(s));
      if (missing.length === 0) continue;
      const request = want.request(missing);
      const cost = requestCost(request, PRODUCTS);
      if ((this.#heldEq.get(t.metadata.name as string) ?? 0) + cost.gpuEq <= t.spec.nominal + 1e-9) out.push({ item, request, cost });
      else item.owedSince = undefined;
    }
    return out;
  }

  /**
   * Of the candidates, those still waiting after the cycle that were owed capacity at its start (`ledger`); those
   * within their nominal quota that fitted nowhere go to `fitsNowhere`.
   */
  #owed(candidates: Array<{ item: Item; request: PlacementRequest; cost: QuotaCost }>, ledger: GpuNode[], entries: () => LedgerEntry[], fitsNowhere: Set<string>): string[] {
    // Still waiting, and its tenant did not use the quota for its own other requests in this cycle.
    const still = candidates.filter((c) => c.item.state === 'waiting' && (this.#heldEq.get(c.item.arrival.tenant) ?? 0) + c.cost.gpuEq <= (this.#tenants.get(c.item.arrival.tenant)?.spec.nominal ?? 0) + 1e-9);
    if (still.length === 0) return [];
    const quota = new QuotaBook(this.#dir, entries(), 'allow');
    const owed = new OwedCapacity(ledger, (n) => this.#cluster.nodeOf(n), quota);
    const out: string[] = [];
    for (const { item, request, cost } of still) {
      const tenant = item.arrival.tenant;
      const withinNominal = quota.admit(item.arrival.namespace, cost).ok && quota.withinNominal(tenant, cost);
      if (withinNominal && owed.fits(tenant, request)) {
        out.push(item.key);
        item.owedSince ??= this.#owedFrom(item);
      } else {
        item.owedSince = undefined;
        if (withinNominal) fitsNowhere.add(item.key);
      }
    }
    return out;
  }

  #cycle(now: number, ledger: GpuNode[], entries: LedgerEntry[]): void {
    this.#out.cycles++;
    const batch = this.#queue.take(MAX_BATCH);
    const quota = new QuotaBook(this.#dir, entries, 'allow');
    const t0 = performance.now();
    const plan = planCycle(
      ledger,
      batch,
      {
        nodeOf: (n) => this.#cluster.nodeOf(n),
        quota,
        // As the operator: job workers always run on their GPUs; a partition's slices are used once a pod runs.
        podsUse: (c) => c.kind === 'TrainingJob' || [...(this.#items.get(demandKey(c.kind, c.namespace, c.name))?.held.values() ?? [])].some((h) => h.readyAt <= now),
      },
      { seq: this.#seq, now: new Date(now), outOfTime: () => false },
    );
    this.#out.plannerMs += performance.now() - t0;
    this.#seq = Math.max(this.#seq, plan.seq);
    for (const r of plan.results) if (r.outcome.kind !== 'deferred') this.#queue.noteDecided(r.demand.key, r.seq);

    // beforeRelease: the tenants of every claim this cycle removes are settled through its instant first.
    const released = new Set(releasedClaims(plan.draft).map(meteredTenant));
    if (released.size > 0) {
      const byTenant = entriesByTenant(entries);
      for (const tenant of released) this.#settleTenant(tenant, byTenant.get(tenant) ?? [], now);
    }

    // Busy victims stay in use until their pods are evicted; the node agent must know before it realises.
    for (const r of plan.results) {
      if (r.outcome.kind !== 'placed') continue;
      for (const v of r.outcome.victims) if (v.busy) this.#evict(v, now);
    }
    const changed = plan.draft.changed();
    const before = ledgerEntries(changed.map((n) => plan.draft.original(n.metadata.name as string)).filter((n) => n !== undefined));
    // The agent realising the release of a busy claim frees capacity after the cycle decided: parked demands wake.
    if (this.#cluster.write(changed, now)) this.#seq++;
    const after = ledgerEntries(changed.map((n) => this.#cluster.node(n.metadata.name as string) as GpuNode));
    const afterIds = new Map(after.map((e) => [allocationId(e), e]));
    const beforeIds = new Set(before.map((e) => allocationId(e)));
    for (const e of before) {
      const a = this.#live.get(allocationId(e));
      if (a && !afterIds.has(a.id)) this.#close(a, now);
    }
    for (const [id, e] of afterIds) if (!beforeIds.has(id)) this.#open(id, e, now);

    const resubmit: Item[] = [];
    for (const r of plan.results) {
      const o = r.outcome;

      const item = this.#items.get(r.demand.key);
      switch (o.kind) {
        case 'placed': {
          this.#queue.settle(r.demand);
          this.#out.placements++;
          if (o.victims.length > 0) {
            if (o.reclaimed) {
              this.#out.reclaims++;
              this.#out.reclaimVictims += o.victims.length;
            } else {
              this.#out.priorityPreemptions++;
              this.#out.priorityVictims += o.victims.length;
            }
            for (const v of o.victims) {
              const victim = this.#items.get(demandKey(v.claim.kind, v.claim.namespace, v.claim.name));
              if (victim && (victim.state === 'running' || victim.state === 'waiting')) resubmit.push(victim);
            }
          }
          if (item) {
            const readyAt = this.#placed(item, now);
            if (o.reclaimed) {
              this.#out.reclaimLatencies.push((readyAt - item.requestedAt) / 1000);
              this.#out.reclaimOwedLatencies.push((readyAt - (item.owedSince ?? this.#owedFrom(item))) / 1000);
              for (const [reason, ms] of Object.entries(item.waitMs) as Array<[WaitReason, number]>) this.#out.reclaimWaitMs[reason] += ms;
            }
          }
          break;
        }
        case 'waiting':
          this.#queue.park(r.demand, r.seq, o.permanent);
          this.#out.waitingByCode.set(o.code, (this.#out.waitingByCode.get(o.code) ?? 0) + 1);
          break;
        case 'released':
          this.#queue.settle(r.demand);
          if (item && item.state === 'releasing') this.#setState(item, 'gone');
          break;
        case 'satisfied':
          this.#queue.settle(r.demand);
          break;
        case 'deferred':
          break;
      }
    }
    for (const victim of new Set(resubmit)) this.#lostSlice(victim, now);
  }

  /**
   * When a request first found owed capacity at a cycle's start: its request, or — asked earlier — the previous
   * cycle, the last moment quotas and the ledger changed (to within one cycle: evictions end in between).
   */
  #owedFrom(item: Item): number {
    return Math.max(item.requestedAt, this.#prevTick);
  }

  /** A busy victim's slice (or whole GPU) stays in use for the grace period. */
  #evict(v: PlannedVictim, now: number): void {
    this.#out.busyVictims++;
    this.#cluster.evict(v.node, { gpuIndex: v.gpuIndex, ...(v.profile !== undefined ? { profile: v.profile, start: v.start as number } : {}), until: now + this.#cfg.graceSeconds * 1000 });
  }

  /** The item now holds everything: its new allocations get their Ready instant; it runs once all are Ready. */
  #placed(item: Item, now: number): number {
    let readyAt = now;
    for (const [id, h] of item.held) {
      if (h.readyAt === Infinity) {
        h.readyAt = Math.max(now, this.#cluster.evictedUntil(h.node, h.gpuIndex, now)) + this.#cfg.readySeconds * 1000;
        this.#readyAt.set(id, h.readyAt);
        this.#cluster.wakeAt(h.node, h.readyAt);
      }
      readyAt = Math.max(readyAt, h.readyAt);
    }
    if (item.held.size === item.entries && item.state === 'waiting') {
      this.#setState(item, 'running');
      item.everPlaced = true;
      item.runStart = readyAt;
      this.#events.push(readyAt + item.remainingMs, { kind: 'complete', key: item.key, epoch: item.epoch });
    }
    return readyAt;
  }

  /** A running or waiting item lost allocations to a preemption: its work pauses and it asks again. */
  #lostSlice(item: Item, now: number): void {
    if (item.state === 'running') {
      item.remainingMs = Math.max(0, item.remainingMs - Math.max(0, now - (item.runStart ?? now)));
      item.epoch++;
      this.#setState(item, 'waiting');
      item.runStart = undefined;
      item.requestedAt = now;
      item.waitMs = NO_WAIT();
      item.wait = undefined;
      item.owedSince = undefined;
    }
    this.#queue.submit(this.#hold(item));
  }

  #open(id: string, e: LedgerEntry, now: number): void {
    const item = this.#items.get(demandKey(e.claim.kind, e.claim.namespace, e.claim.name));
    if (e.claim.allocatedAt !== new Date(now).toISOString()) this.#out.badAllocatedAt++;
    const a: Allocation = { id, itemKey: item?.key ?? '', tenant: meteredTenant(e), namespace: e.claim.namespace, profile: accountingProfile(e.profile), eq: entryGpuEquivalents(e), start: now };
    this.#live.set(id, a);
    let set = this.#liveByTenant.get(a.tenant);
    if (!set) this.#liveByTenant.set(a.tenant, (set = new Set()));
    set.add(id);
    this.#heldEq.set(a.tenant, (this.#heldEq.get(a.tenant) ?? 0) + a.eq);
    if (item) {
      item.held.set(id, { node: e.node, gpuIndex: e.gpuIndex, slot: e.claim.slot, eq: a.eq, readyAt: Infinity });
      item.heldEq += a.eq;
    }
  }

  #close(a: Allocation, end: number): void {
    this.#live.delete(a.id);
    this.#liveByTenant.get(a.tenant)?.delete(a.id);
    this.#heldEq.set(a.tenant, (this.#heldEq.get(a.tenant) ?? 0) - a.eq);
    this.#readyAt.delete(a.id);
    const item = this.#items.get(a.itemKey);
    if (item?.held.delete(a.id)) item.heldEq -= a.eq;
    const truth = end - a.start;
    const metered = this.#metering.close(a.id);
    const err = Math.abs(metered - truth);
    const o = this.#out;
    o.allocations++;
    o.maxErrorMs = Math.max(o.maxErrorMs, err);
    o.totalErrorMs += err;
    o.gpuEqMs += a.eq * truth;
    o.gpuEqMsByTenant.set(a.tenant, (o.gpuEqMsByTenant.get(a.tenant) ?? 0) + a.eq * truth);
    const row = `${a.tenant}\u0000${a.namespace}\u0000${a.profile}`;
    o.truthMsByTenantRow.set(row, (o.truthMsByTenantRow.get(row) ?? 0) + truth);
    o.meteredMsByTenantRow.set(row, (o.meteredMsByTenantRow.get(row) ?? 0) + metered);
  }

  /** Settles `tenant` through `through` from its ledger entries (as the operator's settler). */
  #settleTenant(tenant: string, entries: LedgerEntry[], through: number): void {
    this.#metering.settleTenant(tenant, entries, through, this.#liveByTenant.get(tenant) ?? []);
  }

  /** Periodic settlement: every tenant holding claims (or metered before) through `through`. */
  #settleAll(through: number): void {
    const byTenant = entriesByTenant(ledgerEntries(this.#cluster.list()));
    const tenants = new Set([...byTenant.keys(), ...this.#metering.tenants()]);
    for (const t of [...tenants].sort()) this.#settleTenant(t, byTenant.get(t) ?? [], through);
  }

  /** One fair-share sample for the cycle just decided. */
  #sampleShares(): void {
    const wanted = new Map<string, number>();
    for (const item of this.#waiting) wanted.set(item.arrival.tenant, (wanted.get(item.arrival.tenant) ?? 0) + Math.max(0, item.arrival.gpuEq - item.heldEq));
    const inputs: ShareInput[] = [...this.#tenants.values()].map((t) => {
      const name = t.metadata.name as string;
      return {
        name,
        demand: (this.#heldEq.get(name) ?? 0) + (wanted.get(name) ?? 0),
        nominal: t.spec.nominal,
        weight: t.spec.weight ?? 1,
        ...(t.spec.cohort ? { cohort: t.spec.cohort } : {}),
        ...(t.spec.borrowingLimit !== undefined ? { borrowingLimit: t.spec.borrowingLimit } : {}),
        ...(t.spec.lendingLimit !== undefined ? { lendingLimit: t.spec.lendingLimit } : {}),
      };
    });
    this.#shares.sample(this.#cfg.cycleSeconds, inputs, this.#heldEq);
  }

  #describe(key: string, now: number): string {
    const item = this.#items.get(key);
    const a = item?.arrival;
    const t = a ? this.#tenants.get(a.tenant) : undefined;
    const shape = a ? (a.kind === 'GpuPartition' ? `${a.count} × ${a.profile}` : `${a.replicas} × ${a.gpusPerWorker} GPU(s)`) : '?';
    return `t+${((now - this.#cfg.startMs) / 1000).toFixed(0)}s ${key} (${shape}, priority ${a?.priority}) of ${a?.tenant}: holds ${(this.#heldEq.get(a?.tenant ?? '') ?? 0).toFixed(2)} of nominal ${t?.spec.nominal}, waiting since t+${(((item?.requestedAt ?? now) - this.#cfg.startMs) / 1000).toFixed(0)}s`;
  }

  #result(): ReplayResult {
    const o = this.#out;
    const gpus = this.#cfg.nodes * this.#cfg.gpusPerNode;
    let tenantMismatchMs = 0;
    let tenantErrorMs = 0;
    const rowsOf = (tenant: string) => [...o.truthMsByTenantRow.keys()].filter((k) => k.startsWith(`${tenant}\u0000`));
    for (const tenant of new Set([...this.#metering.tenants(), ...[...o.truthMsByTenantRow.keys()].map((k) => k.split('\u0000')[0] as string)])) {
      const records = this.#metering.tenantTotals(tenant);
      let recorded = 0;
      let truth = 0;
      for (const row of rowsOf(tenant)) {
        const sub = row.slice(tenant.length + 1);
        recorded += records.get(sub) ?? 0;
        truth += o.truthMsByTenantRow.get(row) ?? 0;
        tenantMismatchMs += Math.abs((records.get(sub) ?? 0) - (o.meteredMsByTenantRow.get(row) ?? 0));
      }
      // Rows the records hold that no allocation had.
      for (const [sub, ms] of records) if (!o.truthMsByTenantRow.has(`${tenant}\u0000${sub}`)) tenantMismatchMs += ms;
      tenantErrorMs += Math.abs(recorded - truth);
    }
    return {
      cycles: o.cycles,
      ticks: o.ticks,
      utilisation: o.gpuEqMs / (gpus * this.#cfg.seconds * 1000),
      allocations: o.allocations,
      placements: o.placements,
      reclaims: o.reclaims,
      reclaimVictims: o.reclaimVictims,
      reclaimLatencies: o.reclaimLatencies,
      reclaimOwedLatencies: o.reclaimOwedLatencies,
      reclaimWaitSeconds: Object.fromEntries(Object.entries(o.reclaimWaitMs).map(([k, ms]) => [k, ms / 1000])) as Record<WaitReason, number>,
      priorityPreemptions: o.priorityPreemptions,
      priorityVictims: o.priorityVictims,
      busyVictims: o.busyVictims,
      completed: o.completed,
      abandoned: o.abandoned,
      nominalViolations: this.#watch.violations,
      violationExamples: this.#watch.examples,
      metering: {
        maxErrorSeconds: o.maxErrorMs / 1000,
        totalErrorSeconds: o.totalErrorMs / 1000,
        tenantMismatchMs,
        tenantErrorSeconds: tenantErrorMs / 1000,
        settlements: this.#metering.settlements,
        badAllocatedAt: o.badAllocatedAt,
      },
      shares: this.#shares.figures(),
      maxShareDeviation: this.#shares.maxDeviation(),
      gpuEqHoursByTenant: Object.fromEntries([...o.gpuEqMsByTenant].sort(([a], [b]) => a.localeCompare(b)).map(([t, ms]) => [t, ms / 3_600_000])),
      waitingByCode: Object.fromEntries([...o.waitingByCode].sort(([a], [b]) => a.localeCompare(b))),
      replansWithoutChange: this.#queue.replansWithoutChange(),
      plannerSeconds: o.plannerMs / 1000,
    };
  }
}
