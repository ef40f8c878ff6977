/**
 * The admission cycle (leader only), in the manner of kube-scheduler's and Kueue's scheduling cycles. Reconcilers
 * submit demands; each cycle takes the ready ones in queue order (bounded in count and planning time), decides
 * them one after another against the assumed ledger (`cycle-planner.ts`), then writes every touched GpuNode once,
 * concurrently (bounded), each write guarded by the node's generation. A refused write rolls back only that
 * node: the demands it carried are planned again, nothing else. Then the decided objects' reconcilers are told,
 * and they derive status from the ledger and the verdicts kept here.
 *
 * A demand that does not fit is parked until capacity changes (a release, a node or health change, a write of
 * someone else) or its spec does. Claims whose owner or node is gone are collected and released by the same
 * batched path.
 */
import type { ClaimRef, GpuNode, PodRef } from '../api/types.js';
import { EVENT_REASONS } from '../api/conditions.js';
import { isConflict } from '../k8s/errors.js';
import { RESOURCES } from '../k8s/resources.js';
import { AssumedLedger } from '../ledger/assumed-ledger.js';
import { claimantObject } from '../ledger/claimant-ref.js';
import { ledgerEntries, type ClaimantId, type ClaimantKind, type LedgerEntry } from '../ledger/claims.js';
import type { LedgerDraft } from '../ledger/ledger-draft.js';
import { LedgerConflict, writeLedgerNode } from '../ledger/ledger-write.js';
import type { NodeObject } from '../ledger/snapshot.js';
import type { CachePort, ClientPort, KubeObject, LogPort, RecorderPort } from '../runtime/ports.js';
import { AdmissionQueue } from './admission-queue.js';
import type { GpuTenant } from '../api/types.js';
import { QUOTA_REASONS } from '../api/conditions.js';
import { QuotaBook, type UnassignedPolicy } from '../tenancy/quota-book.js';
import { TenantDirectory, type NamespaceInfo } from '../tenancy/tenant-resolution.js';
import { planCycle, type CyclePlan, type PlannedVictim, type PlannerDeps, type QuotaNote, type ShapeFailure } from './cycle-planner.js';
import type { AppliedDefrag } from './defrag/defragmenter.js';
import type { Demand } from './demand.js';

/** How long a cycle that may not write (no valid Lease) waits before looking again. */
export const FENCED_RETRY_MS = 250;

/** Why a demand is not placed, as the cycle last decided it. */
export interface Verdict {
  uid: string;
  generation: number;
  code: string;
  message: string;
  /** What tenancy said: the quota is reserved (only capacity lacks), or why not. */
  quota?: QuotaNote;
  /** When the verdict was last announced to the object's reconciler (ms since epoch). */
  announcedAt: number;
}

/** Bounds of one cycle. */
export interface AdmissionCycleOptions {
  /** Most demands decided per cycle; default 1,000. */
  maxBatch?: number;
  /** Planning stops after this many milliseconds (the rest waits for the next cycle); default 200. */
  maxPlanMs?: number;
  /** Ledger writes in flight at once; default 16. */
  writeConcurrency?: number;
  /** Owner-gone and node-gone claims are looked for at least this often; default 30 s. */
  gcIntervalMs?: number;
  /** A claim whose owner is missing is released once it was seen missing this long (informer lag); default 2 s. */
  gcGraceMs?: number;
  /** A waiting request's unchanged reason with a changed message is re-announced at most this often; default 30 s. */
  messageRefreshMs?: number;
}

/** Metrics of the cycle. */
export interface CycleMetricsPort {
  observeCycle(seconds: number, demands: number): void;
  ledgerWrite(result: 'ok' | 'conflict' | 'error'): void;
  setQueue(ready: number, parked: number): void;
  setReplansWithoutChange(total: number): void;
  setPendingRequests(kind: ClaimantKind, reason: string, count: number): void;
  capacityChanged(source: CapacityChangeSource): void;
}

