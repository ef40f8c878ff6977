/**
 * Remembers when the operator wrote a GpuNode's target layout so the reconfiguration latency (spec write →
 * the agent's `status.observedGeneration` catching up with `LayoutRealised=True`) can be measured.
 */
import type { GpuNode } from '../../api/types.js';
import { isConditionTrue } from '../../api/conditions.js';

/** Pending layout writes per node, shared by the reconcilers that write the ledger and the GpuNode reconciler. */
export class ReconfigTracker {
  readonly #pending = new Map<string, { generation: number; writtenAt: number }>();

  /** Records a spec write; the earliest unobserved write time is kept so back-to-back writes measure the whole wait. */
  noteWrite(node: GpuNode, now: Date): void {
    const name = node.metadata.name;
    const generation = node.metadata.generation;
    if (!name || generation === undefined) return;
    const prev = this.#pending.get(name);
    this.#pending.set(name, { generation, writtenAt: prev ? prev.writtenAt : now.getTime() });
  }

  /** Seconds since the pending write once the node reports it realised (then forgets it); else undefined. */
  observe(node: GpuNode, now: Date): number | undefined {
    const name = node.metadata.name;
    if (!name) return undefined;
    const pending = this.#pending.get(name);
    if (!pending) return undefined;
    const observed = node.status?.observedGeneration ?? 0;
    if (observed < pending.generation || !isConditionTrue(node.status?.conditions, 'LayoutRealised')) return undefined;
    this.#pending.delete(name);
    return Math.max(0, (now.getTime() - pending.writtenAt) / 1000);
  }

  /** Drops the record of a deleted node. */
  forget(name: string): void {
    this.#pending.delete(name);
  }

  /** Number of writes not yet realised. */
  get size(): number {
    return this.#pending.size;
  }
}
