/** A TrainingJob's gang as the ledger records it: per-rank allocations with device identities once realised. Pure. */
import type { GpuNode, TrainingJob } from '../../api/types.js';
import type { LedgerEntry } from '../../ledger/claims.js';

/** What one rank holds according to the ledger. */
export interface RankAllocation {
  rank: number;
  node: string;
  gpuIndices: number[];
  /** Slice workers: the profile and start slot. */
  profile?: string;
  start?: number;
  /** GPU or MIG device UUIDs, once realised. */
  devices: string[];
  realised: boolean;
}

/** Per-rank allocations from the job's ledger entries, with realisation read from the nodes' status. */
export function rankAllocations(entries: LedgerEntry[], gpuNode: (name: string) => GpuNode | undefined): RankAllocation[] {
  const byRank = new Map<number, LedgerEntry[]>();
  for (const e of entries) byRank.set(e.claim.slot, [...(byRank.get(e.claim.slot) ?? []), e]);
  const out: RankAllocation[] = [];
  for (const [rank, list] of [...byRank.entries()].sort((a, b) => a[0] - b[0])) {
    const node = list[0]!.node;
    const devices: string[] = [];
    let realised = list.every((e) => e.node === node);
    for (const e of list) {
      const gpu = gpuNode(e.node)?.status?.gpus?.find((g) => g.index === e.gpuIndex);
      if (e.profile !== undefined) {
        const s = gpu?.mode === 'mig' ? gpu.slices.find((x) => x.profile === e.profile && x.start === e.start) : undefined;
        if (s) devices.push(s.uuid);
        else realised = false;
      } else if (gpu?.mode === 'whole' && gpu.health === 'Healthy') {
        devices.push(gpu.uuid);
      } else {
        realised = false;
      }
    }
    const slice = list.find((e) => e.profile !== undefined);
    out.push({
      rank,
      node,
      gpuIndices: list.map((e) => e.gpuIndex).sort((a, b) => a - b),
      ...(slice ? { profile: slice.profile as string, start: slice.start as number } : {}),
      devices,
      realised,
    });
  }
  return out;
}

/** True when every rank holds exactly what the spec asks for (all on one node per rank). */
export function gangComplete(job: TrainingJob, allocs: RankAllocation[]): boolean {
  if (allocs.length !== job.spec.replicas) return false;
  return allocs.every((a, i) => {
    if (a.rank !== i) return false;
    if (job.spec.profile) return a.gpuIndices.length === 1 && a.profile === job.spec.profile;
    return a.profile === undefined && a.gpuIndices.length === (job.spec.gpusPerWorker ?? 1);
  });
}
