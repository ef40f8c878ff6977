/**
 * Edits of the allocation ledger (the claims in GpuNode specs) prepared in memory, then committed node by node
 * with `replace` carrying each node's resourceVersion: a 409 means somebody else changed the node, and the
 * caller re-plans on its next pass from what the ledger then says.
 */
import type { ClaimRef, GpuNode, TargetGpu } from '../api/types.js';
import { isConflict } from '../k8s/errors.js';
import { RESOURCES } from '../k8s/resources.js';
import type { GpuLayout, Victim } from '../placement/types.js';
import { claimKey, type ClaimantKind } from './claims.js';
import { deepEqual } from '../k8s/deep-equal.js';
import type { ClientPort, ReconcileRequest } from '../runtime/ports.js';
import { placementView } from './snapshot.js';

/**
 * A copy-on-write view of the GpuNodes a pass may modify, and which of them changed. The given nodes (the
 * informer's cached objects) are only read; a node is cloned the first time the pass edits it, so a pass that
 * changes nothing copies nothing.
 */
export class LedgerDraft {
  /** The nodes as given, never mutated. */
  readonly #base = new Map<string, GpuNode>();
  /** Private copies of the nodes this draft edited. */
  readonly #copies = new Map<string, GpuNode>();
  readonly #changed = new Set<string>();

  /** Reads `nodes`; the originals are never mutated. */
  constructor(nodes: GpuNode[]) {
    for (const n of nodes) {
      if (n.metadata.name) this.#base.set(n.metadata.name, n);
    }
  }

  /**
   * Writes the engine's target layouts. `claimFor` maps a holder key to the ledger claim: the claim of an
   * existing holder, or the new one for the request's members.
   */
  applyLayouts(layouts: GpuLayout[], claimFor: (key: string) => ClaimRef | undefined): void {
    for (const layout of layouts) {
      if (!this.#base.has(layout.node)) throw new Error(`placement names GpuNode ${layout.node}, which is not in the snapshot`);
      const resolve = (key: string): ClaimRef => {
        const claim = claimFor(key);
        if (!claim) throw new Error(`placement names holder ${key} on ${layout.node}/${layout.gpuIndex}, which has no claim`);
        return claim;
      };
      const gpu: TargetGpu = {
        index: layout.gpuIndex,
        mode: layout.mode,
        slices:
          layout.mode === 'mig'
            ? layout.slices.map((s) => ({ profile: s.profile, start: s.start, ...(s.holder ? { claim: resolve(s.holder.key) } : {}) }))
            : [],
        ...(layout.mode === 'whole' && layout.holder ? { claim: resolve(layout.holder.key) } : {}),
      };
      this.#setGpu(this.#writable(layout.node), gpu);
    }
  }

  /** Removes the victims' claims from the GPUs the engine named (their slices stay carved, unclaimed). */
  releaseVictims(victims: Victim[]): void {
    for (const v of victims) this.release((claim, node, gpuIndex) => node === v.node && gpuIndex === v.gpuIndex && claimKey(claim) === v.holderKey);
  }

  /** Removes every claim matching `pred`; a released slice stays carved and free for reuse. Returns how many. */
  release(pred: (claim: ClaimRef, node: string, gpuIndex: number, start?: number) => boolean): number {
    let released = 0;
    for (const name of this.#base.keys()) {
      // Find the matches on the current view first: only a node that loses a claim is copied.
      const hits: Array<{ gpu: number; slice?: number }> = [];
      (this.#current(name).spec?.gpus ?? []).forEach((gpu, gi) => {
        if (gpu.claim && pred(gpu.claim, name, gpu.index)) hits.push({ gpu: gi });
        gpu.slices.forEach((s, si) => {
          if (s.claim && pred(s.claim, name, gpu.index, s.start)) hits.push({ gpu: gi, slice: si });
        });
      });
      if (hits.length === 0) continue;
      const gpus = this.#writable(name).spec?.gpus ?? [];
      for (const h of hits) {
        const gpu = gpus[h.gpu] as TargetGpu;
        if (h.slice === undefined) delete gpu.claim;
        else delete (gpu.slices[h.slice] as TargetGpu['slices'][number]).claim;
      }
      released += hits.length;
      this.#changed.add(name);
    }
    return released;
  }

