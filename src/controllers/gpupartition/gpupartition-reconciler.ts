/**
 * GpuPartition reconciler: places `count` slices through the placement engine, records them as claims in the
 * GpuNode ledger, reports allocations and readiness, and releases the slices once no pod uses the partition.
 * When the slices do not fit, it defragments (moves idle slices of other partitions) if a safe plan exists;
 * waiting partitions are served in priority order (see `pending-queue.ts`).
 */
import { PARTITION_FINALIZER, migResourceName } from '../../api/constants.js';
import type { ClaimRef, GpuNode, GpuPartition, GpuPartitionPhase, GpuPartitionStatus, TrainingJob } from '../../api/types.js';
import { RESOURCES } from '../../k8s/resources.js';
import { findProfile, listModels, modelForProduct } from '../../placement/catalog.js';
import type { PlacementResult } from '../../placement/types.js';
import { ClaimantScaffold, WAITING_FOR_PRIORITY_REASON, type ClaimantReconcilerDeps, type PassEvent } from '../common/claimant-scaffold.js';
import { claimKey, claimNames, claimsOf, holderKey, ledgerEntries, type ClaimantId } from '../../ledger/claims.js';
import { claimantObject } from '../../ledger/claimant-ref.js';
import { setCondition, type DesiredCondition } from '../../api/conditions.js';
import { deepEqual } from '../../k8s/deep-equal.js';
import type { AppliedDefrag, PriorityCheck } from '../../scheduler/defrag/defragmenter.js';
import { CACHE_WAIT_MS, LedgerDraft, overlay } from '../../ledger/ledger.js';
import { describeAllocations, describeWaiting, partitionAllocations } from './partition-status.js';
import { PRIORITY_RECHECK_MS } from '../../scheduler/queue-order.js';
import { partitionRequest, pendingRequests } from '../../scheduler/requests.js';
import { partitionPods, type PodObject } from '../../api/pods.js';
import type { CachePort, LogPort, ReconcileRequest, ReconcileResult } from '../../runtime/ports.js';
import { quantityToMiB } from '../../api/quantity.js';

/** Condition types of a GpuPartition. */
export const PARTITION_CONDITIONS = { allocated: 'Allocated', ready: 'Ready' } as const;

/** Reason of a partition held back because a higher-priority request needs the capacity it would take. */
export const WAITING_FOR_PRIORITY = WAITING_FOR_PRIORITY_REASON;

/** How long a partition waiting for capacity waits before a safety re-check (GpuNode changes requeue it sooner). */
export const CAPACITY_RECHECK_MS = 60_000;

/** What the GpuPartition reconciler reads and writes. */
export interface PartitionReconcilerDeps extends ClaimantReconcilerDeps {
  partitions: CachePort<GpuPartition>;
  pods: CachePort<PodObject>;
  /**
   * Serve waiting requests in priority order (partitions from `partitions`, jobs from here); absent: every
   * partition places as soon as it fits.
   */
  priorityQueue?: { jobs: CachePort<TrainingJob> };
}

/** Reconciles GpuPartition objects against the GpuNode ledger. */
export class GpuPartitionReconciler {
  /** Controller name used in metrics and logs. */
  readonly name = 'gpupartition';
  readonly #d: PartitionReconcilerDeps;
  readonly #s: ClaimantScaffold<GpuPartition>;

  /** Creates the reconciler over its caches and client. */
  constructor(deps: PartitionReconcilerDeps) {
    this.#d = deps;
    this.#s = new ClaimantScaffold({ ...deps, kind: 'GpuPartition', resource: RESOURCES.gpuPartition, finalizer: PARTITION_FINALIZER });
  }

