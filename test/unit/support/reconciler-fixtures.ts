/** Fixtures shared by the operator unit tests: seeded nodes and the ledger claim of a partition. */
import type { ClaimRef, GpuNode, GpuPartition } from '../../../src/api/types.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { makeNode } from './builders.js';
import type { FakeClient } from './fakes.js';

/** Seeds each GpuNode and a Ready, schedulable core Node of the same name. */
export function seedNodes(client: FakeClient, gpuNodes: GpuNode[]): void {
  for (const n of gpuNodes) {
    client.seed(RESOURCES.gpuNode, n);
    client.seed(RESOURCES.node, makeNode(n.metadata.name as string));
  }
}

/** The ledger claim of slot `slot` of partition `p` (priority 0, not preemptible). */
export function partitionClaim(p: GpuPartition, slot = 0): ClaimRef {
  return { kind: 'GpuPartition', namespace: p.metadata.namespace as string, name: p.metadata.name as string, uid: p.metadata.uid as string, slot, priority: 0, preemptible: false };
}
