/**
 * The steps the GpuPartition and TrainingJob reconcilers share around their own logic: the finalizer, the
 * cache-currency check, placing (with defragmentation and the priority order), committing the ledger draft,
 * releasing every claim on deletion, writing status only when it changed, and flushing the pass's Events.
 */
import type { GpuNode, ObjectMeta } from '../../api/types.js';
import type { ResourceRef } from '../../k8s/resources.js';
import type { ClusterSnapshot, PlacementRequest, PlacementResult } from '../../placement/types.js';
import { claimNames, type ClaimantId, type ClaimantKind } from '../../ledger/claims.js';
import { deepEqual } from '../../k8s/deep-equal.js';
import { DEFRAGGABLE_CODES, type AppliedDefrag, type Defragmenter, type PriorityCheck } from '../../scheduler/defrag/defragmenter.js';
import { ignoreNotFound } from '../../k8s/ignore-not-found.js';
import { LedgerDraft, commitLedger, type LedgerExpectations } from '../../ledger/ledger.js';
import { describeBlocker, findBlocker, withLayouts } from '../../scheduler/queue-order.js';
import type { PendingRequest } from '../../scheduler/requests.js';
import { NO_METRICS, type CachePort, type ClientPort, type Clock, type ControllerMetricsPort, type KubeObject, type LogPort, type PlaceFn, type RecorderPort, type ReconcileRequest } from '../../runtime/ports.js';
import type { ReconfigTracker } from '../gpunode/reconfig-tracker.js';
import { buildSnapshot, type NodeObject } from '../../ledger/snapshot.js';

/** Reason (and failure code) of a request held back because a higher-priority request needs its capacity. */
export const WAITING_FOR_PRIORITY_REASON = 'WaitingForPriority';

/** A claimant object: a GpuPartition or a TrainingJob. */
export interface ClaimantObject {
  metadata: ObjectMeta;
  spec: { priority?: number };
  status?: object;
}

/** What a claimant reconciler (GpuPartition, TrainingJob) reads and writes, besides its own kind's caches. */
export interface ClaimantReconcilerDeps {
  client: ClientPort;
  gpuNodes: CachePort<GpuNode>;
  nodes: CachePort<NodeObject>;
  recorder: RecorderPort;
  place: PlaceFn;
  metrics?: ControllerMetricsPort;
  clock?: Clock;
  reconfig?: ReconfigTracker;
  /** Shared record of ledger writes the caches have not shown yet. */
  expectations?: LedgerExpectations;
  /** Defragmentation for requests that do not fit; absent: none (`--defrag=false`). */
  defrag?: Defragmenter;
}

/** What the scaffold needs: the reconciler's dependencies plus what tells the kinds apart. */
export interface ClaimantScaffoldDeps extends ClaimantReconcilerDeps {
  kind: ClaimantKind;
  /** REST coordinates of `kind`. */
  resource: ResourceRef;
  finalizer: string;
}

/** An Event of the pass, on `obj` when given, else on the reconciled object. */
export interface PassEvent {
  obj?: KubeObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Outcome of {@link ClaimantScaffold.place}: the placement and any defragmentation applied for it, or why not. */
export type PlaceOutcome =
  | { ok: true; placed: Extract<PlacementResult, { ok: true }>; defrag?: AppliedDefrag }
  | { ok: false; code: string; message: string };

/** How a status write went: nothing to write, written, or the object is gone (deleted meanwhile). */
export type StatusWrite = 'unchanged' | 'written' | 'gone';

/** Shared reconciler steps for one claimant kind. */
export class ClaimantScaffold<T extends ClaimantObject> {
  readonly #d: ClaimantScaffoldDeps;
  readonly #metrics: ControllerMetricsPort;
  /** The wall clock (the injected one in tests). */
  readonly now: Clock;

  /** Creates the scaffold over the reconciler's client and caches. */
  constructor(deps: ClaimantScaffoldDeps) {
    this.#d = deps;
    this.#metrics = deps.metrics ?? NO_METRICS;
    this.now = deps.clock ?? (() => new Date());
  }

