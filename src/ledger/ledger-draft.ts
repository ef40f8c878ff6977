/**
 * Edits of the allocation ledger (the claims in GpuNode specs) prepared in memory before they are written. Pure:
 * the draft copies a node the first time it edits it and never touches the objects it was given.
 */
import type { ClaimRef, GpuNode, TargetGpu } from '../api/types.js';
import { deepEqual } from '../k8s/deep-equal.js';
import type { GpuLayout, Victim } from '../placement/types.js';
import { claimKey } from './claims.js';

/** Resolves an engine holder key to the ledger claim it stands for. */
export type ClaimResolver = (key: string) => ClaimRef | undefined;

/**
 * A copy-on-write view of the GpuNodes a planner may modify, and which of them changed. The given nodes (cached
 * or assumed objects) are only read; a node is cloned the first time it is edited, so planning that changes
 * nothing copies nothing.
 */
export class LedgerDraft {
  /** The nodes as given, never mutated. */
  readonly #base = new Map<string, GpuNode>();
  /** Private copies of the nodes this draft edited. */
  readonly #copies = new Map<string, GpuNode>();
  readonly #changed = new Set<string>();
  /** Names of edited nodes in edit order (with repeats), so a caller can tell which nodes one step touched. */
  readonly #log: string[] = [];

  /** Reads `nodes`; the originals are never mutated. */
  constructor(nodes: Iterable<GpuNode>) {
    for (const n of nodes) {
      if (n.metadata.name) this.#base.set(n.metadata.name, n);
    }
  }

  /**
   * Writes the engine's target layouts. A holder key resolves to `claims` (new claims of the request being
   * placed), else to the claim of that key already on the same GPU, else to `fallback` (claims moved from
   * elsewhere, e.g. by defragmentation).
   */
  applyLayouts(layouts: GpuLayout[], claims: ClaimResolver, fallback?: ClaimResolver): void {
    for (const layout of layouts) {
      if (!this.#base.has(layout.node)) throw new Error(`placement names GpuNode ${layout.node}, which is not in the snapshot`);
      const before = (this.#current(layout.node).spec?.gpus ?? []).find((g) => g.index === layout.gpuIndex);
      const onGpu = new Map<string, ClaimRef>();
      if (before?.claim) onGpu.set(claimKey(before.claim), before.claim);
      for (const s of before?.slices ?? []) if (s.claim) onGpu.set(claimKey(s.claim), s.claim);
      const resolve = (key: string): ClaimRef => {
        const claim = claims(key) ?? onGpu.get(key) ?? fallback?.(key);
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
  releaseVictims(victims: Victim[]): number {
    let n = 0;
    for (const v of victims) n += this.release((claim, node, gpuIndex) => node === v.node && gpuIndex === v.gpuIndex && claimKey(claim) === v.holderKey);
    return n;
  }

  /** Removes every claim matching `pred`; a released slice stays carved and free for reuse. Returns how many. */
  release(pred: (claim: ClaimRef, node: string, gpuIndex: number, start?: number) => boolean, onNodes?: Iterable<string>): number {
    let released = 0;
    for (const name of onNodes ?? this.#base.keys()) {
      if (!this.#base.has(name)) continue;
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
      this.#touch(name);
    }
    return released;
  }

  /** Replaces the claim `from` on a slice (or whole GPU when `start` is undefined) with `to`; false when not found. */
  replaceClaim(node: string, gpuIndex: number, start: number | undefined, from: ClaimRef, to: ClaimRef): boolean {
    const cur = (this.#current(node).spec?.gpus ?? []).find((g) => g.index === gpuIndex);
    const same = (c: ClaimRef | undefined) => c !== undefined && c.uid === from.uid && c.slot === from.slot && c.name === from.name && c.namespace === from.namespace && c.kind === from.kind;
    if (!cur || (start === undefined ? !same(cur.claim) : !cur.slices.some((s) => s.start === start && same(s.claim)))) return false;
    const gpu = (this.#writable(node).spec?.gpus ?? []).find((g) => g.index === gpuIndex) as TargetGpu;
    if (start === undefined) gpu.claim = to;
    else (gpu.slices.find((s) => s.start === start) as TargetGpu['slices'][number]).claim = to;
    this.#touch(node);
    return true;
  }

  /** The node with this draft's edits, if the draft has it. Read-only. */
  node(name: string): GpuNode | undefined {
    return this.#base.has(name) ? this.#current(name) : undefined;
  }

  /** Every node of the draft, with the edits so far. Read-only: edit through the draft's methods. */
  nodes(): GpuNode[] {
    return [...this.#base.keys()].map((n) => this.#current(n));
  }

  /**
   * The nodes whose spec the edits actually changed, in name order. A node edited back to what it was is left
   * out, so it is not written (a write that changes nothing could only conflict).
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

  /** A position in the edit log; {@link editedSince} tells which nodes were edited after it. */
  editMark(): number {
    return this.#log.length;
  }

  /** Nodes edited after `mark`. */
  editedSince(mark: number): Set<string> {
    return new Set(this.#log.slice(mark));
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

  #touch(name: string): void {
    this.#changed.add(name);
    this.#log.push(name);
  }

  #setGpu(node: GpuNode, gpu: TargetGpu): void {
    const spec = (node.spec ??= {});
    const gpus = (spec.gpus ??= []);
    const i = gpus.findIndex((g) => g.index === gpu.index);
    if (i >= 0) gpus[i] = gpu;
    else gpus.push(gpu);
    gpus.sort((a, b) => a.index - b.index);
    this.#touch(node.metadata.name as string);
  }
}
