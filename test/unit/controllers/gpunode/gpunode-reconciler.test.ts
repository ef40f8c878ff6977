import type { GpuNode } from '../../../../src/api/types.js';
import { ClaimReconciliationPass } from '../../../../src/controllers/gpunode/claim-reconciliation-pass.js';
import { GpuNodeReconciler } from '../../../../src/controllers/gpunode/gpunode-reconciler.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { NO_METRICS, type ControllerMetricsPort } from '../../../../src/runtime/ports.js';
import { makeGpuNode, makePartition, realise } from '../../support/builders.js';
import { quietLog } from '../../support/fakes.js';
import { OperatorSim } from '../../support/operator-sim.js';

class RecordingMetrics implements ControllerMetricsPort {
  readonly reconfig: number[] = [];
  readonly slices = new Map<string, number>();
  readonly frag = new Map<string, number>();
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
  setPendingRequests = NO_METRICS.setPendingRequests;
  observeTimeToReady = NO_METRICS.observeTimeToReady;
}

let sim: OperatorSim;
afterEach(() => sim?.stop());

function setup() {
  sim = new OperatorSim([makeGpuNode('n1', { gpus: 2 })], { agent: false }).start();
  const metrics = new RecordingMetrics();
  const claims = new ClaimReconciliationPass({ client: sim.client, recorder: sim.recorder, pods: sim.pods });
  const r = new GpuNodeReconciler({ ledger: sim.ledger, claims, metrics, reconfig: sim.reconfig, clock: () => sim.now() });
  return { metrics, observe: () => r.reconcile({ name: 'n1' }, quietLog) };
}

describe('GpuNodeReconciler', () => {
  test('measures reconfiguration latency from the ledger write to the agent reporting the generation realised', async () => {
    const t = setup();
    sim.client.seed(RESOURCES.gpuPartition, makePartition('nb', 'ns', { profile: '3g.90gb' }));
    await sim.settle();
    await t.observe();
    expect(t.metrics.reconfig).toEqual([]);
    sim.tick(2500);
    sim.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => realise(gn));
    await t.observe();
    expect(t.metrics.reconfig).toHaveLength(1);
    expect(t.metrics.reconfig[0]).toBeGreaterThanOrEqual(2.5);
    await t.observe();
    expect(t.metrics.reconfig).toHaveLength(1);
  });

  test('reports allocated and free slices and fragmentation per model', async () => {
    const t = setup();
    sim.client.seed(RESOURCES.gpuPartition, makePartition('nb', 'ns', { profile: '3g.90gb' }));
    await sim.settle();
    await t.observe();
    expect(t.metrics.slices.get('NVIDIA-B200/3g.90gb/allocated')).toBe(1);
    expect(t.metrics.slices.get('NVIDIA-B200/3g.90gb/free')).toBe(0);
    // GPU 0 holds a 3g (4 slots) → 4 stranded free slots; GPU 1 is empty (8 free): 4 / 12.
    expect(t.metrics.frag.get('NVIDIA-B200')).toBeCloseTo(4 / 12);
  });
});