  /** Every node of the draft, with the edits so far. Read-only: edit through the draft's methods. */
  nodes(): GpuNode[] {
    return [...this.#base.keys()].map((n) => this.#current(n));
  }

  /**
   * The nodes whose spec the edits actually changed, in name order (the deterministic write order of a gang).
   * A node edited back to what it was is left out, so it is not written (a write that changes nothing could
   * only conflict).
   */
  changed(): GpuNode[] {
    return [...this.#changed]
      .sort()
      .filter((n) => !deepEqual(this.#copies.get(n)?.spec, this.#base.get(n)?.spec))
      .map((n) => this.#copies.get(n) as GpuNode);
  }

  /** The node as given, before any edit of this draft (the version its write must be based on). */
  original(name: string): GpuNode | undefined {
    return this.#base.get(name);
  }

  #current(name: string): GpuNode {
    return this.#copies.get(name) ?? (this.#base.get(name) as GpuNode);
  }

  #writable(name: string): GpuNode {
    let copy = this.#copies.get(name);
    if (!copy) {
      copy = structuredClone(this.#base.get(name) as GpuNode);
      this.#copies.set(name, copy);
    }
    return copy;
  }

  #setGpu(node: GpuNode, gpu: TargetGpu): void {
    const spec = (node.spec ??= {});
    const gpus = (spec.gpus ??= []);
    const i = gpus.findIndex((g) => g.index === gpu.index);
    if (i >= 0) gpus[i] = gpu;
    else gpus.push(gpu);
    gpus.sort((a, b) => a.index - b.index);
    this.#changed.add(node.metadata.name as string);
  }
}

/**
 * Safety-net wait before re-checking a pass held back because the GpuNode cache lags this process's own ledger
 * writes; normally the GpuNode event that shows the write wakes the waiting passes sooner (`LedgerExpectations.wake`).
 */
export const CACHE_WAIT_MS = 3_000;

/**
 * Generations of GpuNodes this process wrote, until the informer cache shows them: a pass that planned from an
 * older cached ledger could otherwise place a claim a second time (controller-runtime calls these expectations).
 * Passes held back meanwhile are remembered per claimant kind and woken when the cache catches up.
 */
export class LedgerExpectations {
  readonly #expected = new Map<string, number>();
  /** Ledger writes sent and not answered yet, per node: their outcome is unknown, so nobody plans meanwhile. */
  readonly #inflight = new Map<string, number>();
  readonly #waiting = new Map<ClaimantKind, Map<string, ReconcileRequest>>();
  readonly #settled: Array<() => void> = [];

  /** Registers `fn`, called whenever the last write in flight got its answer (its cache event may have come first). */
  onWritesSettled(fn: () => void): void {
    this.#settled.push(fn);
  }

  /** Records a ledger write about to be sent for node `name`. */
  noteWriting(name: string): void {
    this.#inflight.set(name, (this.#inflight.get(name) ?? 0) + 1);
  }

  /** Records the answer (success or failure) to a write announced with {@link noteWriting}; a success is noted first. */
  noteWriteEnded(name: string): void {
    const n = (this.#inflight.get(name) ?? 1) - 1;
    if (n > 0) this.#inflight.set(name, n);
    else this.#inflight.delete(name);
    if (this.#inflight.size === 0) for (const fn of this.#settled) fn();
  }

  /** Records a written node. */
  noteWritten(node: GpuNode): void {
    const name = node.metadata.name;
    const gen = node.metadata.generation;
    if (name && gen !== undefined) this.#expected.set(name, Math.max(gen, this.#expected.get(name) ?? 0));
  }

  /**
   * True once no write is in flight and every written node appears in `cached` at its written generation or
   * later (deleted nodes count as seen).
   */
  satisfied(cached: (name: string) => GpuNode | undefined): boolean {
    for (const [name, gen] of this.#expected) {
      const node = cached(name);
      if (!node || (node.metadata.generation ?? 0) >= gen) this.#expected.delete(name);
    }
    return this.#expected.size === 0 && this.#inflight.size === 0;
  }

  /** Remembers a pass of `kind` held back until the cache is current; {@link wake} returns it then. */
  wait(kind: ClaimantKind, req: ReconcileRequest): void {
    let keys = this.#waiting.get(kind);
    if (!keys) this.#waiting.set(kind, (keys = new Map()));
    keys.set(`${req.namespace ?? ''}/${req.name}`, req);
  }

  /** Whether a pass of `kind` for `req` is held back (it will be woken by {@link wake}). */
  isWaiting(kind: ClaimantKind, req: ReconcileRequest): boolean {
    return this.#waiting.get(kind)?.has(`${req.namespace ?? ''}/${req.name}`) ?? false;
  }

  /**
   * Up to `limit` of the held-back passes of `kind`, oldest first, once the cache shows every write (then
   * forgotten); none while it still lags. Call from the GpuNode informer's change handler, after the cache took
   * the change. Waking only as many as can run at once keeps the rest from all re-checking a gate the first
   * ledger write closes again; the next change or settled write wakes the next ones.
   */
  wake(kind: ClaimantKind, cached: (name: string) => GpuNode | undefined, limit = Infinity): ReconcileRequest[] {
    const keys = this.#waiting.get(kind);
    if (!keys || keys.size === 0 || !this.satisfied(cached)) return [];
    const out: ReconcileRequest[] = [];
    for (const [key, req] of keys) {
      if (out.length >= limit) break;
      keys.delete(key);
      out.push(req);
    }
    return out;
  }
}

/** Called after each successful ledger write with the node's new generation (reconfiguration latency clock). */
export type LedgerWriteHook = (node: GpuNode) => void;

/**
 * Commits the draft: replaces each changed GpuNode in name order. A conflict propagates (the caller re-plans);
 * nodes written before it stay written and the next pass sees their claims in the ledger.
 *
 * `inflight`, when given, knows of each write while it is in flight (see `LedgerExpectations.noteWriting`).
 * `latest` (the informer cache) lets a write skip a conflict that could not change the plan: when the cache
 * holds a newer version of the node whose generation, spec and placement view (see `placementView`) equal
 * those the draft was planned from (e.g. the agent reported a slice realised), the write carries that newer
 * resourceVersion. Any other change, and any change the cache has not seen, still conflicts.
 */
export async function commitLedger(
  client: ClientPort,
  draft: LedgerDraft,
  onWritten?: LedgerWriteHook,
  latest?: (name: string) => GpuNode | undefined,
  inflight?: LedgerExpectations,
): Promise<GpuNode[]> {
  const written: GpuNode[] = [];
  for (const node of draft.changed()) {
    const name = node.metadata.name as string;
    inflight?.noteWriting(name);
    try {
      const out = await replaceNode(client, node, draft.original(name), latest?.(name));
      written.push(out);
      onWritten?.(out);
      inflight?.noteWritten(out);
    } catch (err) {
      throw new Error(`writing target layout of GpuNode ${name}`, { cause: err });
    } finally {
      inflight?.noteWriteEnded(name);
    }
  }
  return written;
}

/**
 * One ledger write. On a conflict the node is read once: when only something placement does not read changed
 * (typically the agent's status report right after a spec change), the write is repeated on that version.
 */
async function replaceNode(client: ClientPort, edited: GpuNode, base: GpuNode | undefined, latest: GpuNode | undefined): Promise<GpuNode> {
  const first = rebase(edited, base, latest);
  try {
    return await client.replace<GpuNode>(RESOURCES.gpuNode, first);
  } catch (err) {
    if (!isConflict(err)) throw err;
    const current = await client.get<GpuNode>(RESOURCES.gpuNode, edited.metadata.name as string);
    const second = rebase(edited, base, current);
    if (second === edited || second.metadata.resourceVersion === first.metadata.resourceVersion) throw err;
    return client.replace<GpuNode>(RESOURCES.gpuNode, second);
  }
}

/** `edited` carrying the resourceVersion of `latest` when `latest` differs from `base` in nothing placement reads. */
function rebase(edited: GpuNode, base: GpuNode | undefined, latest: GpuNode | undefined): GpuNode {
  if (!base || !latest || latest.metadata.resourceVersion === edited.metadata.resourceVersion) return edited;
  const same =
    latest.metadata.uid === base.metadata.uid &&
    latest.metadata.generation === base.metadata.generation &&
    deepEqual(latest.spec, base.spec) &&
    placementView(latest) === placementView(base);
  return same ? { ...edited, metadata: { ...edited.metadata, resourceVersion: latest.metadata.resourceVersion } } : edited;
}

/** The cached GpuNodes with this pass's written versions in place of the cached ones (the cache lags writes). */
export function overlay(cached: GpuNode[], written: GpuNode[]): GpuNode[] {
  const w = new Map(written.map((n) => [n.metadata.name, n]));
  return cached.map((n) => w.get(n.metadata.name) ?? n);
}
