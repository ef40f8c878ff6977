/**
 * The decision half of one admission cycle: given the ledger as this process knows it and the demands in queue
 * order, decide every demand one after another against one in-memory working ledger — releases first, then
 * placements (with preemption and defragmentation) — and return the edited ledger and each demand's outcome.
 * No Kubernetes calls: the cycle runner writes the result.
 *
 * Cost: one engine state is built per cycle and placements are applied to it incrementally; requests of the
 * same shape that failed are not tried again until capacity changed within the cycle (a flood of identical
 * requests that do not fit costs one engine call).
 */
import { QUOTA_REASONS } from '../api/conditions.js';
import type { ClaimRef, GpuNode } from '../api/types.js';
import { claimKey, claimNames, ledgerEntries, type LedgerEntry } from '../ledger/claims.js';
import { LedgerDraft } from '../ledger/ledger-draft.js';
import { buildSnapshot, type NodeObject } from '../ledger/snapshot.js';
import { placeOn } from '../placement/engine.js';
import { PlacementState } from '../placement/state.js';
import type { Assignment, ClusterSnapshot, PlacementRequest, PlacementResult } from '../placement/types.js';
import { accountingProfile, gpuEquivalentsOf } from '../tenancy/gpu-equivalents.js';
import { addCosts, type QuotaBook, type QuotaCost } from '../tenancy/quota-book.js';
import { requestCost } from '../tenancy/request-cost.js';
import type { Demand, HoldWant } from './demand.js';
import { DEFRAGGABLE_CODES, type AppliedDefrag, type DefragOutcome } from './defrag/defragmenter.js';

/** Failure codes that no capacity change can fix: only a new spec can. */
export const PERMANENT_CODES: ReadonlySet<string> = new Set(['InvalidRequest', 'UnknownProfile']);

/** What the planner needs besides the ledger. */
export interface PlannerDeps {
  /** The core Node of a GpuNode (labels, cordon, readiness). */
  nodeOf(name: string): NodeObject | undefined;
  /** Defragmentation for requests that do not fit; absent: none. */
  defrag?: {
    prepare(draft: LedgerDraft, request: PlacementRequest, nodeOf: (name: string) => NodeObject | undefined): DefragOutcome;
    abandoned(applied: AppliedDefrag): void;
  };
  /** True when pods use the claimant's slices (its preempted slices must be evicted first). */
  podsUse?(claim: ClaimRef): boolean;
  /** Records the time of one engine call. */
  observePlacement?(seconds: number, kind: Demand['who']['kind']): void;
  /**
   * Tenant quotas of this cycle (absent or inactive: none). With quotas, a request is admitted only within its
   * tenant's quota, equal priorities are served lowest weighted share first, priority preemption stays within
   * a tenant, and a request within its nominal quota reclaims capacity other tenants of its cohort borrowed.
   */
  quota?: QuotaBook;
}

/** Budget and starting point of one plan. */
export interface PlanOptions {
  /** Capacity sequence before the plan; every release the plan makes bumps it. */
  seq: number;
  /** The cycle's instant: new claims are allocated, and released claims end, at this time (metering). */
  now?: Date;
  /**
   * Checked before each engine call: once true, demands that would need one are deferred to the next cycle
   * (a quota refusal or a shape known to fail is still decided).
   */
  outOfTime(): boolean;
  /**
   * Shapes that failed to place, kept by the caller from cycle to cycle. An entry holds while the capacity
   * sequence it was recorded at is current: nothing was freed since, so a request of that shape fails again
   * without an engine call or a defragmentation search. Absent: a memo of this plan only.
   */
  failedShapes?: Map<string, ShapeFailure>;
}

/** A claim the placement takes over (preempts). `busy`: pods use it, so they must be evicted first. */
export interface PlannedVictim {
  claim: ClaimRef;
  node: string;
  gpuIndex: number;
  profile?: string;
  start?: number;
  busy: boolean;
}

