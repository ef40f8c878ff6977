/**
 * Claims in the allocation ledger (GpuNode spec): conversion between the API's `ClaimRef` and the engine's
 * `Holder` key, and collection of every claim an object holds across the nodes. Pure: no Kubernetes calls.
 */
import type { ClaimRef, GpuNode } from '../api/types.js';
import type { Holder } from '../placement/types.js';

/** Kind of object that can hold slices. */
export type ClaimantKind = ClaimRef['kind'];

/** Engine holder key of one claim: `<Kind>/<namespace>/<name>/<slot>`. */
export function holderKey(kind: ClaimantKind, namespace: string, name: string, slot: number): string {
  return `${kind}/${namespace}/${name}/${slot}`;
}

/** Engine holder key of a ledger claim. */
export function claimKey(claim: ClaimRef): string {
  return holderKey(claim.kind, claim.namespace, claim.name, claim.slot);
}

/** Engine holder of a ledger claim. */
export function claimHolder(claim: ClaimRef): Holder {
  return { key: claimKey(claim), priority: claim.priority, preemptible: claim.preemptible };
}

/** Parses a holder key back into its parts; undefined for a malformed key. */
export function parseHolderKey(key: string): { kind: ClaimantKind; namespace: string; name: string; slot: number } | undefined {
  const parts = key.split('/');
  if (parts.length !== 4) return undefined;
  const [kind, namespace, name, slotText] = parts as [string, string, string, string];
  const slot = Number(slotText);
  if ((kind !== 'GpuPartition' && kind !== 'TrainingJob') || !Number.isInteger(slot)) return undefined;
  return { kind, namespace, name, slot };
}

/** The identity of a claimant object. */
export interface ClaimantId {
  kind: ClaimantKind;
  namespace: string;
  name: string;
}

/** True when the claim names this claimant (any uid). */
export function claimNames(claim: ClaimRef, who: ClaimantId): boolean {
  return claim.kind === who.kind && claim.namespace === who.namespace && claim.name === who.name;
}

/** One ledger entry: a slice or a whole GPU on a node, with its claim. */
export interface LedgerEntry {
  node: string;
  gpuIndex: number;
  claim: ClaimRef;
  /** Slice entries: profile and start slot. Absent for a whole GPU. */
  profile?: string;
  start?: number;
}

/** Every ledger entry on the given nodes, in node, GPU, start order. */
export function ledgerEntries(nodes: GpuNode[]): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (const node of [...nodes].sort((a, b) => nameOf(a).localeCompare(nameOf(b)))) {
    for (const gpu of [...(node.spec?.gpus ?? [])].sort((a, b) => a.index - b.index)) {
      if (gpu.mode === 'whole') {
        if (gpu.claim) out.push({ node: nameOf(node), gpuIndex: gpu.index, claim: gpu.claim });
        continue;
      }
      for (const slice of [...gpu.slices].sort((a, b) => a.start - b.start)) {
        if (slice.claim) {
          out.push({ node: nameOf(node), gpuIndex: gpu.index, claim: slice.claim, profile: slice.profile, start: slice.start });
        }
      }
    }
  }
  return out;
}

/** Ledger entries naming this claimant, split into current (matching uid) and stale (older object of the same name). */
export function claimsOf(nodes: GpuNode[], who: ClaimantId, uid: string | undefined): { current: LedgerEntry[]; stale: LedgerEntry[] } {
  const current: LedgerEntry[] = [];
  const stale: LedgerEntry[] = [];
  for (const entry of ledgerEntries(nodes)) {
    if (!claimNames(entry.claim, who)) continue;
    if (uid !== undefined && entry.claim.uid !== uid) stale.push(entry);
    else current.push(entry);
  }
  return { current, stale };
}

/** Names of the GpuNodes holding any claim of this claimant. */
export function nodesWithClaimsOf(nodes: GpuNode[], who: ClaimantId): string[] {
  return [...new Set(ledgerEntries(nodes).filter((e) => claimNames(e.claim, who)).map((e) => e.node))];
}

function nameOf(node: GpuNode): string {
  return node.metadata.name ?? '';
}
