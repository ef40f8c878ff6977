import { METRIC_HELP, METRIC_NAMES, OperatorMetrics } from '../../../src/runtime/metrics.js';

describe('OperatorMetrics', () => {
  it('registers every documented metric, all haein_-prefixed, on its own registry', async () => {
    const m = new OperatorMetrics();
    const registered = (await m.registry.getMetricsAsJSON()).map((x) => x.name).sort();
    expect(registered).toEqual(Object.values(METRIC_NAMES).sort());
    for (const name of registered) expect(name).toMatch(/^haein_[a-z_]+$/);
    for (const key of Object.keys(METRIC_NAMES)) expect(METRIC_HELP[key as keyof typeof METRIC_NAMES]).toBeTruthy();
    // A second instance does not collide (no global registry).
    expect(() => new OperatorMetrics()).not.toThrow();
  });

  it('domain setters update the right series', async () => {
    const m = new OperatorMetrics();
    m.setSlices('B200', '1g.23gb', 'allocated', 5);
    m.setSlices('B200', '1g.23gb', 'free', 2);
    m.setFragmentation('B200', 0.25);
    m.setPendingRequests('TrainingJob', 'InsufficientCapacity', 3);
    m.observeTimeToReady(0.4, 'GpuPartition');
    m.observeCycle(0.02, 40);
    m.ledgerWrite('conflict');
    m.setQueue(2, 5);
    m.setReplansWithoutChange(0);
    m.capacityChanged('node');
    m.capacityChanged('node');
    m.capacityChanged('release');
    m.observePlacementSeconds(0.002, 'GpuPartition');
    m.observeReconfigurationSeconds(1.5, 'B200');
    m.observeReconfigurationSeconds(7, 'B200');
    const text = await m.render();
    expect(text).toContain('haein_slices_allocated{model="B200",profile="1g.23gb"} 5');
    expect(text).toContain('haein_slices_free{model="B200",profile="1g.23gb"} 2');
    expect(text).toContain('haein_fragmentation_ratio{model="B200"} 0.25');
    expect(text).toContain('haein_pending_requests{kind="TrainingJob",reason="InsufficientCapacity"} 3');
    expect(text).toContain('haein_time_to_ready_seconds_bucket{le="0.5",kind="GpuPartition"} 1');
    expect(text).toContain('haein_admission_cycle_batch_size_sum 40');
    expect(text).toContain('haein_ledger_writes_total{result="conflict"} 1');
    expect(text).toContain('haein_admission_queue{state="parked"} 5');
    expect(text).toContain('haein_admission_replans_without_change_total 0');
    expect(text).toContain('haein_admission_capacity_changes_total{source="node"} 2');
    expect(text).toContain('haein_admission_capacity_changes_total{source="release"} 1');
    expect(text).toContain('haein_placement_decision_seconds_count{kind="GpuPartition"} 1');
    expect(text).toContain('haein_reconfiguration_latency_seconds_count{model="B200"} 2');
    expect(text).toContain('haein_reconfiguration_latency_seconds_bucket{le="2",model="B200"} 1');
    expect(text).toContain('haein_reconfiguration_latency_seconds_sum{model="B200"} 8.5');
  });

  it('keeps per-partition series only for partitions that hold slices or have consumers', async () => {
    const m = new OperatorMetrics();
    m.setPartitionScale('ns', 'serving', 2, 3);
    m.setPartitionScale('ns', 'waiting', 0, 0);
    let text = await m.render();
    expect(text).toContain('haein_partition_slices{namespace="ns",partition="serving"} 3');
    expect(text).toContain('haein_partition_consumers{namespace="ns",partition="serving"} 2');
    expect(text).not.toContain('partition="waiting"');
    // Scaled to nothing: its series go.
    m.setPartitionScale('ns', 'serving', 0, 0);
    text = await m.render();
    expect(text).not.toContain('partition="serving"');
  });

  it('adds Node process metrics under the haein_process_ prefix only when asked', async () => {
    const withDefaults = new OperatorMetrics({ collectDefault: true });
    const names = (await withDefaults.registry.getMetricsAsJSON()).map((x) => x.name);
    expect(names.some((n) => n.startsWith('haein_process_'))).toBe(true);
    expect(names.every((n) => n.startsWith('haein_'))).toBe(true);
  });
});
