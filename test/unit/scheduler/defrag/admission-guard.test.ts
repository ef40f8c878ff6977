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
});

test('liftsPartitionGate recognises the gate-lifting patch only', () => {
  expect(liftsPartitionGate({ spec: { schedulingGates: [] } })).toBe(true);
  expect(liftsPartitionGate({ spec: { schedulingGates: [{ name: 'other.io/gate' }] } })).toBe(true);
  expect(liftsPartitionGate({ spec: { schedulingGates: [{ name: 'gpu.haein.dev/partition' }] } })).toBe(false);
  expect(liftsPartitionGate({ metadata: { annotations: { x: 'y' } } })).toBe(false);
});
