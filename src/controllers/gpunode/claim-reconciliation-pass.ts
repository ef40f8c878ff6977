/**
 * The effectful side of claim reconciliation for the GpuNode reconciler: finds who each reported pod belongs
 * to (the pod cache, else one GET per pod, remembered while the pod stays on the device), writes the swapped
 * claims with one generation-guarded ledger write (`writeLedgerNode`), and tells the claimants and the node's
 * watchers through Events. The decisions are `reconcileClaims`'s.
 */
import type { GpuNode, PodRef } from '../../api/types.js';
import { isConflict } from '../../k8s/errors.js';
import { EVENT_REASONS } from '../../api/conditions.js';
import { writeLedgerNode } from '../../ledger/ledger-write.js';
import { RESOURCES } from '../../k8s/resources.js';
import { claimantObject } from '../../ledger/claimant-ref.js';
import { describeClaim, describePlace, podClaimant, podKey, reconcileClaims, reportedPods, type ClaimReconciliation } from './claim-reconciliation.js';
import type { ClaimantId } from '../../ledger/claims.js';
import type { PodObject } from '../../api/pods.js';
import type { CachePort, ClientPort, LogPort, RecorderPort } from '../../runtime/ports.js';

/** What a pass reads and writes. */
export interface ClaimPassDeps {
  client: ClientPort;
  recorder: RecorderPort;
  /** Labelled pods the operator caches; pods missing there are read from the API server. */
  pods?: CachePort<PodObject>;
  /** Called with the node as written (the assumed ledger takes it). */
  onWritten?(node: GpuNode): void;
  /** Called with the spec about to be written (so the write's own watch event is recognised). */
  sending?(name: string, spec: GpuNode['spec']): void;
  /** True while this replica may write the ledger (leader with a valid Lease). */
  fence?(): boolean;
  /** Namespaces whose claims and pods this operator manages (all when absent). */
  owns?: (namespace: string) => boolean;
}

/** Result of a pass: `conflict` when the node changed under the write (the next pass re-plans). */
export type ClaimPassOutcome = 'unchanged' | 'swapped' | 'conflict';

interface KnownOwner {
  uid?: string;
  owner: ClaimantId | null;
}

/** Runs claim reconciliation for one GpuNode at a time; keeps a small memo of pod owners per node. */
export class ClaimReconciliationPass {
  readonly #d: ClaimPassDeps;
  /** node → pod key → owner, for pods last seen on that node's devices. */
  readonly #owners = new Map<string, Map<string, KnownOwner>>();

  /** Creates the pass runner. */
  constructor(deps: ClaimPassDeps) {
    this.#d = deps;
  }

  /** Forgets what was remembered about a deleted node. */
  forget(node: string): void {
    this.#owners.delete(node);
  }