/**
 * Where a change of what placement sees came from: an outside change of a GpuNode, Node, GpuTenant or Namespace,
 * a cycle's own release of capacity, or a ledger write that was refused and rolled back.
 */
export type CapacityChangeSource = 'gpunode' | 'node' | 'tenant' | 'namespace' | 'release' | 'failed-write';

/** Whether an object still exists with that uid: true/false, or undefined when it is not this replica's to judge. */
export type OwnerLookup = (kind: ClaimantKind, namespace: string, name: string, uid: string) => boolean | undefined;

/** What the cycle reads and writes. */
export interface AdmissionCycleDeps {
  client: ClientPort;
  ledger: AssumedLedger;
  nodes: CachePort<NodeObject>;
  owners: OwnerLookup;
  planner: Omit<PlannerDeps, 'nodeOf' | 'quota'>;
  /** Tenant quotas: the tenants, the namespaces (labels for selectors), and what namespaces in no tenant get. */
  tenancy?: { tenants(): GpuTenant[]; namespaces(): NamespaceInfo[]; unassigned: UnassignedPolicy };
  /** Announces defragmentation after its write (or forgets it when the write failed). */
  defrag?: {
    committed(applied: AppliedDefrag, requester: KubeObject, recorder: RecorderPort): Promise<void>;
    abandoned(applied: AppliedDefrag): void;
  };
  /** Pods holding a preempted claim's device on its node (to evict before the new holder uses it). */
  podsHolding(victim: PlannedVictim, node: GpuNode | undefined): PodRef[];
  recorder: RecorderPort;
  /** Tells the claimant's reconciler that its ledger entries or verdict changed. */
  notify(who: ClaimantId): void;
  /** True while this replica may write the ledger (it holds an unexpired Lease). */
  fence(): boolean;
  /** Called with each node this cycle wrote (reconfiguration-latency clock). */
  onWritten?(node: GpuNode): void;
  /**
   * Called before a cycle's writes with the claims they release, and the cycle's instant (their end of use):
   * metering settles what those claims used durably first, so a crash right after the release loses no second.
   * A rejection postpones the cycle's writes.
   */
  beforeRelease?(released: LedgerEntry[], at: Date): Promise<void>;
  /**
   * Told each cycle's instant before it plans (`begin`) and when its writes are done or abandoned (`end`):
   * metering settles no further than the instant of a cycle in flight, whose new claims are not in the ledger yet.
   */
  inFlight?: { begin(at: Date): void; end(): void };
  metrics?: CycleMetricsPort;
  log: LogPort;
  now?: () => number;
}

/** The cycle runner of one replica. */
export class AdmissionCycle {
  readonly #d: AdmissionCycleDeps;
  readonly #o: Required<AdmissionCycleOptions>;
  readonly #queue = new AdmissionQueue();
  readonly #verdicts = new Map<string, Verdict>();
  readonly #now: () => number;
  /** Capacity sequence: moves on every release and every outside change of what placement sees. */
  #seq = 0;
  /**
   * Request shapes that failed, carried from cycle to cycle while the capacity sequence stands still: a flood of
   * requests that cannot fit is decided at memo speed, not at one engine call and defragmentation search per
   * shape per cycle (10,000 partitions on a full cluster: about 8 decided per cycle without it).
   */
  readonly #failedShapes = new Map<string, ShapeFailure>();
  #running = false;
  #loop: Promise<void> | undefined;
  #abort = new AbortController();
  #wakeup: (() => void) | undefined;
  #gcDue = true;
  #gcAt = 0;
  /** Owner-gone suspects: claim identity → first seen missing (ms). */
  #suspects = new Map<string, number>();
  #cycles = 0;
  #idleWaiters: Array<() => void> = [];
  /** `kind/reason` label pairs of the pending gauge reported last time (so vanished ones go back to 0). */
  #pendingReported = new Set<string>();