  /** One level-triggered pass for the partition `req`. */
  async reconcile(req: ReconcileRequest, log: LogPort): Promise<ReconcileResult | void> {
    if (!req.namespace) return;
    let p = this.#d.partitions.get(req.name, req.namespace);
    if (!p) return;
    const who: ClaimantId = { kind: 'GpuPartition', namespace: req.namespace, name: req.name };
    const events: PassEvent[] = [];
    const pass: { defrag?: AppliedDefrag } = {};

    if (p.metadata.deletionTimestamp) return this.#finalize(p, who, req, log);

    if (!this.#s.hasFinalizer(p)) {
      p = await this.#s.ensureFinalizer(p);
      log.debug('Added finalizer to GpuPartition');
    }

    const now = this.#s.now();
    const count = p.spec.count ?? 1;
    const invalid = this.#validate(p);
    let allocated: DesiredCondition | undefined;
    let failed = false;
    let result: ReconcileResult | void = undefined;
    let written: GpuNode[] = [];

    if (invalid) {
      allocated = { type: PARTITION_CONDITIONS.allocated, status: 'False', reason: invalid.reason, message: invalid.message };
      failed = true;
    } else {
      const gpuNodes = this.#d.gpuNodes.list();
      const { current } = claimsOf(gpuNodes, who, p.metadata.uid);
      // Claims for slots beyond `count`, or of another profile than the spec names, are given back.
      // A slot held twice (never expected, but cheap to heal) keeps its first entry.
      const keep = current
        .filter((e) => e.claim.slot < count && (!p.spec.profile || e.profile === p.spec.profile))
        .filter((e, i, all) => all.findIndex((x) => x.claim.slot === e.claim.slot) === i);
      const kept = new Set(keep.map((e) => `${e.node}/${e.gpuIndex}/${e.start}`));
      const missing = [...Array(count).keys()].filter((s) => !keep.some((e) => e.claim.slot === s));
      const draft = new LedgerDraft(gpuNodes);
      // Stale claims (an older object of the same name) and surplus ones go back in the same write.
      draft.release((c, node, gpu, start) => claimNames(c, who) && (c.uid !== p.metadata.uid || !kept.has(`${node}/${gpu}/${start}`)));

      // Only a pass that places or releases needs a cache showing this process's own writes: planned from an
      // older ledger it could place a claim twice. Passes that only report status go on.
      if ((missing.length > 0 || draft.changed().length > 0) && !this.#s.cacheCurrent(req)) return { requeueAfterMs: CACHE_WAIT_MS };

      if (missing.length > 0) {
        const placed = this.#placeMissing(p, missing, draft, events, pass);
        if (!placed.ok) {
          const adm = partitionPods(this.#d.pods.list(req.namespace), req.name).admitted;
          // All-or-nothing: without pods on it, a partial allocation is given back rather than held.
          if (keep.length > 0 && adm.length === 0) draft.release((c) => claimNames(c, who));
          allocated = { type: PARTITION_CONDITIONS.allocated, status: 'False', reason: placed.code, message: placed.message };
          failed = placed.code === 'UnknownProfile' || placed.code === 'InvalidRequest';
          if (!failed) result = { requeueAfterMs: placed.code === WAITING_FOR_PRIORITY ? PRIORITY_RECHECK_MS : CAPACITY_RECHECK_MS };
        }
      }
      written = await this.#s.commit(p, draft, now, pass.defrag, log);
    }

    const status = this.#status(p, who, overlay(this.#d.gpuNodes.list(), written), allocated, failed, now);
    const eventsForStatus = this.#statusEvents(p, status);
    // Deleted meanwhile: nothing left to report on.
    if ((await this.#s.writeStatus(p, status, p.status ?? {})) === 'gone') return;
    await this.#s.flushEvents(p, [...events, ...eventsForStatus]);
    return result;
  }

  /** Validation the CRD schema cannot do: a profile that no candidate model knows, an unparsable memory size. */
  #validate(p: GpuPartition): { reason: string; message: string } | undefined {
    if (p.spec.memory !== undefined && quantityToMiB(p.spec.memory) === undefined) {
      return { reason: 'InvalidRequest', message: `memory ${JSON.stringify(p.spec.memory)} is not a quantity` };
    }
    if (!p.spec.profile) return undefined;
    const models = this.#candidateModels(p);
    if (models.length === 0) return undefined;
    if (models.some((m) => findProfile(m, p.spec.profile as string))) return undefined;
    return {
      reason: 'UnknownProfile',
      message: `profile ${p.spec.profile} does not exist on ${models.map((m) => m.product).join(', ')}; valid profiles: ${[
        ...new Set(models.flatMap((m) => m.profiles.map((x) => x.name))),
      ].join(', ')}`,
    };
  }

  /** Models the partition may land on: its gpuProducts, else the MIG-capable models present (else all known). */
  #candidateModels(p: GpuPartition) {
    if (p.spec.gpuProducts && p.spec.gpuProducts.length > 0) {
      return p.spec.gpuProducts.map((x) => modelForProduct(x)).filter((m) => m !== undefined);
    }
    const present = new Map<string, ReturnType<typeof modelForProduct>>();
    for (const gn of this.#d.gpuNodes.list()) {
      const product = gn.status?.inventory?.product;
      const m = product ? modelForProduct(product) : undefined;
      if (m?.migCapable) present.set(m.product, m);
    }
    const models = [...present.values()].filter((m) => m !== undefined);
    return models.length > 0 ? models : listModels().filter((m) => m.migCapable);
  }

  /**
   * Asks the engine for the missing slots; when they do not fit, defragments if a safe plan exists. Applies the
   * placement (and any preemption or moves) to the draft, unless it would take a higher-priority request's room.
   */
  #placeMissing(
    p: GpuPartition,
    missing: number[],
    draft: LedgerDraft,
    events: PassEvent[],
    pass: { defrag?: AppliedDefrag },
  ): { ok: true } | { ok: false; code: string; message: string } {
    const placed = this.#s.place(draft, partitionRequest(p, missing), this.#priorityCheck(p, draft));
    if (!placed.ok) return placed;
    pass.defrag = placed.defrag;
    this.#applyPlacement(p, missing, draft, placed.placed, events);
    return { ok: true };
  }

  /** The priority-order check of this partition's placement on `draft`, when ordering is on. */
  #priorityCheck(p: GpuPartition, draft: LedgerDraft): PriorityCheck | undefined {
    const q = this.#d.priorityQueue;
    return this.#s.priorityCheck(p, q ? () => pendingRequests(this.#d.partitions.list(), q.jobs.list(), draft.nodes()) : undefined);
  }

