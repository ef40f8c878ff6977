/** Derives a GpuPartition's allocations and readiness from its ledger entries and the nodes' realised state. Pure. */
import type { GpuNode, PartitionAllocation } from '../../api/types.js';
import { findCondition } from '../../api/conditions.js';
import type { LedgerEntry } from '../../ledger/claims.js';

/** One allocation per slice entry, in slot order, with device identity once the node has realised the slice. */
export function partitionAllocations(entries: LedgerEntry[], gpuNode: (name: string) => GpuNode | undefined): PartitionAllocation[] {
  return entries
    .filter((e) => e.profile !== undefined && e.start !== undefined)
    .sort((a, b) => a.claim.slot - b.claim.slot)
    .map((e) => {
      const gpu = gpuNode(e.node)?.status?.gpus?.find((g) => g.index === e.gpuIndex);
      const slice = gpu?.mode === 'mig' ? gpu.slices.find((s) => s.profile === e.profile && s.start === e.start) : undefined;
      return {
        slot: e.claim.slot,
        node: e.node,
        gpuIndex: e.gpuIndex,
        ...(gpu?.uuid ? { gpuUuid: gpu.uuid } : {}),
        profile: e.profile as string,
        start: e.start as number,
        ...(slice ? { uuid: slice.uuid, deviceId: slice.deviceId } : {}),
        realised: slice !== undefined,
        inUse: slice?.inUse ?? false,
      };
    });
}

/** Human summary of allocations, e.g. `node-a/gpu0@0, node-a/gpu0@4`. */
export function describeAllocations(allocs: Array<{ node: string; gpuIndex: number; start?: number }>): string {
  return allocs.map((a) => `${a.node}/gpu${a.gpuIndex}${a.start !== undefined ? `@${a.start}` : ''}`).join(', ');
}

/**
 * Why the given nodes have not realised their layouts yet, e.g. `waiting for n1 to realise the layout
 * (n1: SliceInUse: …)`: a node agent that refused the target says so in its LayoutRealised condition.
 */
export function describeWaiting(nodes: string[], gpuNode: (name: string) => GpuNode | undefined): string {
  const refusals = nodes
    .map((n) => ({ n, c: findCondition(gpuNode(n)?.status?.conditions, 'LayoutRealised') }))
    .filter((x) => x.c?.status === 'False' && x.c.reason !== 'Reconfiguring')
    .map((x) => `${x.n}: ${x.c?.reason}: ${x.c?.message}`);
  return `waiting for ${nodes.join(', ')} to realise the layout${refusals.length ? ` (${refusals.join('; ')})` : ''}`;
}
