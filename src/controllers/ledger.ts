/**
 * Edits of the allocation ledger (the claims in GpuNode specs) prepared in memory, then committed node by node
 * with `replace` carrying each node's resourceVersion: a 409 means somebody else changed the node, and the
 * caller re-plans on its next pass from what the ledger then says.
 */
import type { ClaimRef, GpuNode, TargetGpu } from '../api/types.js';
import { RESOURCES } from '../k8s/resources.js';
import type { GpuLayout, Victim } from '../placement/types.js';
import { claimKey } from './claims.js';
import type { ClientPort } from './ports.js';

/** A working copy of the GpuNodes a pass may modify, and which of them changed. */
export class LedgerDraft {
  readonly #nodes = new Map<string, GpuNode>();
  readonly #changed = new Set<string>();

  /** Copies `nodes`; the originals are never mutated. */
  constructor(nodes: GpuNode[]) {
    for (const n of nodes) {
      if (n.metadata.name) this.#nodes.set(n.metadata.name, structuredClone(n));
    }
  }

  /**
   * Writes the engine's target layouts. `claimFor` maps a holder key to the ledger claim: the claim of an
   * existing holder, or the new one for the request's members.
   */
  applyLayouts(layouts: GpuLayout[], claimFor: (key: string) => ClaimRef | undefined): void {
    for (const layout of layouts) {
      const node = this.#nodes.get(layout.node);
      if (!node) throw new Error(`placement names GpuNode ${layout.node}, which is not in the snapshot`);
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
      this.#setGpu(node, gpu);
    }
  }

  /** Removes the victims' claims from the GPUs the engine named (their slices stay carved, unclaimed). */
  releaseVictims(victims: Victim[]): void {
    for (const v of victims) this.release((claim, node, gpuIndex) => node === v.node && gpuIndex === v.gpuIndex && claimKey(claim) === v.holderKey);
  }

  /** Removes every claim matching `pred`; a released slice stays carved and free for reuse. Returns how many. */
  release(pred: (claim: ClaimRef, node: string, gpuIndex: number, start?: number) => boolean): number {
    let released = 0;
    for (const [name, node] of this.#nodes) {
      let touched = false;
      for (const gpu of node.spec?.gpus ?? []) {
        if (gpu.claim && pred(gpu.claim, name, gpu.index)) {
          delete gpu.claim;
          touched = true;
          released++;
        }
        for (const s of gpu.slices) {
          if (s.claim && pred(s.claim, name, gpu.index, s.start)) {
            delete s.claim;
            touched = true;
            released++;
          }
        }
      }
      if (touched) this.#changed.add(name);
    }
    return released;
  }

  /** Every node of the draft, with the edits so far. */
  nodes(): GpuNode[] {
    return [...this.#nodes.values()];
  }

  /** The modified nodes, in name order (the deterministic write order of a gang). */
  changed(): GpuNode[] {
    return [...this.#changed].sort().map((n) => this.#nodes.get(n) as GpuNode);
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

/** Wait before re-planning while the GpuNode cache lags this process's own ledger writes. */
export const CACHE_WAIT_MS = 200;

/**
 * Generations of GpuNodes this process wrote, until the informer cache shows them: a pass that planned from an
 * older cached ledger could otherwise place a claim a second time (controller-runtime calls these expectations).
 */
export class LedgerExpectations {
  readonly #expected = new Map<string, number>();

  /** Records a written node. */
  noteWritten(node: GpuNode): void {
    const name = node.metadata.name;
    const gen = node.metadata.generation;
    if (name && gen !== undefined) this.#expected.set(name, Math.max(gen, this.#expected.get(name) ?? 0));
  }

  /** True once every written node appears in `cached` at its written generation or later (deleted nodes count as seen). */
  satisfied(cached: (name: string) => GpuNode | undefined): boolean {
    for (const [name, gen] of this.#expected) {
      const node = cached(name);
      if (!node || (node.metadata.generation ?? 0) >= gen) this.#expected.delete(name);
    }
    return this.#expected.size === 0;
  }
}

/** Called after each successful ledger write with the node's new generation (reconfiguration latency clock). */
export type LedgerWriteHook = (node: GpuNode) => void;

/**
 * Commits the draft: replaces each changed GpuNode in name order. A conflict propagates (the caller re-plans);
 * nodes written before it stay written and the next pass sees their claims in the ledger.
 */
export async function commitLedger(client: ClientPort, draft: LedgerDraft, onWritten?: LedgerWriteHook): Promise<GpuNode[]> {
  const written: GpuNode[] = [];
  for (const node of draft.changed()) {
    try {
      const out = await client.replace<GpuNode>(RESOURCES.gpuNode, node);
      written.push(out);
      onWritten?.(out);
    } catch (err) {
      throw new Error(`writing target layout of GpuNode ${node.metadata.name}`, { cause: err });
    }
  }
  return written;
}

/** The cached GpuNodes with this pass's written versions in place of the cached ones (the cache lags writes). */
export function overlay(cached: GpuNode[], written: GpuNode[]): GpuNode[] {
  const w = new Map(written.map((n) => [n.metadata.name, n]));
  return cached.map((n) => w.get(n.metadata.name) ?? n);
}
