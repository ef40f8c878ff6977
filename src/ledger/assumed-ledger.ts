/**
 * The ledger as this process knows it: the GpuNode informer cache, with this process's own writes in place of
 * cached versions the watch has not shown yet (kube-scheduler calls this "assume"). Planning on it never waits
 * for a watch round trip, and never plans a claim twice because the cache lags a write.
 *
 * A written (or freshly read) node is assumed until the cache shows a version at least as new — the same uid and
 * a generation at or above the assumed one — or shows the node gone or re-created; then the cache wins (its
 * status may be newer). Also keeps an index from claimant to ledger entries, refreshed per node when the node's
 * object changes.
 */
import type { GpuNode, GpuNodeSpec } from '../api/types.js';
import { deepEqual } from '../k8s/deep-equal.js';
import { withoutManagedFields } from '../k8s/informer.js';
import type { CachePort } from '../runtime/ports.js';
import { ledgerEntries, type ClaimantId, type LedgerEntry } from './claims.js';

interface IndexedNode {
  node: GpuNode;
  entries: LedgerEntry[];
}

/** Cache plus assumed writes, with a claimant → entries index. */
export class AssumedLedger {
  readonly #cache: CachePort<GpuNode>;
  readonly #assumed = new Map<string, GpuNode>();
  readonly #indexed = new Map<string, IndexedNode>();
  readonly #byClaimant = new Map<string, Set<string>>();
  /** The last spec this process sent for each node, to tell its own writes from others' in watch events. */
  readonly #sent = new Map<string, GpuNodeSpec | undefined>();

  /** Reads the GpuNode informer cache `cache`. */
  constructor(cache: CachePort<GpuNode>) {
    this.#cache = cache;
  }

  /** The newest known version of node `name`, or undefined when the cache does not have it. */
  get(name: string): GpuNode | undefined {
    const cached = this.#cache.get(name);
    const assumed = this.#assumed.get(name);
    if (!assumed) return cached;
    if (!cached || cached.metadata.uid !== assumed.metadata.uid || (cached.metadata.generation ?? 0) >= (assumed.metadata.generation ?? 0)) {
      this.#assumed.delete(name);
      return cached;
    }
    return assumed;
  }

  /** Every node the cache has, each in its newest known version. */
  list(): GpuNode[] {
    return this.#cache.list().map((n) => this.get(n.metadata.name as string) as GpuNode);
  }

  /** Records a version this process wrote (or read fresh), an object it owns; it is used until the cache catches up. */
  assume(node: GpuNode): void {
    const name = node.metadata.name;
    if (!name) return;
    const cached = this.#cache.get(name);
    // An older version than the cache's would only hide newer status.
    if (cached && cached.metadata.uid === node.metadata.uid && (cached.metadata.generation ?? 0) >= (node.metadata.generation ?? 0)) return;
    this.#assumed.set(name, withoutManagedFields(node));
  }

  /** Records the spec about to be written to node `name` (before the write is sent: its watch event may come first). */
  sending(name: string, spec: GpuNodeSpec | undefined): void {
    this.#sent.set(name, spec);
  }

  /** True when `node`'s spec is the one this process last sent for it: a change of the ledger that is its own. */
  ownSpec(node: GpuNode): boolean {
    const name = node.metadata.name;
    return name !== undefined && this.#sent.has(name) && deepEqual(node.spec ?? {}, this.#sent.get(name) ?? {});
  }

  /** Forgets every assumption (a replica that stops leading starts from the cache the next time). */
  reset(): void {
    this.#assumed.clear();
    this.#sent.clear();
  }

  /** Names of nodes with an assumption the cache has not caught up with. */
  pending(): string[] {
    return [...this.#assumed.keys()].filter((n) => this.get(n) === this.#assumed.get(n));
  }

  /** Ledger entries naming `who` (any uid), in node, GPU, start order. */
  entriesOf(who: ClaimantId): LedgerEntry[] {
    this.#refreshIndex();
    const nodes = this.#byClaimant.get(claimantKey(who));
    if (!nodes) return [];
    const out: LedgerEntry[] = [];
    for (const name of [...nodes].sort()) {
      for (const e of this.#indexed.get(name)?.entries ?? []) {
        if (e.claim.kind === who.kind && e.claim.namespace === who.namespace && e.claim.name === who.name) out.push(e);
      }
    }
    return out;
  }

  /** Every ledger entry, in node, GPU, start order. */
  entries(): LedgerEntry[] {
    this.#refreshIndex();
    return [...this.#indexed.keys()].sort().flatMap((n) => this.#indexed.get(n)?.entries ?? []);
  }

  // Re-indexes the nodes whose object changed since they were indexed (identity check: objects are immutable).
  #refreshIndex(): void {
    const seen = new Set<string>();
    for (const node of this.list()) {
      const name = node.metadata.name as string;
      seen.add(name);
      const prev = this.#indexed.get(name);
      if (prev?.node === node) continue;
      if (prev) this.#unindex(name, prev);
      const entries = ledgerEntries([node]);
      this.#indexed.set(name, { node, entries });
      for (const e of entries) {
        const k = claimantKey(e.claim);
        let set = this.#byClaimant.get(k);
        if (!set) this.#byClaimant.set(k, (set = new Set()));
        set.add(name);
      }
    }
    for (const [name, prev] of this.#indexed) if (!seen.has(name)) this.#unindex(name, prev);
  }

  #unindex(name: string, prev: IndexedNode): void {
    for (const e of prev.entries) {
      const k = claimantKey(e.claim);
      const set = this.#byClaimant.get(k);
      set?.delete(name);
      if (set?.size === 0) this.#byClaimant.delete(k);
    }
    this.#indexed.delete(name);
  }
}

function claimantKey(who: ClaimantId): string {
  return `${who.kind}/${who.namespace}/${who.name}`;
}