/** What the cycle decided for one demand. */
export type DemandOutcome =
  /** It holds what it wants; nothing to do. */
  | { kind: 'satisfied' }
  /** It wanted nothing; `count` claims were given back. */
  | { kind: 'released'; count: number }
  /** The missing slots were placed (possibly preempting `victims`, after `defrag` moves; `reclaimed`: victims
   * were borrowed capacity taken back for a tenant within its nominal quota). */
  | { kind: 'placed'; slots: number[]; assignments: Assignment[]; victims: PlannedVictim[]; defrag?: AppliedDefrag; reclaimed?: boolean; tenant?: string; borrowed?: boolean }
  /** It does not fit now. `permanent`: no capacity change can help, only a spec change. */
  | { kind: 'waiting'; code: string; message: string; permanent: boolean; quota?: QuotaNote }
  /** The cycle ran out of time before it; the next cycle takes it. */
  | { kind: 'deferred' };

/** What tenancy said about a waiting request: its quota is reserved (only capacity lacks), or why not. */
export interface QuotaNote {
  reserved: boolean;
  tenant?: string;
  reason: string;
  message: string;
}

/** One demand's decision, the nodes it edited, and the capacity sequence it was decided at. */
export interface DemandResult {
  demand: Demand;
  outcome: DemandOutcome;
  /** Claims given back besides the outcome's own (stale, surplus, or a partial holding). */
  gaveBack: number;
  nodes: Set<string>;
  seq: number;
}

/** The plan: the edited ledger and every demand's result, in decision order. */
export interface CyclePlan {
  draft: LedgerDraft;
  results: DemandResult[];
  /** Capacity sequence after the plan. */
  seq: number;
}

/** Decides `demands` (queue order) against `ledger`. */
export function planCycle(ledger: GpuNode[], demands: Demand[], deps: PlannerDeps, opts: PlanOptions): CyclePlan {
  return new Planner(ledger, deps, opts.seq, (opts.now ?? new Date()).toISOString(), opts.failedShapes ?? new Map()).run(demands, opts.outOfTime);
}

/** A request shape that did not fit at capacity sequence `seq` (see {@link PlanOptions.failedShapes}). */
export interface ShapeFailure {
  /** Capacity sequence the failure was found at. */
  seq: number;
  /** The request it was found for (its id starts the message). */
  id: string;
  /** The engine's reason code, e.g. `InsufficientCapacity`. */
  code: string;
  message: string;
}

class Planner {
  readonly draft: LedgerDraft;
  readonly #deps: PlannerDeps;
  #seq: number;
  #state: PlacementState | undefined;
  /**
   * Claimant (`Kind/ns/name`) → nodes where it may hold entries (a superset: released entries stay listed). Only
   * the claimants of the plan's demands (and claims moved by defragmentation): no other is looked up by name.
   */
  readonly #where = new Map<string, Set<string>>();
  readonly #failedShapes: Map<string, ShapeFailure>;
  /** Demands of this cycle that took slices pods still use: the pods are being evicted for them. */
  readonly #preempting: Demand[] = [];

  readonly #now: string;

  constructor(ledger: GpuNode[], deps: PlannerDeps, seq: number, now: string, failedShapes: Map<string, ShapeFailure>) {
    this.draft = new LedgerDraft(ledger);
    this.#failedShapes = failedShapes;
    this.#deps = deps;
    this.#seq = seq;
    this.#now = now;
  }

