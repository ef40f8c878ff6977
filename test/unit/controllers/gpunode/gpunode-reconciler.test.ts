import type { GpuNode, GpuPartition, TrainingJob } from '../../../../src/api/types.js';
import { ledgerEntries } from '../../../../src/ledger/claims.js';
import { GpuNodeReconciler } from '../../../../src/controllers/gpunode/gpunode-reconciler.js';
import { GpuPartitionReconciler } from '../../../../src/controllers/gpupartition/gpupartition-reconciler.js';
import type { PodObject } from '../../../../src/api/pods.js';
import type { ControllerMetricsPort } from '../../../../src/runtime/ports.js';
import { ReconfigTracker } from '../../../../src/controllers/gpunode/reconfig-tracker.js';
import type { NodeObject } from '../../../../src/ledger/snapshot.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { makeGpuNode, makeNode, makePartition, realise } from '../../support/builders.js';
import { FakeClient, FakeRecorder, cacheOf, firstFitPlace, quietLog } from '../../support/fakes.js';

class RecordingMetrics implements ControllerMetricsPort {
  readonly reconfig: number[] = [];
  readonly slices = new Map<string, number>();
  readonly frag = new Map<string, number>();
  readonly pending = new Map<string, number>();
  observePlacementSeconds(): void {}
  observeReconfigurationSeconds(seconds: number): void {
    this.reconfig.push(seconds);
  }
  setSlices(model: string, profile: string, state: string, count: number): void {
    this.slices.set(`${model}/${profile}/${state}`, count);
  }
  setFragmentation(model: string, ratio: number): void {
    this.frag.set(model, ratio);
  }
  setPendingRequests(kind: string, count: number): void {
    this.pending.set(kind, count);
  }
}

function setup() {
  const client = new FakeClient();
  client.seed(RESOURCES.gpuNode, makeGpuNode('n1', { gpus: 2 }));
  client.seed(RESOURCES.node, makeNode('n1'));
  let now = new Date('2026-01-01T00:00:00Z');
  const clock = () => now;
  const recorder = new FakeRecorder();
  const metrics = new RecordingMetrics();
  const reconfig = new ReconfigTracker();
  const caches = {
    gpuNodes: cacheOf<GpuNode>(client, RESOURCES.gpuNode),
    nodes: cacheOf<NodeObject>(client, RESOURCES.node),
    partitions: cacheOf<GpuPartition>(client, RESOURCES.gpuPartition),
  };
  const parts = new GpuPartitionReconciler({ client, ...caches, pods: cacheOf<PodObject>(client, RESOURCES.pod), recorder, place: firstFitPlace, clock, reconfig });
  const nodesR = new GpuNodeReconciler({ client, ...caches, jobs: cacheOf<TrainingJob>(client, RESOURCES.trainingJob), recorder, metrics, clock, reconfig });
  return {
    client,
    recorder,
    metrics,
    advance: (ms: number) => (now = new Date(now.getTime() + ms)),
    placePartition: (name: string) => parts.reconcile({ namespace: 'ns', name }, quietLog),
    observe: () => nodesR.reconcile({ name: 'n1' }, quietLog),
  };
}

describe('GpuNodeReconciler', () => {
  test('measures reconfiguration latency from the ledger write to the agent reporting the generation realised', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', 'ns', { profile: '3g.90gb' }));
    await t.placePartition('nb');
    await t.observe();
    expect(t.metrics.reconfig).toEqual([]);
    t.advance(2500);
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => realise(gn));
    await t.observe();
    expect(t.metrics.reconfig).toEqual([2.5]);
    await t.observe();
    expect(t.metrics.reconfig).toHaveLength(1);
  });

  test('reports allocated and free slices and fragmentation per model', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', 'ns', { profile: '3g.90gb' }));
    await t.placePartition('nb');
    await t.observe();
    expect(t.metrics.slices.get('NVIDIA-B200/3g.90gb/allocated')).toBe(1);
    expect(t.metrics.slices.get('NVIDIA-B200/3g.90gb/free')).toBe(0);
    // GPU 0 holds a 3g (4 slots) → 4 stranded free slots; GPU 1 is empty (8 free): 4 / 12.
    expect(t.metrics.frag.get('NVIDIA-B200')).toBeCloseTo(4 / 12);
    expect(t.metrics.pending.get('GpuPartition')).toBe(1);
  });

  test('a deleted Node releases its claims and warns the claimants', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', 'ns', { profile: '1g.23gb' }));
    await t.placePartition('nb');
    t.client.store.delete(t.client.key(RESOURCES.node, 'n1'));
    await t.observe();
    expect(ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode))).toHaveLength(0);
    expect(t.recorder.events.find((e) => e.reason === 'NodeLost')).toMatchObject({ kind: 'GpuPartition', name: 'nb', type: 'Warning' });
  });

  test('claims whose claimant no longer exists are released; live claims stay', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('keep', 'ns', { profile: '1g.23gb' }));
    t.client.seed(RESOURCES.gpuPartition, makePartition('gone', 'ns', { profile: '1g.23gb' }));
    await t.placePartition('keep');
    await t.placePartition('gone');
    t.client.store.delete(t.client.key(RESOURCES.gpuPartition, 'gone', 'ns'));
    await t.observe();
    expect(ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode)).map((e) => e.claim.name)).toEqual(['keep']);
  });
});