  /**
   * Whether the GpuNode cache shows every ledger write this process made (else plan later, not from stale data).
   * When it does not and `req` is given, the pass is remembered and woken by the GpuNode change that shows the
   * writes (see `LedgerExpectations.wake`).
   */
  cacheCurrent(req?: ReconcileRequest): boolean {
    const exp = this.#d.expectations;
    if (!exp || exp.satisfied((n) => this.#d.gpuNodes.get(n))) return true;
    if (req) exp.wait(this.#d.kind, req);
    return false;
  }

  /** Whether `obj` carries the finalizer. */
  hasFinalizer(obj: T): boolean {
    return (obj.metadata.finalizers ?? []).includes(this.#d.finalizer);
  }

  /** `obj` with the finalizer: as it is when present, else as the API returns it after adding it. */
  async ensureFinalizer(obj: T): Promise<T> {
    if (this.hasFinalizer(obj)) return obj;
    return this.#d.client.mergePatch<T>(
      this.#d.resource,
      obj.metadata.name as string,
      { metadata: { finalizers: [...(obj.metadata.finalizers ?? []), this.#d.finalizer], resourceVersion: obj.metadata.resourceVersion } },
      obj.metadata.namespace,
    );
  }

  /** Drops the finalizer; an object already gone is fine. */
  async removeFinalizer(obj: T): Promise<void> {
    await ignoreNotFound(
      this.#d.client.mergePatch<T>(
        this.#d.resource,
        obj.metadata.name as string,
        { metadata: { finalizers: (obj.metadata.finalizers ?? []).filter((f) => f !== this.#d.finalizer), resourceVersion: obj.metadata.resourceVersion } },
        obj.metadata.namespace,
      ),
    );
  }

  /**
   * The priority-order check of `obj`'s placement, when ordering is on (`pending` given): the message naming the
   * higher-priority request it would starve, or undefined.
   */
  priorityCheck(obj: T, pending: (() => PendingRequest[]) | undefined): PriorityCheck | undefined {
    if (!pending) return undefined;
    const self = {
      kind: this.#d.kind,
      namespace: obj.metadata.namespace as string,
      name: obj.metadata.name as string,
      priority: obj.spec.priority ?? 0,
      created: obj.metadata.creationTimestamp ?? '',
    };
    return (before, after) => {
      const blocker = findBlocker(self, pending(), before, after, this.#d.place);
      return blocker ? describeBlocker(blocker) : undefined;
    };
  }

  /**
   * Places `request` on the draft; when it does not fit, defragments if a safe plan exists (the moves then are in
   * the draft). Nothing is placed when it would take a higher-priority request's room. The caller applies the
   * placement to the draft and announces the defragmentation once the draft is written.
   */
  place(draft: LedgerDraft, request: PlacementRequest, check: PriorityCheck | undefined): PlaceOutcome {
    const nodeOf = (n: string) => this.#d.nodes.get(n);
    const snapshot = buildSnapshot(draft.nodes(), nodeOf);
    const res = this.timedPlace(snapshot, request);
    if (res.ok) {
      const waiting = check?.(snapshot, withLayouts(snapshot, res.layouts));
      if (waiting) return { ok: false, code: WAITING_FOR_PRIORITY_REASON, message: waiting };
      return { ok: true, placed: res };
    }
    if (!this.#d.defrag || !DEFRAGGABLE_CODES.has(res.code)) return { ok: false, code: res.code, message: res.message };
    const d = this.#d.defrag.prepare(draft, request, nodeOf, check);
    if (!d.ok) return d.waiting ? { ok: false, code: WAITING_FOR_PRIORITY_REASON, message: d.waiting } : { ok: false, code: res.code, message: res.message };
    // The moves are in the draft now; the same engine call as the dry run places the request on it.
    const after = this.timedPlace(buildSnapshot(draft.nodes(), nodeOf), request);
    if (!after.ok) {
      this.#d.defrag.abandoned(d.applied);
      throw new Error(`${this.#d.kind} ${request.id}: placement after defragmentation failed: ${after.message}`);
    }
    return { ok: true, placed: after, defrag: d.applied };
  }

  /** One engine call, timed into the placement metric. */
  timedPlace(snapshot: ClusterSnapshot, request: PlacementRequest): PlacementResult {
    const t0 = performance.now();
    const res = this.#d.place(snapshot, request);
    this.#metrics.observePlacementSeconds((performance.now() - t0) / 1000, this.#d.kind);
    return res;
  }

  /**
   * Writes the draft when it changed and returns the nodes as written; then announces the defragmentation applied
   * for `obj` in this pass, or abandons it when the write fails.
   */
  async commit(obj: T, draft: LedgerDraft, now: Date, defrag: AppliedDefrag | undefined, log: LogPort): Promise<GpuNode[]> {
    if (draft.changed().length === 0) return [];
    let written: GpuNode[];
    try {
      written = await commitLedger(this.#d.client, draft, (n) => this.#noteWrite(n, now), (n) => this.#d.gpuNodes.get(n), this.#d.expectations);
    } catch (err) {
      if (defrag) this.#d.defrag?.abandoned(defrag);
      throw err;
    }
    log.info('Wrote GpuNode target layouts', { nodes: written.map((n) => n.metadata.name) });
    if (defrag) {
      await this.#d.defrag?.committed(defrag, obj, this.#d.recorder);
      log.info(`Defragmented to place ${this.#d.kind}`, { plan: defrag.summary });
    }
    return written;
  }

  /**
   * Releases every claim of `who` from the ledger as the cache shows it, and when there were any, records a
   * `Released` Event on `obj` (`describe` words it from the count) and logs `logMessage`; returns how many.
   */
  async releaseAll(obj: T, who: ClaimantId, now: Date, log: LogPort, describe: (released: number) => string, logMessage: string): Promise<number> {
    const draft = new LedgerDraft(this.#d.gpuNodes.list());
    const released = draft.release((c) => claimNames(c, who));
    if (released > 0) {
      await commitLedger(this.#d.client, draft, (n) => this.#noteWrite(n, now), (n) => this.#d.gpuNodes.get(n), this.#d.expectations);
      await this.#d.recorder.event(obj, 'Normal', 'Released', describe(released));
      log.info(logMessage, { released });
    }
    return released;
  }

  /** Writes `status` unless it equals `prev`; an object deleted meanwhile is reported as gone, not as a failure. */
  async writeStatus(obj: T, status: NonNullable<T['status']>, prev: object): Promise<StatusWrite> {
    if (deepEqual(status, prev)) return 'unchanged';
    const res = await ignoreNotFound(this.#d.client.replaceStatus<T>(this.#d.resource, { ...obj, status }));
    return res === undefined ? 'gone' : 'written';
  }

  /** Records the pass's Events in order. */
  async flushEvents(obj: T, events: PassEvent[]): Promise<void> {
    for (const e of events) await this.#d.recorder.event(e.obj ?? obj, e.type, e.reason, e.message);
  }

  #noteWrite(node: GpuNode, now: Date): void {
    this.#d.reconfig?.noteWrite(node, now);
    this.#d.expectations?.noteWritten(node);
  }
}