  run(demands: Demand[], outOfTime: () => boolean): CyclePlan {
    this.#index(demands);
    const results: DemandResult[] = [];
    // Releases first: they only free capacity, and every placement after them may use it.
    for (const d of demands) if (d.want.kind === 'release') results.push(this.#release(d));
    for (const d of this.#fairOrder(demands.filter((x) => x.want.kind === 'hold'))) results.push(this.#hold(d, d.want as HoldWant, outOfTime));
    return { draft: this.draft, results, seq: this.#seq };
  }

  /**
   * The hold demands (given in queue order) in the order they are decided. Without quotas as given. With quotas,
   * in two rounds, as Kueue orders workloads that borrow after those that do not: first the requests that stay
   * within their tenant's nominal quota when their turn comes (so a borrower never takes, within a cycle,
   * capacity another tenant is owed), then all the others. In each round a higher priority goes first, then the
   * tenant holding the lowest weighted share (shares move as the cycle places), then the older request; a
   * tenant's own requests keep their queue order. Demands of namespaces in no tenant count as within quota.
   */
  *#fairOrder(holds: Demand[]): Generator<Demand> {
    const quota = this.#quota();
    if (!quota) {
      yield* holds;
      return;
    }
    const byTenant = new Map<string, Demand[]>();
    for (const d of holds) {
      const of = quota.tenantOf(d.who.namespace);
      const key = of.kind === 'tenant' ? of.tenant : '';
      let list = byTenant.get(key);
      if (!list) byTenant.set(key, (list = []));
      list.push(d);
    }
    const later = new Map<string, Demand[]>();
    // Round 1. A tenant's request that is beyond its nominal quota when looked at is left for round 2; usage only
    // grows in this round (a refund would only let a request of round 2 in earlier), so looking once is enough.
    const next = new Map<string, number>();
    const head = (t: string): Demand | undefined => {
      const list = byTenant.get(t) as Demand[];
      let i = next.get(t) ?? 0;
      for (; i < list.length; i++) {
        const d = list[i] as Demand;
        if (t === '' || quota.withinNominal(t, this.#missingCost(d))) break;
        let rest = later.get(t);
        if (!rest) later.set(t, (rest = []));
        rest.push(d);
      }
      next.set(t, i);
      return list[i];
    };
    for (;;) {
      const t = this.#pick([...byTenant.keys()], head, quota);
      if (t === undefined) break;
      yield head(t) as Demand;
      next.set(t, (next.get(t) as number) + 1);
    }
    // Round 2: the rest, in the same order.
    const pos = new Map<string, number>();
    const rest = (t: string): Demand | undefined => later.get(t)?.[pos.get(t) ?? 0];
    for (;;) {
      const t = this.#pick([...later.keys()], rest, quota);
      if (t === undefined) break;
      yield rest(t) as Demand;
      pos.set(t, (pos.get(t) ?? 0) + 1);
    }
  }

  /** The tenant whose next demand (`head`) goes first: higher priority, then lower weighted share, then older. */
  #pick(tenants: string[], head: (t: string) => Demand | undefined, quota: QuotaBook): string | undefined {
    let best: { t: string; d: Demand; share: number } | undefined;
    for (const t of tenants) {
      const d = head(t);
      if (!d) continue;
      const share = quota.share(t || undefined);
      if (!best || d.priority > best.d.priority || (d.priority === best.d.priority && (share < best.share || (share === best.share && this.#older(d, best.d))))) best = { t, d, share };
    }
    return best?.t;
  }

  /** The quota cost of what a hold demand does not hold yet (a gang holding less than all of itself: all of it). */
  #missingCost(d: Demand): QuotaCost {
    let cost = this.#costs.get(d.key);
    if (!cost) {
      const want = d.want as HoldWant;
      const kept = this.#entriesOf(d).filter((e) => e.claim.uid === d.uid && want.keeps(e));
      const missing = missingSlots(want.gang && !want.complete(kept) ? [] : kept, want.slots);
      cost = missing.length === 0 ? { gpuEq: 0, byProfile: new Map() } : requestCost(want.request(missing), this.#products());
      this.#costs.set(d.key, cost);
    }
    return cost;
  }

  readonly #costs = new Map<string, QuotaCost>();

  #older(a: Demand, b: Demand): boolean {
    return a.created < b.created || (a.created === b.created && a.key < b.key);
  }

  /** The quota book when tenancy applies this cycle. */
  #quota(): QuotaBook | undefined {
    const q = this.#deps.quota;
    return q && q.active() ? q : undefined;
  }

  #release(d: Demand): DemandResult {
    const mark = this.draft.editMark();
    const w = d.want.kind === 'release' ? d.want : undefined;
    const count = this.#giveBack((c, node) => (!w?.uid || c.uid === w.uid) && (!w?.nodes || w.nodes.includes(node)), d);
    return { demand: d, outcome: { kind: 'released', count }, gaveBack: 0, nodes: this.draft.editedSince(mark), seq: this.#seq };
  }

  #hold(d: Demand, want: HoldWant, outOfTime: () => boolean): DemandResult {
    const mark = this.draft.editMark();
    const entries = this.#entriesOf(d);
    // Claims of an older object of the same name, and entries the spec no longer wants, go back first.
    const current = entries.filter((e) => e.claim.uid === d.uid);
    let kept = want.gang ? current.filter((e) => want.keeps(e)) : this.#keepMost(current.filter((e) => want.keeps(e)), want.slots);
    const drop = entries.filter((e) => !kept.includes(e));
    let gaveBack = drop.length > 0 ? this.#giveBack((c, node, gpu, start) => drop.some((e) => sameEntry(e, c, node, gpu, start)), d) : 0;
    if (!want.gang) kept = this.#renumber(kept, want.slots);
    if (want.gang && kept.length > 0 && !want.complete(kept)) {
      gaveBack += this.#giveBack((c) => claimNames(c, d.who), d);
      kept = [];
    }
    const missing = missingSlots(kept, want.slots);
    const result = (outcome: DemandOutcome): DemandResult => ({ demand: d, outcome, gaveBack, nodes: this.draft.editedSince(mark), seq: this.#seq });
    if (missing.length === 0) return result({ kind: 'satisfied' });

    const request = want.request(missing);
    const quota = this.#quota();
    let admitted: { tenant: string | undefined; borrowed: boolean; cost: QuotaCost } | undefined;
    if (quota) {
      const cost = requestCost(request, this.#products());
      const verdict = quota.admit(d.who.namespace, cost);
      if (!verdict.ok) {
        // Quota first: a request over its tenant's quota costs no engine call and holds nothing.
        if (kept.length > 0 && !want.inUse) gaveBack += this.#giveBack((c) => claimNames(c, d.who), d);
        const note = { reserved: false, ...(verdict.tenant ? { tenant: verdict.tenant } : {}), reason: verdict.reason, message: verdict.message };
        return result({ kind: 'waiting', code: verdict.reason, message: verdict.message, permanent: false, quota: note });
      }
      admitted = { tenant: verdict.tenant, borrowed: verdict.borrowed, cost };
    }
    // With quotas the same shape may fare differently per tenant (reclaim): the memo is per tenant then.
    const shape = `${shapeOf(request)}|${admitted?.tenant ?? ''}`;
    // A failure recorded at another capacity sequence says nothing about this one.
    const known = this.#failedShapes.get(shape);
    const memo = known?.seq === this.#seq ? known : undefined;
    // Out of time, only what needs no engine call is still decided: a quota refusal (above) or a known failure.
    if (!memo && outOfTime()) return result({ kind: 'deferred' });
    let res: PlacementResult;
    let defrag: AppliedDefrag | undefined;
    let reclaimed = false;
    let restricted = false;
    if (memo) {
      res = { ok: false, code: memo.code as never, message: renamed(memo.message, memo.id, request.id) };
    } else {
      res = this.#place(quota && request.mayPreempt ? { ...request, mayPreempt: false } : request, d);
      if (!res.ok && quota && admitted?.tenant && DEFRAGGABLE_CODES.has(res.code)) {
        // Priority preemption stays within the tenant; then borrowed capacity is reclaimed for a tenant
        // within its nominal quota (lowest priority, then most recently admitted, first).
        const tenant = admitted.tenant;
        if (request.mayPreempt) {
          const own = this.#placeRestricted(request, d, (c) => (c.tenant === tenant && c.preemptible && c.priority < (request.priority ?? 0) ? c.priority : undefined));
          if (own.ok) {
            res = own;
            restricted = true;
          }
        }
        if (!res.ok && quota.withinNominal(tenant, admitted.cost)) {
          const peers = new Set(quota.overNominalPeers(tenant));
          const now = Date.parse(this.#now);
          const reclaim = this.#placeRestricted(request, d, (c) =>
            c.tenant && peers.has(c.tenant) && c.borrowed ? (c.priority + 1e6) * 1e8 + Math.min(1e8 - 1, Math.max(0, (now - Date.parse(c.allocatedAt ?? '1970-01-01T00:00:00Z')) / 1000)) : undefined,
          );
          if (reclaim.ok) {
            res = reclaim;
            reclaimed = restricted = true;
          }
        }
      }
      if (!res.ok && this.#deps.defrag && DEFRAGGABLE_CODES.has(res.code)) {
        const prepared = this.#deps.defrag.prepare(this.draft, request, (n) => this.#deps.nodeOf(n));
        if (prepared.ok) {
          defrag = prepared.applied;
          this.#state = undefined;
          // Moved claims live on other nodes now: later demands of their claimants must find them there.
          for (const m of prepared.applied.moved) this.#note(claimantOf(m.claim), m.to.node);
          res = this.#place(request, d);
          if (!res.ok) {
            this.#deps.defrag.abandoned(prepared.applied);
            throw new Error(`${request.id}: placement after defragmentation failed: ${res.message}`);
          }
        }
      }
    }
    if (!res.ok) {
      // Recorded after the whole search (engine, reclaim, defragmentation) failed.
      if (!memo) this.#failedShapes.set(shape, { seq: this.#seq, id: request.id, code: res.code, message: res.message });
      // All or nothing: a partial holding nobody uses is given back rather than hoarded.
      if (kept.length > 0 && !want.inUse) gaveBack += this.#giveBack((c) => claimNames(c, d.who), d);
      // A higher-priority request is taking slices whose pods are still being evicted: it is served first.
      const ahead = DEFRAGGABLE_CODES.has(res.code) ? this.#preempting.find((h) => h.priority > d.priority) : undefined;
      if (ahead) {
        const message = `waiting for higher-priority ${ahead.who.kind} ${ahead.who.namespace}/${ahead.who.name} (priority ${ahead.priority}), which is preempting slices in use, to be served first; ${res.message}`;
        return result({ kind: 'waiting', code: 'WaitingForPriority', message, permanent: false, ...this.#reservedNote(admitted, d) });
      }
      return result({ kind: 'waiting', code: res.code, message: res.message, permanent: PERMANENT_CODES.has(res.code), ...this.#reservedNote(admitted, d) });
    }

    const victims = res.victims.map((v) => this.#victim(v.holderKey, v.node, v.gpuIndex, v.start)).filter((v) => v !== undefined);
    if (victims.some((v) => v.busy)) this.#preempting.push(d);
    this.draft.releaseVictims(res.victims);
    quota?.refund(victims.map((v) => ({ node: v.node, gpuIndex: v.gpuIndex, claim: v.claim, ...(v.profile !== undefined ? { profile: v.profile, start: v.start as number } : {}) })));
    const actual = addCosts(...res.assignments.map((a) => assignmentCost(a)));
    // The borrowed flag follows the actual cost (a request by memory may have been given a cheaper profile).
    const borrowed = quota && admitted?.tenant ? !quota.withinNominal(admitted.tenant, actual) : false;
    const mine = new Map(missing.map((slot) => {
      const claim: ClaimRef = { ...want.claim(slot), allocatedAt: this.#now, ...(admitted?.tenant ? { tenant: admitted.tenant } : {}), ...(borrowed ? { borrowed: true } : {}) };
      return [claimKey(claim), claim];
    }));
    this.draft.applyLayouts(res.layouts, (key) => mine.get(key), (key) => this.#claimsByKey().get(key));
    quota?.charge(admitted?.tenant, actual);
    // Borrowed claims are capacity that a tenant within its nominal quota may take back, and they can put their
    // tenant above its nominal quota, making its older borrowed claims reclaimable too: requests parked before
    // this placement may fit now, so the capacity sequence moves.
    if (borrowed) this.#seq++;
    // A placement made on a restricted engine state is not on the main one.
    if (restricted) this.#state = undefined;
    for (const l of res.layouts) this.#note(whoKey(d), l.node);
    return result({
      kind: 'placed',
      slots: missing,
      assignments: res.assignments,
      victims,
      ...(defrag ? { defrag } : {}),
      ...(reclaimed ? { reclaimed } : {}),
      ...(admitted?.tenant ? { tenant: admitted.tenant, borrowed } : {}),
    });
  }

  /** The quota note of a request whose quota is reserved while it waits for capacity. */
  #reservedNote(admitted: { tenant: string | undefined } | undefined, d: Demand): { quota?: QuotaNote } {
    if (!admitted || !this.#quota()) return {};
    const tenant = admitted.tenant;
    const message = tenant ? `within the quota of tenant ${tenant}; waiting for capacity` : `namespace ${d.who.namespace} belongs to no tenant; waiting for capacity`;
    return { quota: { reserved: true, ...(tenant ? { tenant } : {}), reason: QUOTA_REASONS.available, message } };
  }

  /**
   * Places `request` on a separate engine state where the only claims that may be preempted are those `rank`
   * gives a number (lower is taken first); the request outranks them all. On success the placement is the
   * caller's to apply; the main engine state is rebuilt afterwards.
   */
  #placeRestricted(request: PlacementRequest, d: Demand, rank: (claim: ClaimRef) => number | undefined): PlacementResult {
    const claims = this.#claimsByKey();
    const snapshot = buildSnapshot(this.draft.nodes(), (n) => this.#deps.nodeOf(n));
    const restricted = withHolders(snapshot, (key) => {
      const claim = claims.get(key);
      const r = claim ? rank(claim) : undefined;
      return r === undefined ? { preemptible: false } : { preemptible: true, priority: r };
    });
    let state: PlacementState;
    try {
      state = new PlacementState(restricted);
    } catch {
      return { ok: false, code: 'InvalidRequest', message: `${request.id}: the cluster cannot be evaluated` };
    }
    const t0 = performance.now();
    const res = placeOn(state, { ...request, mayPreempt: true, priority: Number.MAX_SAFE_INTEGER });
    this.#deps.observePlacement?.((performance.now() - t0) / 1000, d.who.kind);
    return res;
  }

  /** Every claim on the draft by engine holder key. */
  #claimsByKey(): Map<string, ClaimRef> {
    return new Map(ledgerEntries(this.draft.nodes()).map((e) => [claimKey(e.claim), e.claim]));
  }

  /** GPU products the cluster's nodes report (for the cost of requests by memory or compute). */
  #products(): string[] {
    this.#productList ??= [...new Set(this.draft.nodes().map((n) => n.status?.inventory?.product).filter((p) => p !== undefined))];
    return this.#productList;
  }

  #productList: string[] | undefined;

  /**
   * Which of a partition's slices to keep when it holds more than `slots` (its count went down): the ones pods
   * use first, so shrinking never takes a slice from a running pod; then the lowest slots.
   */
  #keepMost(entries: LedgerEntry[], slots: number): LedgerEntry[] {
    const ranked = [...entries].sort((a, b) => Number(this.#inUse(b)) - Number(this.#inUse(a)) || a.claim.slot - b.claim.slot);
    const out: LedgerEntry[] = [];
    for (const e of ranked) if (out.length < slots) out.push(e);
    return out;
  }

  /**
   * Gives kept entries whose slot is out of range or taken (a shrink kept a higher slot a pod uses) the free slots
   * below `slots`. Claims change identity (the engine's holder key includes the slot), so the engine state is rebuilt.
   */
  #renumber(kept: LedgerEntry[], slots: number): LedgerEntry[] {
    const taken = new Set<number>();
    const fine = kept.filter((e) => e.claim.slot < slots && !taken.has(e.claim.slot) && taken.add(e.claim.slot));
    const moving = kept.filter((e) => !fine.includes(e));
    if (moving.length === 0) return kept;
    const free = [...Array(slots).keys()].filter((s) => !taken.has(s));
    const out = [...fine];
    for (const e of moving) {
      const slot = free.shift() as number;
      const claim = { ...e.claim, slot };
      this.draft.replaceClaim(e.node, e.gpuIndex, e.start, e.claim, claim);
      out.push({ ...e, claim });
    }
    this.#state = undefined;
    return out;
  }

  /** Whether the node reports a pod on the entry's slice or GPU. */
  #inUse(e: LedgerEntry): boolean {
    const gpu = this.draft.node(e.node)?.status?.gpus?.find((g) => g.index === e.gpuIndex);
    if (e.start === undefined) return gpu?.inUse === true;
    return gpu?.mode === 'mig' && gpu.slices.some((s) => s.start === e.start && s.profile === e.profile && s.inUse);
  }

  /** One engine call on the working state; a success stays applied to it. */
  #place(request: PlacementRequest, d: Demand): PlacementResult {
    this.#state ??= new PlacementState(buildSnapshot(this.draft.nodes(), (n) => this.#deps.nodeOf(n)));
    const t0 = performance.now();
    let res: PlacementResult;
    try {
      res = placeOn(this.#state, request, { commit: true });
    } catch (err) {
      res = { ok: false, code: 'InvalidRequest', message: `${request.id}: cannot be placed: ${(err as Error).message}` };
    }
    this.#deps.observePlacement?.((performance.now() - t0) / 1000, d.who.kind);
    return res;
  }

  /** Releases matching claims of `d`'s claimant from the draft; frees capacity, so the engine state is rebuilt. */
  #giveBack(pred: (claim: ClaimRef, node: string, gpu: number, start?: number) => boolean, d: Demand): number {
    const quota = this.#deps.quota;
    if (quota) quota.refund(this.#entriesOf(d).filter((e) => pred(e.claim, e.node, e.gpuIndex, e.start)));
    const n = this.draft.release((c, node, gpu, start) => claimNames(c, d.who) && pred(c, node, gpu, start), this.#where.get(whoKey(d)) ?? []);
    if (n > 0) {
      this.#seq++;
      this.#state = undefined;
    }
    return n;
  }

  #entriesOf(d: Demand): LedgerEntry[] {
    const nodes = [...(this.#where.get(whoKey(d)) ?? [])].map((n) => this.draft.node(n)).filter((n) => n !== undefined);
    return ledgerEntries(nodes).filter((e) => claimNames(e.claim, d.who));
  }

  /** The claim a victim holder key names on that GPU, and whether pods use it. */
  #victim(key: string, node: string, gpuIndex: number, start: number | undefined): PlannedVictim | undefined {
    const gn = this.draft.node(node);
    const gpu = gn?.spec?.gpus?.find((g) => g.index === gpuIndex);
    const slice = start === undefined ? undefined : gpu?.slices.find((s) => s.start === start && s.claim && claimKey(s.claim) === key);
    const claim = slice?.claim ?? (gpu?.claim && claimKey(gpu.claim) === key ? gpu.claim : undefined);
    if (!claim) return undefined;
    const real = gn?.status?.gpus?.find((g) => g.index === gpuIndex);
    const inUse = slice ? (real?.mode === 'mig' && real.slices.some((s) => s.start === slice.start && s.profile === slice.profile && s.inUse)) : real?.inUse === true;
    return {
      claim,
      node,
      gpuIndex,
      ...(slice ? { profile: slice.profile, start: slice.start } : {}),
      busy: inUse || (this.#deps.podsUse?.(claim) ?? false),
    };
  }

  /**
   * Notes where the demands' claimants hold entries. One pass over the ledger that builds no string for claims of
   * other claimants: the ledger holds thousands of claims, a cycle decides a few of them.
   */
  #index(demands: Demand[]): void {
    const names = new Set(demands.map((d) => d.who.name));
    const wanted = new Set(demands.map(whoKey));
    const note = (c: ClaimRef | undefined, node: string) => {
      if (c && names.has(c.name)) {
        const k = claimantOf(c);
        if (wanted.has(k)) this.#note(k, node);
      }
    };
    for (const n of this.draft.nodes()) {
      const node = n.metadata.name as string;
      for (const g of n.spec?.gpus ?? []) {
        note(g.claim, node);
        for (const sl of g.slices) note(sl.claim, node);
      }
    }
  }

  #note(claimant: string, node: string): void {
    let set = this.#where.get(claimant);
    if (!set) this.#where.set(claimant, (set = new Set()));
    set.add(node);
  }
}

function claimantOf(c: ClaimRef): string {
  return `${c.kind}/${c.namespace}/${c.name}`;
}

function whoKey(d: Demand): string {
  return `${d.who.kind}/${d.who.namespace}/${d.who.name}`;
}

function sameEntry(e: LedgerEntry, c: ClaimRef, node: string, gpu: number, start: number | undefined): boolean {
  return e.claim === c || (e.node === node && e.gpuIndex === gpu && e.start === start && e.claim.uid === c.uid && e.claim.slot === c.slot);
}

/** The quota cost of one assignment: a slice of its profile, or its whole GPUs. */
function assignmentCost(a: Assignment): QuotaCost {
  if (a.profile !== undefined) return { gpuEq: gpuEquivalentsOf(a.profile), byProfile: new Map([[accountingProfile(a.profile), 1]]) };
  return { gpuEq: a.gpuIndices.length, byProfile: new Map([['whole', a.gpuIndices.length]]) };
}

/** A copy of the snapshot with every holder's preemptibility (and priority) replaced as `override` says. */
function withHolders(snapshot: ClusterSnapshot, override: (key: string) => { preemptible: boolean; priority?: number }): ClusterSnapshot {
  const swap = <T extends { key: string; priority: number; preemptible: boolean }>(h: T): T => ({ ...h, ...override(h.key) });
  return {
    nodes: snapshot.nodes.map((n) => ({
      ...n,
      gpus: n.gpus.map((g) => ({
        ...g,
        ...(g.holder ? { holder: swap(g.holder) } : {}),
        slices: g.slices.map((s) => (s.holder ? { ...s, holder: swap(s.holder) } : s)),
      })),
    })),
  };
}

/**
 * What decides a request's fit besides the cluster: its members' sizes, topology, constraints, and (when it may
 * preempt) its priority. Two requests with the same shape fit or fail alike on the same ledger.
 */
export function shapeOf(r: PlacementRequest): string {
  const members = r.members.map((m) => (m.kind === 'whole' ? `w${m.gpus}` : `s${m.profile ?? ''}/${m.memoryMiB ?? ''}/${m.computeSlices ?? ''}`));
  const c = r.constraints ?? {};
  const sel = Object.entries(c.nodeSelector ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([members, r.topology ?? 'any', [...(c.products ?? [])].sort(), sel, r.mayPreempt ? (r.priority ?? 0) : null]);
}

// Engine messages start with the request id; a reused message names the request it is reused for.
function renamed(message: string, from: string, to: string): string {
  return message.startsWith(`${from}:`) ? `${to}:${message.slice(from.length + 1)}` : message;
}

/** The slots below `slots` that none of `kept` holds. */
function missingSlots(kept: LedgerEntry[], slots: number): number[] {
  const held = new Set(kept.map((e) => e.claim.slot));
  return [...Array(slots).keys()].filter((s) => !held.has(s));
}