  /** Creates a stopped cycle. */
  constructor(deps: AdmissionCycleDeps, opts: AdmissionCycleOptions = {}) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#o = {
      maxBatch: opts.maxBatch ?? 1000,
      maxPlanMs: opts.maxPlanMs ?? 200,
      writeConcurrency: opts.writeConcurrency ?? 16,
      gcIntervalMs: opts.gcIntervalMs ?? 30_000,
      gcGraceMs: opts.gcGraceMs ?? 2_000,
      messageRefreshMs: opts.messageRefreshMs ?? 30_000,
    };
  }

  /** Adds or updates a claimant's demand; an unchanged demand that waits for capacity keeps waiting. */
  submit(d: Demand): void {
    if (this.#queue.submit(d)) this.#kick();
  }

  /** Forgets the demand and verdict of a claimant (its object is gone, or it holds what it wants). */
  withdraw(kind: ClaimantKind, namespace: string, name: string): void {
    const key = `${kind}/${namespace}/${name}`;
    this.#queue.remove(key);
    this.#verdicts.delete(key);
  }

  /** The last verdict on a claimant, if it waits. */
  verdict(kind: ClaimantKind, namespace: string, name: string): Verdict | undefined {
    return this.#verdicts.get(`${kind}/${namespace}/${name}`);
  }

  /** Waiting requests per tenant (from the verdicts; `''` for requests of no tenant). */
  waitingByTenant(): Map<string, number> {
    const out = new Map<string, number>();
    for (const v of this.#verdicts.values()) {
      const t = v.quota?.tenant ?? '';
      out.set(t, (out.get(t) ?? 0) + 1);
    }
    return out;
  }

  /** Whether the claimant's demand is queued and not decided yet. */
  queued(kind: ClaimantKind, namespace: string, name: string): boolean {
    const key = `${kind}/${namespace}/${name}`;
    return this.#queue.get(key) !== undefined && !this.#queue.isParked(key);
  }

  /** Something placement reads changed outside this cycle (a node, its health, a slice freed): wake the parked. */
  capacityChanged(source: CapacityChangeSource): void {
    this.#d.metrics?.capacityChanged(source);
    this.#seq++;
    this.#kick();
  }

  /** An owner may be gone (a claimant or Node was deleted): look for orphaned claims soon. */
  ownersChanged(): void {
    this.#gcDue = true;
    this.#kick();
  }

  /** Times a demand was planned while neither capacity nor the demand had changed (0 by construction). */
  replansWithoutChange(): number {
    return this.#queue.replansWithoutChange();
  }

  /** Cycles run so far. */
  cycles(): number {
    return this.#cycles;
  }

  /** True while the loop runs (this replica leads). */
  running(): boolean {
    return this.#running;
  }

  /** Starts the loop (on becoming leader). The ledger is taken as the cache shows it. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#abort = new AbortController();
    this.#gcDue = true;
    this.#loop = this.#run();
  }

  /**
   * Stops the loop at once (on losing leadership or shutdown): writes in flight are aborted, and the queue,
   * verdicts and assumptions are dropped — the next leader (maybe this replica again) starts from the caches.
   */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#abort.abort(new Error('admission cycle stopped'));
    this.#kick();
    await this.#loop;
    this.#queue.clear();
    this.#verdicts.clear();
    this.#suspects.clear();
    this.#d.ledger.reset();
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Resolves once no demand is ready and no cycle runs (tests). */
  idle(): Promise<void> {
    if (!this.#hasWork()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #kick(): void {
    const w = this.#wakeup;
    this.#wakeup = undefined;
    w?.();
  }

  #hasWork(): boolean {
    this.#queue.wake(this.#seq);
    if (this.#running && this.#now() - this.#gcAt >= this.#o.gcIntervalMs) this.#gcDue = true;
    return this.#queue.readyCount() > 0 || this.#gcDue;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      if (!this.#hasWork()) {
        for (const w of this.#idleWaiters.splice(0)) w();
        const nextGc = Math.max(0, this.#gcAt + this.#o.gcIntervalMs - this.#now());
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, nextGc);
          this.#wakeup = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        continue;
      }
      // Let the submissions of the same burst arrive before planning.
      await new Promise((r) => setImmediate(r));
      if (!this.#running) break;
      try {
        await this.#cycle();
      } catch (err) {
        this.#d.log.error('Admission cycle failed', { err });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async #cycle(): Promise<void> {
    if (!this.#d.fence()) {
      // Not (or no longer surely) the leader: plan nothing; the manager stops this loop when leadership is lost.
      await new Promise((r) => setTimeout(r, FENCED_RETRY_MS));
      return;
    }
    const t0 = this.#now();
    this.#d.inFlight?.begin(new Date(t0));
    try {
      await this.#decideAndWrite(t0);
    } finally {
      this.#d.inFlight?.end();
    }
  }

  async #decideAndWrite(t0: number): Promise<void> {
    if (this.#gcDue) this.#collectOrphans(t0);
    this.#queue.wake(this.#seq);
    const batch = this.#queue.take(this.#o.maxBatch);
    if (batch.length === 0) return;
    const quota = this.#quotaBook();
    for (const [shape, f] of this.#failedShapes) if (f.seq !== this.#seq) this.#failedShapes.delete(shape);
    const plan = planCycle(this.#d.ledger.list(), batch, { ...this.#d.planner, nodeOf: (n) => this.#d.nodes.get(n), ...(quota ? { quota } : {}) }, {
      seq: this.#seq,
      failedShapes: this.#failedShapes,
      now: new Date(t0),
      outOfTime: () => this.#now() - t0 > this.#o.maxPlanMs,
    });
    if (plan.seq > this.#seq) this.#d.metrics?.capacityChanged('release');
    this.#seq = Math.max(this.#seq, plan.seq);
    for (const r of plan.results) if (r.outcome.kind !== 'deferred') this.#queue.noteDecided(r.demand.key, r.seq);
    const planned = this.#now();
    const released = releasedClaims(plan.draft);
    if (released.length > 0 && this.#d.beforeRelease) {
      try {
        await this.#d.beforeRelease(released, new Date(t0));
      } catch (err) {
        // Nothing is written: every decided demand is planned again, after a pause.
        this.#d.log.warn('Settling the usage of released claims failed; the cycle writes nothing and retries', { err });
        for (const r of plan.results) {
          if (r.outcome.kind === 'deferred') continue;
          this.#queue.retry(r.demand.key);
          if (r.outcome.kind === 'placed' && r.outcome.defrag) this.#d.defrag?.abandoned(r.outcome.defrag);
        }
        await new Promise((r) => setTimeout(r, 1_000));
        return;
      }
    }
    const failed = await this.#write(plan.draft);
    const written = this.#now();
    this.#settle(plan, failed);
    this.#cycles++;
    const count = (k: string) => plan.results.filter((r) => r.outcome.kind === k).length;
    this.#d.log.debug('Admission cycle', {
      demands: batch.length,
      placed: count('placed'),
      waiting: count('waiting'),
      released: count('released'),
      deferred: count('deferred'),
      nodesWritten: plan.draft.changed().length - failed.size,
      nodesRefused: failed.size,
      planMs: planned - t0,
      writeMs: written - planned,
      ready: this.#queue.readyCount(),
      parked: this.#queue.parkedCount(),
    });
    const m = this.#d.metrics;
    m?.observeCycle((this.#now() - t0) / 1000, plan.results.filter((r) => r.outcome.kind !== 'deferred').length);
    m?.setQueue(this.#queue.readyCount(), this.#queue.parkedCount());
    m?.setReplansWithoutChange(this.#queue.replansWithoutChange());
    if (m) this.#reportPending(m);
  }

  /** Waiting demands per kind and reason: the cycle's verdicts, and `Queued` for those not decided yet. */
  #reportPending(m: CycleMetricsPort): void {
    const counts = new Map<string, number>();
    const add = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
    for (const [key, v] of this.#verdicts) add(`${key.slice(0, key.indexOf('/'))}/${v.code}`);
    for (const d of this.#queue.ready()) if (d.want.kind === 'hold' && !this.#verdicts.has(d.key)) add(`${d.who.kind}/Queued`);
    for (const k of this.#pendingReported) if (!counts.has(k)) counts.set(k, 0);
    for (const [k, n] of counts) {
      const [kind, reason] = k.split('/') as [ClaimantKind, string];
      m.setPendingRequests(kind, reason, n);
    }
    this.#pendingReported = new Set([...counts].filter(([, n]) => n > 0).map(([k]) => k));
  }

  /** This cycle's quota book, when tenancy is configured. */
  #quotaBook(): QuotaBook | undefined {
    const t = this.#d.tenancy;
    if (!t) return undefined;
    return new QuotaBook(new TenantDirectory(t.tenants(), t.namespaces()), this.#d.ledger.entries(), t.unassigned);
  }

  /** Writes every changed node once, concurrently; returns the nodes whose write did not land. */
  async #write(draft: LedgerDraft): Promise<Set<string>> {
    const failed = new Set<string>();
    const changed = draft.changed();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < changed.length) {
        const node = changed[next++] as GpuNode;
        const name = node.metadata.name as string;
        // A replica whose Lease expired (e.g. it was paused) must not write, even before it notices.
        if (!this.#running || !this.#d.fence()) {
          failed.add(name);
          continue;
        }
        try {
          this.#d.ledger.sending(name, node.spec);
          const written = await writeLedgerNode(this.#d.client, node, draft.original(name) as GpuNode, this.#abort.signal);
          this.#d.ledger.assume(written);
          this.#d.onWritten?.(written);
          this.#d.metrics?.ledgerWrite('ok');
        } catch (err) {
          failed.add(name);
          if (err instanceof LedgerConflict || isConflict(err)) {
            this.#d.metrics?.ledgerWrite('conflict');
            this.#d.log.debug('GpuNode changed under a ledger write; its demands are planned again', { node: name });
            if (err instanceof LedgerConflict && err.current) this.#d.ledger.assume(err.current);
            else await this.#refresh(name);
          } else {
            this.#d.metrics?.ledgerWrite('error');
            if (this.#running) this.#d.log.error('Ledger write failed; its demands are planned again', { node: name, err });
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.writeConcurrency, changed.length) }, worker));
    // Somebody else changed those nodes, or the assumptions placed on them are rolled back: what placement sees
    // there changed.
    if (failed.size > 0) {
      this.#d.metrics?.capacityChanged('failed-write');
      this.#seq++;
    }
    return failed;
  }

  /** After a refused write: read the node so the next plan does not start from the same stale version. */
  async #refresh(name: string): Promise<void> {
    if (!this.#running) return;
    try {
      const fresh = await this.#d.client.get<GpuNode>(RESOURCES.gpuNode, name);
      if (fresh) this.#d.ledger.assume(fresh);
    } catch (err) {
      this.#d.log.debug('Reading a conflicting GpuNode failed', { node: name, err });
    }
  }

  /** Queue, verdicts, Events, evictions and notifications for each decided demand. */
  #settle(plan: CyclePlan, failed: Set<string>): void {
    // Events run in the background, after this cycle: no closure made here may hold the plan (its draft copies
    // every touched GpuNode), or each cycle's plan stays alive for as long as its Events wait for the API server.
    const events: Array<() => Promise<void> | void> = [];
    // "N higher-priority requests wait ahead", for requests over quota: counted once per cycle, per tenant.
    let waitingByTenant: Map<string, number[]> | undefined;
    for (const r of plan.results) {
      const key = r.demand.key;
      const o = r.outcome;
      if (o.kind === 'deferred') continue;
      if ([...r.nodes].some((n) => failed.has(n))) {
        // Only what was planned on a refused node is planned again.
        if (o.kind === 'placed' && o.defrag) this.#d.defrag?.abandoned(o.defrag);
        this.#queue.retry(key);
        continue;
      }
      const who = r.demand.who;
      const obj = claimantObject({ ...who, uid: r.demand.uid, slot: 0, priority: 0, preemptible: false });
      switch (o.kind) {
        case 'satisfied':
          this.#queue.settle(r.demand);
          if (this.#verdicts.delete(key) || r.gaveBack > 0) this.#d.notify(who);
          break;
        case 'released': {
          this.#queue.settle(r.demand);
          this.#verdicts.delete(key);
          this.#d.notify(who);
          const w = r.demand.want;
          if (o.count > 0 && w.kind === 'release') events.push(() => this.#releasedEvent(obj, o.count, w.cause, w.nodes));
          break;
        }
        case 'placed': {
          this.#queue.settle(r.demand);
          this.#verdicts.delete(key);
          this.#d.notify(who);
          const where = o.assignments.map((a) => `${a.node}/gpu${a.gpuIndices.join(',')}${a.start !== undefined ? `@${a.start}` : ''}`).join(', ');
          const profile = o.assignments[0]?.profile;
          const what = profile ? `${o.slots.length} × ${profile}` : `${o.slots.length} worker(s)`;
          events.push(() => this.#d.recorder.event(obj, 'Normal', EVENT_REASONS.placed, `Placed ${what} on ${where}`));
          for (const v of o.victims) {
            this.#d.notify(v.claim);
            // Read now, while the plan is at hand: the pods using the slice as the node was before this cycle.
            const pods = v.busy ? this.#d.podsHolding(v, plan.draft.original(v.node)) : [];
            const demand = r.demand;
            const tenant = o.tenant;
            events.push(() => this.#preempted(obj, demand, v, pods, tenant));
          }
          const defrag = o.defrag;
          if (defrag) {
            for (const m of defrag.moved) this.#d.notify(m.claim);
            for (const c of defrag.preempted) this.#d.notify(c);
            events.push(() => this.#d.defrag?.committed(defrag, obj, this.#d.recorder));
          }
          break;
        }
        case 'waiting': {
          this.#queue.park(r.demand, r.seq, o.permanent);
          const prev = this.#verdicts.get(key);
          const now = this.#now();
          const quota =
            o.quota?.reason === QUOTA_REASONS.exceeded
              ? { ...o.quota, message: `${o.quota.message}; ${aheadOf((waitingByTenant ??= this.#waitingPriorities(plan)), r.demand, o.quota.tenant)}` }
              : o.quota;
          const message = quota && !quota.reserved ? quota.message : o.message;
          const changed =
            !prev ||
            prev.uid !== r.demand.uid ||
            prev.generation !== r.demand.generation ||
            prev.code !== o.code ||
            prev.quota?.reason !== quota?.reason ||
            (prev.message !== message && now - prev.announcedAt >= this.#o.messageRefreshMs);
          this.#verdicts.set(key, {
            uid: r.demand.uid,
            generation: r.demand.generation,
            code: o.code,
            message: changed ? message : (prev?.message ?? message),
            ...(quota ? { quota: changed ? quota : (prev?.quota ?? quota) } : {}),
            announcedAt: changed ? now : (prev?.announcedAt ?? now),
          });
          if (changed || r.gaveBack > 0) this.#d.notify(who);
          break;
        }
      }
    }
    // Events and evictions after the writes, in the background: they never hold up the next cycle's decisions.
    void (async () => {
      for (const e of events) {
        try {
          await e();
        } catch (err) {
          this.#d.log.debug('Recording an admission Event failed', { err });
        }
      }
    })();
  }

  /** Priorities of the waiting requests of each tenant (verdicts and this cycle's waiting results). */
  #waitingPriorities(plan: CyclePlan): Map<string, number[]> {
    const out = new Map<string, number[]>();
    const seen = new Set<string>();
    const add = (tenant: string, key: string, priority: number) => {
      if (seen.has(key)) return;
      seen.add(key);
      out.set(tenant, [...(out.get(tenant) ?? []), priority]);
    };
    for (const r of plan.results) if (r.outcome.kind === 'waiting') add(r.outcome.quota?.tenant ?? '', r.demand.key, r.demand.priority);
    for (const [key, v] of this.#verdicts) {
      const d = this.#queue.get(key);
      if (d) add(v.quota?.tenant ?? '', key, d.priority);
    }
    return out;
  }

  async #releasedEvent(obj: KubeObject, count: number, cause: 'owner' | 'ownerGone' | 'nodeGone', nodes: string[] | undefined): Promise<void> {
    if (cause === 'owner') return void (await this.#d.recorder.event(obj, 'Normal', EVENT_REASONS.released, `Released ${count} slice(s) or GPU(s)`));
    if (cause === 'nodeGone') {
      return void (await this.#d.recorder.event(obj, 'Warning', EVENT_REASONS.nodeLost, `Node ${(nodes ?? []).join(', ')} is gone; its ${count} claim(s) were released and will be placed again`));
    }
  }

  /**
   * Events on both sides of a preemption — a reclaim when the victim is another tenant's borrowed claim — and
   * pods using the taken slice are evicted (with their grace period).
   */
  async #preempted(requester: KubeObject, d: Demand, v: PlannedVictim, pods: PodRef[], tenant: string | undefined): Promise<void> {
    const place = `${v.node}/gpu${v.gpuIndex}${v.start !== undefined ? `@${v.start}` : ''}`;
    const by = `${d.who.kind} ${d.who.namespace}/${d.who.name} (priority ${d.priority})`;
    const victim = `${v.claim.kind} ${v.claim.namespace}/${v.claim.name} slot ${v.claim.slot} (priority ${v.claim.priority})`;
    const what = `${v.profile ?? 'whole GPU'} on ${place}`;
    if (v.claim.tenant && tenant && v.claim.tenant !== tenant) {
      await this.#d.recorder.event(requester, 'Normal', EVENT_REASONS.reclaimed, `Reclaimed ${what} for tenant ${tenant}: tenant ${v.claim.tenant} had borrowed it for ${victim}`);
      await this.#d.recorder.event(
        claimantObject(v.claim),
        'Warning',
        EVENT_REASONS.reclaimed,
        `Slot ${v.claim.slot} (${what}) was borrowed by tenant ${v.claim.tenant} and is reclaimed by tenant ${tenant} for ${by}; it is placed again when quota allows`,
      );
    } else {
      await this.#d.recorder.event(requester, 'Normal', EVENT_REASONS.preempted, `Preempted ${victim} on ${place}`);
      await this.#d.recorder.event(claimantObject(v.claim), 'Warning', EVENT_REASONS.preempted, `Slot ${v.claim.slot} on ${place} was taken by ${by}`);
    }
    if (!v.busy) return;
    for (const pod of pods) {
      try {
        const evicted = await this.#d.client.evict(pod.name, pod.namespace);
        if (evicted) {
          await this.#d.recorder.event(
            { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod.name, namespace: pod.namespace, ...(pod.uid ? { uid: pod.uid } : {}) } },
            'Warning',
            EVENT_REASONS.evicted,
            `Evicted: its device on ${place} was preempted by ${by}`,
          );
        }
      } catch (err) {
        this.#d.log.warn('Evicting a pod of a preempted slice failed; the preemptor waits for it', { pod: `${pod.namespace}/${pod.name}`, err });
      }
    }
  }

  /**
   * Release demands for claims whose owner no longer exists (or is another object of the same name) and for
   * claims on nodes whose Kubernetes Node is gone. A missing owner is trusted only after `gcGraceMs`, so a
   * claim written by a previous leader for an object this cache has not shown yet is not taken away.
   */
  #collectOrphans(now: number): void {
    this.#gcDue = false;
    this.#gcAt = now;
    const suspects = new Map<string, number>();
    const orphans = new Map<string, Demand>();
    for (const e of this.#d.ledger.entries()) {
      const c = e.claim;
      const nodeGone = this.#d.nodes.get(e.node) === undefined;
      const exists = this.#d.owners(c.kind, c.namespace, c.name, c.uid);
      if (exists === undefined || (exists && !nodeGone)) continue;
      const id = `${c.kind}/${c.namespace}/${c.name}/${c.uid}${nodeGone ? `@${e.node}` : ''}`;
      const since = this.#suspects.get(id) ?? now;
      suspects.set(id, since);
      if (now - since < this.#o.gcGraceMs) continue;
      const key = `orphan:${id}`;
      orphans.set(key, {
        key,
        who: { kind: c.kind, namespace: c.namespace, name: c.name },
        uid: c.uid,
        generation: 0,
        priority: 0,
        created: '',
        want: { kind: 'release', uid: c.uid, cause: nodeGone ? 'nodeGone' : 'ownerGone', ...(nodeGone ? { nodes: [e.node] } : {}) },
      });
    }
    this.#suspects = suspects;
    for (const d of orphans.values()) this.#queue.submit(d);
    // Suspects not old enough yet: look again once they are.
    if (suspects.size > orphans.size) setTimeout(() => this.ownersChanged(), this.#o.gcGraceMs).unref?.();
  }
}

/** "N higher-priority requests wait ahead" of `d` in its tenant, from the waiting priorities per tenant. */
function aheadOf(waitingByTenant: Map<string, number[]>, d: Demand, tenant: string | undefined): string {
  const n = (waitingByTenant.get(tenant ?? '') ?? []).filter((p) => p > d.priority).length;
  return `${n} higher-priority request${n === 1 ? '' : 's'} wait${n === 1 ? 's' : ''} ahead`;
}

/**
 * The ledger entries a draft releases: entries of changed nodes whose allocation (claim and `allocatedAt`) has
 * fewer entries on the changed nodes afterwards, and that are not there afterwards at the same place. Entries, not
 * claims: one claim of a whole-GPU worker holds several GPUs and a preemption may take some of them, and a gang
 * given back may be placed again in the same cycle under the same claim names (metering counts each entry from
 * its `allocatedAt`). A claim a defragmentation moves keeps its allocation and its number of entries: not released.
 */
export function releasedClaims(draft: LedgerDraft): LedgerEntry[] {
  const changed = draft.changed();
  const id = (e: LedgerEntry) => `${e.claim.kind}/${e.claim.namespace}/${e.claim.name}/${e.claim.uid}/${e.claim.slot}/${e.claim.allocatedAt ?? ''}`;
  const at = (e: LedgerEntry) => `${id(e)}@${e.node}/${e.gpuIndex}/${e.start ?? ''}`;
  const count = (entries: LedgerEntry[]) => {
    const n = new Map<string, number>();
    for (const e of entries) n.set(id(e), (n.get(id(e)) ?? 0) + 1);
    return n;
  };
  const after = ledgerEntries(changed);
  const afterCount = count(after);
  const afterAt = new Set(after.map(at));
  const before = ledgerEntries(changed.map((n) => draft.original(n.metadata.name as string)).filter((n) => n !== undefined));
  const beforeCount = count(before);
  return before.filter((e) => !afterAt.has(at(e)) && (afterCount.get(id(e)) ?? 0) < (beforeCount.get(id(e)) ?? 0));
}

/** The claimant a claim names. */
export function claimantOf(claim: ClaimRef): ClaimantId {
  return { kind: claim.kind, namespace: claim.namespace, name: claim.name };
}
