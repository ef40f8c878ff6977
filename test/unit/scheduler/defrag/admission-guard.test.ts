import type { GpuPartition } from '../../../../src/api/types.js';
import { ADMISSION_MEMORY_MS, AdmissionGuard, MOVE_TIMEOUT_MS, liftsPartitionGate } from '../../../../src/scheduler/defrag/admission-guard.js';
import { makePartition, makePartitionPod } from '../../support/builders.js';

const NS = 'team-a';
const RES = 'nvidia.com/mig-1g.23gb';

describe('AdmissionGuard', () => {
  let now = 0;
  const guard = () => new AdmissionGuard(() => now);
  beforeEach(() => {
    now = 1_000_000;
  });

  test('an ungated, unfinished pod counts as admitted; gated, finished and other partitions\' pods do not', () => {
    const g = guard();
    expect(g.hasAdmittedPod(NS, 'p', [makePartitionPod('a', NS, 'p', RES)])).toBe(false);
    expect(g.hasAdmittedPod(NS, 'p', [makePartitionPod('a', NS, 'p', RES, { gated: false, phase: 'Succeeded' })])).toBe(false);
    expect(g.hasAdmittedPod(NS, 'p', [makePartitionPod('a', NS, 'other', RES, { gated: false })])).toBe(false);
    expect(g.hasAdmittedPod(NS, 'p', [makePartitionPod('a', NS, 'p', RES, { gated: false })])).toBe(true);
  });

  test('a recorded admission counts while the cache still shows the pod gated, until it finishes, goes or ages out', () => {
    const g = guard();
    const gated = [makePartitionPod('a', NS, 'p', RES)];
    g.noteAdmission(NS, 'p', 'a');
    expect(g.hasAdmittedPod(NS, 'p', gated)).toBe(true);
    expect(g.hasAdmittedPod(NS, 'p', [])).toBe(false);
    // Forgotten once the pod was seen gone.
    expect(g.hasAdmittedPod(NS, 'p', gated)).toBe(false);
    g.noteAdmission(NS, 'p', 'a');
    now += ADMISSION_MEMORY_MS + 1;
    expect(g.hasAdmittedPod(NS, 'p', gated)).toBe(false);
  });

  test('a move is in flight until the cached partition shows the expected allocations, or times out', () => {
    const g = guard();
    const p = (start: number): GpuPartition => ({
      ...makePartition('p', NS, { profile: '1g.23gb' }),
      status: { allocations: [{ slot: 0, node: 'n1', gpuIndex: 0, profile: '1g.23gb', start, realised: true, inUse: false }] },
    });
    g.beginMove(NS, 'p', [{ slot: 0, node: 'n1', gpuIndex: 0, start: 4 }]);
    expect(g.moving(NS, 'p', p(1))).toBe(true);
    expect(g.moving(NS, 'p', p(4))).toBe(false);
    expect(g.moving(NS, 'p', p(1))).toBe(false);

    g.beginMove(NS, 'p', [{ slot: 0, node: 'n1', gpuIndex: 0, start: 4 }]);
    now += MOVE_TIMEOUT_MS + 1;
    expect(g.moving(NS, 'p', p(1))).toBe(false);

    g.beginMove(NS, 'p', [{ slot: 0, node: 'n1', gpuIndex: 0, start: 4 }]);
    g.abortMove(NS, 'p');
    expect(g.moving(NS, 'p', p(1))).toBe(false);
  });

  test('a move of several slots stays in flight until every slot shows at its new place', () => {
    const g = guard();
    const at = (...slots: Array<[number, string, number, number]>): GpuPartition => ({
      ...makePartition('p', NS, { profile: '1g.23gb', count: 3 }),
      status: { allocations: slots.map(([slot, node, gpuIndex, start]) => ({ slot, node, gpuIndex, profile: '1g.23gb', start, realised: true, inUse: false })) },
    });
    const expected = [
      { slot: 0, node: 'n1', gpuIndex: 0, start: 4 },
      { slot: 2, node: 'n2', gpuIndex: 1, start: 6 },
    ];
    g.beginMove(NS, 'p', expected);
    // Nothing moved yet; then only the first slot; then the second at the wrong GPU or start, or under another slot.
    expect(g.moving(NS, 'p', at([0, 'n1', 0, 1], [1, 'n1', 0, 2], [2, 'n2', 0, 6]))).toBe(true);
    expect(g.moving(NS, 'p', at([0, 'n1', 0, 4], [1, 'n1', 0, 2], [2, 'n2', 0, 6]))).toBe(true);
    expect(g.moving(NS, 'p', at([0, 'n1', 0, 4], [1, 'n1', 0, 2], [2, 'n2', 1, 5]))).toBe(true);
    expect(g.moving(NS, 'p', at([0, 'n1', 0, 4], [1, 'n2', 1, 6], [2, 'n1', 0, 2]))).toBe(true);
    expect(g.moving(NS, 'p', at([0, 'n1', 0, 4], [1, 'n1', 0, 2], [2, 'n1', 1, 6]))).toBe(true);
    // The same partition name in another namespace settles nothing.
    expect(g.moving('team-b', 'p', at([0, 'n1', 0, 4], [2, 'n2', 1, 6]))).toBe(false);
    expect(g.moving(NS, 'p', at([0, 'n1', 0, 1], [1, 'n1', 0, 2], [2, 'n2', 0, 6]))).toBe(true);
    // Every slot in place: settled, and forgotten.
    expect(g.moving(NS, 'p', at([0, 'n1', 0, 4], [1, 'n1', 0, 2], [2, 'n2', 1, 6]))).toBe(false);
    expect(g.moving(NS, 'p', at([0, 'n1', 0, 1]))).toBe(false);
  });

  test('a move stays in flight up to its timeout, not a moment less', () => {
    const g = guard();
    const p: GpuPartition = { ...makePartition('p', NS, { profile: '1g.23gb' }), status: { allocations: [] } };
    g.beginMove(NS, 'p', [{ slot: 0, node: 'n1', gpuIndex: 0, start: 4 }]);
    now += MOVE_TIMEOUT_MS;
    expect(g.moving(NS, 'p', p)).toBe(true);
    now += 1;
    expect(g.moving(NS, 'p', p)).toBe(false);
  });
});

test('liftsPartitionGate recognises the gate-lifting patch only', () => {
  expect(liftsPartitionGate({ spec: { schedulingGates: [] } })).toBe(true);
  expect(liftsPartitionGate({ spec: { schedulingGates: [{ name: 'other.io/gate' }] } })).toBe(true);
  expect(liftsPartitionGate({ spec: { schedulingGates: [{ name: 'gpu.haein.dev/partition' }] } })).toBe(false);
  expect(liftsPartitionGate({ metadata: { annotations: { x: 'y' } } })).toBe(false);
});
