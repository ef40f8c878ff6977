/**
 * Fixtures shared by the claimant reconciler tests (GpuPartition, TrainingJob, defragmentation, priority order,
 * ledger): the caches those reconcilers read, a cluster of seeded nodes, the engines the cases run against and
 * the ledger claim of a partition.
 */
import type { ClaimRef, GpuNode, GpuPartition, TrainingJob } from '../../../src/api/types.js';
import type { PodObject } from '../../../src/api/pods.js';
import type { CachePort, PlaceFn } from '../../../src/runtime/ports.js';
import type { NodeObject } from '../../../src/ledger/snapshot.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { place } from '../../../src/placement/engine.js';
import { makeNode } from './builders.js';
import { firstFitPlace, cacheOf, type FakeClient } from './fakes.js';

/**
 * Placement functions a case runs against: the real engine, and the first-fit fake (which pins down a
 * reconciler's behaviour independently of the engine's scoring).
 */
export const ENGINES: Array<[string, PlaceFn]> = [
  ['engine', place],
  ['first-fit', firstFitPlace],
];

/** Caches over the fake client for every kind the GpuPartition and TrainingJob reconcilers read. */
export interface ClaimantCaches {
  partitions: CachePort<GpuPartition>;
  jobs: CachePort<TrainingJob>;
  gpuNodes: CachePort<GpuNode>;
  nodes: CachePort<NodeObject>;
  pods: CachePort<PodObject>;
}

/** The {@link ClaimantCaches} of `client` (always in sync with its store). */
export function claimantCaches(client: FakeClient): ClaimantCaches {
  return {
    partitions: cacheOf<GpuPartition>(client, RESOURCES.gpuPartition),
    jobs: cacheOf<TrainingJob>(client, RESOURCES.trainingJob),
    gpuNodes: cacheOf<GpuNode>(client, RESOURCES.gpuNode),
    nodes: cacheOf<NodeObject>(client, RESOURCES.node),
    pods: cacheOf<PodObject>(client, RESOURCES.pod),
  };
}

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
