/**
 * Nominal-quota violations: a tenant asking within its nominal quota must not wait more than one cycle while the
 * capacity it is owed exists. Pure.
 *
 * A waiting request is *owed* at the start of a cycle when (1) its tenant's quota admits it within the nominal
 * quota (usage + request ≤ nominal, per-profile caps hold) and (2) it fits on the cluster as it is, where the
 * claims its cohort peers hold on borrowed quota while above their own nominal quota are counted as free
 * (reclaimable, busy or not). A GPU frozen by a running eviction counts as taken: the capacity is on its way.
 * Fit is decided by the real placement engine on the real snapshot, so a request that fits nowhere because of
 * its shape (fragmentation) is not owed anything. A violation is a request that was owed at the start of two
 * consecutive cycles and still waited after the second; each such episode counts once.
 */
import type { ClaimRef, GpuNode } from '../../src/api/types.js';
import { claimKey, ledgerEntries } from '../../src/ledger/claims.js';
import { buildSnapshot, type NodeObject } from '../../src/ledger/snapshot.js';
import { placeOn } from '../../src/placement/engine.js';
import { PlacementState } from '../../src/placement/state.js';
import type { ClusterSnapshot, PlacementRequest } from '../../src/placement/types.js';
import type { QuotaBook } from '../../src/tenancy/quota-book.js';

/** Fit checks against free plus reclaimable capacity, for one ledger state. */
export class OwedCapacity {
  readonly #nodes: GpuNode[];
  readonly #nodeOf: (name: string) => NodeObject | undefined;
  readonly #quota: QuotaBook;
  readonly #states = new Map<string, PlacementState>();
  #snapshot: ClusterSnapshot | undefined;
  #claims: Map<string, ClaimRef> | undefined;

  /** Checks against `nodes` (the ledger at the start of a cycle) and the quota book built from it. */
  constructor(nodes: GpuNode[], nodeOf: (name: string) => NodeObject | undefined, quota: QuotaBook) {
    this.#nodes = nodes;
    this.#nodeOf = nodeOf;
    this.#quota = quota;
  }

  /** Whether `request` of `tenant` fits on free capacity plus what its cohort peers borrowed. */
  fits(tenant: string, request: PlacementRequest): boolean {
    const peers = new Set(this.#quota.overNominalPeers(tenant));
    const key = [...peers].sort().join(',');
    let state = this.#states.get(key);
    if (!state) {
      this.#snapshot ??= buildSnapshot(this.#nodes, this.#nodeOf);
      this.#claims ??= new Map(ledgerEntries(this.#nodes).map((e) => [claimKey(e.claim), e.claim]));
      const claims = this.#claims;
      state = new PlacementState(reclaimable(this.#snapshot, (k) => {
        const c = claims.get(k);
        return c !== undefined && c.borrowed === true && c.tenant !== undefined && peers.has(c.tenant);
      }));
      this.#states.set(key, state);
    }
    return placeOn(state, { ...request, mayPreempt: true, priority: Number.MAX_SAFE_INTEGER }).ok;
  }
}

/** The snapshot with exactly the holders `free` names preemptible (at the lowest priority), all others not. */
function reclaimable(snapshot: ClusterSnapshot, free: (holderKey: string) => boolean): ClusterSnapshot {
  const swap = <T extends { key: string; priority: number; preemptible: boolean }>(h: T): T => (free(h.key) ? { ...h, preemptible: true, priority: 0 } : { ...h, preemptible: false });
  return {
    nodes: snapshot.nodes.map((n) => ({
      ...n,
      gpus: n.gpus.map((g) => ({ ...g, ...(g.holder ? { holder: swap(g.holder) } : {}), slices: g.slices.map((s) => (s.holder ? { ...s, holder: swap(s.holder) } : s)) })),
    })),
  };
}

/** Counts violations from the requests owed capacity at each cycle's start that still wait after it. */
export class NominalWatch {
  /** Request key → consecutive cycles it was owed at the start of and still waited after. */
  readonly #streaks = new Map<string, number>();
  violations = 0;
  /** The first few violations, for the report. */
  readonly examples: string[] = [];

  /** After a cycle: the requests that were owed capacity at its start and still wait; `describe` explains one. */
  cycle(owedAndWaiting: Iterable<string>, describe: (key: string) => string): void {
    const now = new Set(owedAndWaiting);
    for (const k of [...this.#streaks.keys()]) if (!now.has(k)) this.#streaks.delete(k);
    for (const k of now) {
      const n = (this.#streaks.get(k) ?? 0) + 1;
      this.#streaks.set(k, n);
      if (n === 2) {
        this.violations++;
        if (this.examples.length < 10) this.examples.push(describe(k));
      }
    }
  }
}