  /** Writes a successful placement (releasing its victims) into the draft and notes the Events. */
  #applyPlacement(p: GpuPartition, missing: number[], draft: LedgerDraft, res: Extract<PlacementResult, { ok: true }>, events: PassEvent[]): void {
    const ns = p.metadata.namespace as string;
    const name = p.metadata.name as string;
    const priority = p.spec.priority ?? 0;
    const preemptible = p.spec.preemptible ?? false;
    const mine = new Map<string, ClaimRef>(
      missing.map((slot) => [
        holderKey('GpuPartition', ns, name, slot),
        { kind: 'GpuPartition', namespace: ns, name, uid: p.metadata.uid ?? '', slot, priority, preemptible },
      ]),
    );
    const existing = new Map(ledgerEntries(draft.nodes()).map((e) => [claimKey(e.claim), e.claim]));
    const victimClaims = res.victims.map((v) => existing.get(v.holderKey)).filter((c) => c !== undefined);
    draft.releaseVictims(res.victims);
    draft.applyLayouts(res.layouts, (key) => mine.get(key) ?? existing.get(key));
    const where = describeAllocations(res.assignments.map((a) => ({ node: a.node, gpuIndex: a.gpuIndex, ...(a.start !== undefined ? { start: a.start } : {}) })));
    const profile = res.assignments[0]?.profile ?? p.spec.profile ?? '';
    events.push({ obj: p, type: 'Normal', reason: 'Placed', message: `Placed ${missing.length} × ${profile} on ${where}` });
    for (const v of victimClaims) {
      events.push({ obj: p, type: 'Normal', reason: 'Preempted', message: `Preempted ${v.kind} ${v.namespace}/${v.name} slot ${v.slot} (priority ${v.priority})` });
      events.push({ obj: claimantObject(v), type: 'Warning', reason: 'Preempted', message: `Slot ${v.slot} preempted by GpuPartition ${ns}/${name} (priority ${priority})` });
    }
  }

  /** The status this pass wants, from the ledger as it is now (including this pass's writes). */
  #status(p: GpuPartition, who: ClaimantId, gpuNodes: GpuNode[], allocated: DesiredCondition | undefined, failed: boolean, now: Date): GpuPartitionStatus {
    const count = p.spec.count ?? 1;
    const gen = p.metadata.generation;
    const { current } = claimsOf(gpuNodes, who, p.metadata.uid);
    const byName = new Map(gpuNodes.map((n) => [n.metadata.name, n]));
    const allocs = partitionAllocations(current, (n) => byName.get(n));
    const profile = p.spec.profile ?? allocs[0]?.profile ?? p.status?.profile;
    const complete = allocs.length >= count;
    const realised = complete && allocs.every((a) => a.realised);
    let conditions = p.status?.conditions;
    const alloc: DesiredCondition =
      allocated ??
      (complete
        ? { type: PARTITION_CONDITIONS.allocated, status: 'True', reason: 'Placed', message: `${count} × ${profile} on ${describeAllocations(allocs)}` }
        : { type: PARTITION_CONDITIONS.allocated, status: 'False', reason: 'Placing', message: `${allocs.length} of ${count} slices placed` });
    conditions = setCondition(conditions, alloc, gen, now);
    let ready: DesiredCondition;
    if (realised) {
      ready = { type: PARTITION_CONDITIONS.ready, status: 'True', reason: 'Realised', message: `all ${count} slices realised by their nodes` };
    } else if (complete) {
      const waiting = [...new Set(allocs.filter((a) => !a.realised).map((a) => a.node))];
      ready = { type: PARTITION_CONDITIONS.ready, status: 'False', reason: 'WaitingForNode', message: describeWaiting(waiting, (n) => byName.get(n)) };
    } else {
      ready = { type: PARTITION_CONDITIONS.ready, status: 'False', reason: alloc.status === 'False' ? alloc.reason : 'NotAllocated', message: alloc.message };
    }
    conditions = setCondition(conditions, ready, gen, now);
    const phase: GpuPartitionPhase = failed ? 'Failed' : realised ? 'Ready' : complete ? 'Allocating' : 'Pending';
    return {
      ...(gen !== undefined ? { observedGeneration: gen } : {}),
      phase,
      ...(profile ? { profile, resourceName: migResourceName(profile) } : {}),
      allocations: allocs,
      conditions,
    };
  }

  /** Events for user-visible transitions: unsatisfiable, ready. */
  #statusEvents(p: GpuPartition, next: GpuPartitionStatus): PassEvent[] {
    const out: PassEvent[] = [];
    const before = new Map((p.status?.conditions ?? []).map((c) => [c.type, c]));
    for (const c of next.conditions ?? []) {
      const prev = before.get(c.type);
      if (prev && prev.status === c.status && prev.reason === c.reason) continue;
      if (c.type === PARTITION_CONDITIONS.allocated && c.status === 'False' && c.reason === WAITING_FOR_PRIORITY) {
        out.push({ obj: p, type: 'Normal', reason: WAITING_FOR_PRIORITY, message: c.message });
      } else if (c.type === PARTITION_CONDITIONS.allocated && c.status === 'False' && c.reason !== 'Placing') {
        out.push({ obj: p, type: 'Warning', reason: c.reason === 'UnknownProfile' ? 'UnknownProfile' : 'Unsatisfiable', message: c.message });
      }
      if (c.type === PARTITION_CONDITIONS.ready && c.status === 'True') out.push({ obj: p, type: 'Normal', reason: 'Ready', message: c.message });
    }
    return out;
  }

  /** Deletion: wait while admitted pods use the partition, then release every claim and drop the finalizer. */
  async #finalize(p: GpuPartition, who: ClaimantId, req: ReconcileRequest, log: LogPort): Promise<ReconcileResult | void> {
    if (!this.#s.hasFinalizer(p)) return;
    const ns = p.metadata.namespace as string;
    const name = p.metadata.name as string;
    const now = this.#s.now();
    const { admitted } = partitionPods(this.#d.pods.list(ns), name);
    if (admitted.length > 0) {
      const names = admitted.map((x) => x.metadata.name).sort();
      const message = `deletion waits for ${names.length} pod(s) using the partition: ${names.join(', ')}`;
      const conditions = setCondition(p.status?.conditions, { type: PARTITION_CONDITIONS.ready, status: 'False', reason: 'DeletionBlocked', message }, p.metadata.generation, now);
      const status: GpuPartitionStatus = { ...(p.status ?? {}), phase: 'Terminating', conditions };
      if (!deepEqual(status, p.status ?? {})) {
        await this.#d.client.replaceStatus<GpuPartition>(RESOURCES.gpuPartition, { ...p, status });
        await this.#d.recorder.event(p, 'Warning', 'DeletionBlocked', message);
      }
      // Pod changes map back to this partition, so no timed requeue is needed.
      return;
    }
    // A claim written by this process but not yet cached would otherwise be missed and leak.
    if (!this.#s.cacheCurrent(req)) return { requeueAfterMs: CACHE_WAIT_MS };
    await this.#s.releaseAll(p, who, now, log, (n) => `Released ${n} slice(s)`, 'Released GpuPartition slices');
    await this.#s.removeFinalizer(p);
    log.info('Removed finalizer from GpuPartition');
  }
}