  /** One pass over `gn` (as cached): swap what can be swapped, report what cannot. */
  async run(gn: GpuNode, log: LogPort): Promise<ClaimPassOutcome> {
    const node = gn.metadata.name ?? '';
    const owns = this.#d.owns ?? (() => true);
    const pods = reportedPods(gn).filter((p) => owns(p.namespace));
    const owners = await this.#resolve(node, pods);
    if (pods.length === 0) return 'unchanged';
    const plan = reconcileClaims(gn, (p) => owners.get(podKey(p)), owns);
    if (plan.updated) {
      if (this.#d.fence && !this.#d.fence()) return 'conflict';
      try {
        this.#d.sending?.(node, plan.updated.spec);
        const out = await writeLedgerNode(this.#d.client, plan.updated, gn);
        this.#d.onWritten?.(out);
      } catch (err) {
        if (isConflict(err)) {
          log.debug('GpuNode changed while swapping claims; will re-plan', { node });
          return 'conflict';
        }
        throw new Error(`writing swapped claims of GpuNode ${node}`, { cause: err });
      }
      log.info('Swapped claims to match the devices pods use', { node, swaps: plan.swaps.length, restored: plan.swaps.filter((x) => x.restored).length });
    }
    await this.#report(gn, plan);
    return plan.updated ? 'swapped' : 'unchanged';
  }

  async #report(gn: GpuNode, plan: ClaimReconciliation): Promise<void> {
    const rec = this.#d.recorder;
    for (const s of plan.swaps) {
      const used = `${describePlace(s.node, s.used)} (${s.used.uuid})`;
      const freed = `${describePlace(s.node, s.freed)} (${s.freed.uuid})`;
      const pod = podKey(s.used.pod);
      const was = s.freed.displaced ? `recorded for ${describeClaim(s.freed.displaced)}` : 'recorded for nobody';
      await rec.event(
        claimantObject(s.used.claim),
        'Normal',
        EVENT_REASONS.claimSwapped,
        `Pod ${pod} was given ${s.profile} ${used}, ${was}; slot ${s.used.claim.slot} moved there from ${freed}`,
      );
      if (s.freed.displaced) {
        await rec.event(
          claimantObject(s.freed.displaced),
          'Normal',
          EVENT_REASONS.claimSwapped,
          `Slot ${s.freed.displaced.slot} moved from ${used} (used by pod ${pod} of ${describeClaim(s.used.claim)}) to ${freed}`,
        );
      }
      if (!s.restored) continue;
      // The target had dropped the device the pod uses: it was put back, and what was planned over it moves.
      const over = s.restored.displaced.map((c) => `${describeClaim(c)} slot ${c.slot}`);
      await rec.event(gn, 'Warning', EVENT_REASONS.sliceRestored, `${s.profile} ${used} is in use by pod ${pod} but the target had dropped it: put back${over.length ? `, displacing ${over.join(', ')}` : ''}`);
      for (const c of s.restored.displaced) {
        await rec.event(claimantObject(c), 'Warning', EVENT_REASONS.claimDisplaced, `Slot ${c.slot} was planned over ${s.profile} ${used}, which pod ${pod} uses; it is placed again`);
      }
    }
    for (const m of plan.misuses) {
      const where = `${m.profile} ${describePlace(m.node, m.device)} (${m.device.uuid})`;
      const held = m.holder ? `held by ${describeClaim(m.holder)}` : 'held by nobody';
      const why =
        m.cause === 'NoClaimant'
          ? 'the pod belongs to no GpuPartition or TrainingJob'
          : `${describeClaim(m.claimant as ClaimantId)} holds no idle ${m.profile} on this node to swap with`;
      await rec.event(gn, 'Warning', EVENT_REASONS.sliceMisused, `Pod ${podKey(m.pod)} uses ${where}, ${held}: ${why}`);
    }
  }

  /** Owners of the reported pods; unknown pods (gone, or on another node now) and pods being deleted are left out. */
  async #resolve(node: string, pods: PodRef[]): Promise<Map<string, ClaimantId | null>> {
    const before = this.#owners.get(node) ?? new Map<string, KnownOwner>();
    const now = new Map<string, KnownOwner>();
    for (const ref of pods) {
      const key = podKey(ref);
      const cached = this.#d.pods?.get(ref.name, ref.namespace);
      const known = before.get(key);
      let found: KnownOwner | undefined;
      // A pod being deleted (evicted from a preempted slice, say) is about to free its device: nothing to trade.
      if (cached?.metadata.deletionTimestamp) continue;
      if (cached && matches(cached, ref, node)) found = { ...(cached.metadata.uid ? { uid: cached.metadata.uid } : {}), owner: podClaimant(cached) };
      else if (known && (!ref.uid || known.uid === ref.uid)) found = known;
      else {
        const pod = await this.#d.client.get<PodObject>(RESOURCES.pod, ref.name, ref.namespace);
        if (pod && matches(pod, ref, node)) found = { ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}), owner: podClaimant(pod) };
      }
      if (found) now.set(key, found);
    }
    if (now.size > 0) this.#owners.set(node, now);
    else this.#owners.delete(node);
    return new Map([...now].map(([k, v]) => [k, v.owner]));
  }
}

// A pod of the same name elsewhere, or with another uid, is a different pod than the one reported.
function matches(pod: PodObject, ref: PodRef, node: string): boolean {
  if (ref.uid && pod.metadata.uid && pod.metadata.uid !== ref.uid) return false;
  return !pod.spec.nodeName || pod.spec.nodeName === node;
}
