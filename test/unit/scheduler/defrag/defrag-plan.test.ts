import type { ClaimRef, GpuNode } from '../../../../src/api/types.js';
import { describePlan, describeWanted, ledgerMoves, protectSnapshot, unsafePlan } from '../../../../src/scheduler/defrag/defrag-plan.js';
import type { ClusterSnapshot, DefragMove, PlacementRequest } from '../../../../src/placement/types.js';
import { makeGpuNode } from '../../support/builders.js';

const claim = (name: string, kind: ClaimRef['kind'] = 'GpuPartition', slot = 0): ClaimRef => ({
  kind,
  namespace: 'ns',
  name,
  uid: `uid-${name}`,
  slot,
  priority: 0,
  preemptible: true,
});
const key = (c: ClaimRef) => `${c.kind}/${c.namespace}/${c.name}/${c.slot}`;

function snapshot(): ClusterSnapshot {
  return {
    nodes: [
      {
        name: 'n1',
        product: 'NVIDIA-B200',
        labels: {},
        schedulable: true,
        gpus: [
          {
            index: 0,
            mode: 'mig',
            healthy: true,
            slices: [
              { profile: '1g.23gb', start: 1, inUse: false, holder: { key: key(claim('a')), priority: 0, preemptible: true } },
              { profile: '1g.23gb', start: 2, inUse: false, holder: { key: key(claim('job', 'TrainingJob')), priority: 0, preemptible: false } },
              { profile: '1g.23gb', start: 3, inUse: true, holder: { key: key(claim('busy')), priority: 0, preemptible: true } },
              { profile: '1g.23gb', start: 5, inUse: false },
            ],
          },
          { index: 1, mode: 'mig', healthy: true, slices: [{ profile: '1g.23gb', start: 6, inUse: true }] },
        ],
      },
    ],
  };
}

const request = (over: Partial<PlacementRequest> = {}): PlacementRequest => ({
  id: 'GpuPartition/ns/big',
  members: [{ kind: 'slice', key: 'GpuPartition/ns/big/0', profile: '4g.90gb' }],
  priority: 5,
  ...over,
});

const move = (start: number, to: { gpuIndex: number; start: number }, holder?: string): DefragMove => ({
  action: 'move',
  ...(holder ? { holderKey: holder } : {}),
  node: 'n1',
  gpuIndex: 0,
  profile: '1g.23gb',
  start,
  to: { node: 'n1', ...to },
});

describe('protectSnapshot', () => {
  test('marks TrainingJob slices and busy partitions in use, leaves movable partitions and the input alone', () => {
    const snap = snapshot();
    const out = protectSnapshot(snap, (k) => k === key(claim('busy')));
    const slices = out.nodes[0]!.gpus[0]!.slices;
    expect(slices.map((s) => [s.start, s.inUse])).toEqual([
      [1, false],
      [2, true],
      [3, true],
      [5, false],
    ]);
    // A partition named busy is protected even when the agent has not reported it in use.
    const busyIdle = protectSnapshot(snap, (k) => k === key(claim('a')));
    expect(busyIdle.nodes[0]!.gpus[0]!.slices[0]!.inUse).toBe(true);
    expect(snap.nodes[0]!.gpus[0]!.slices[1]!.inUse).toBe(false);
  });
});

describe('unsafePlan', () => {
  const snap = protectSnapshot(snapshot(), () => false);

  test('accepts a move of an idle partition slice to free space', () => {
    expect(unsafePlan(snap, request(), [move(1, { gpuIndex: 0, start: 4 }, key(claim('a')))])).toBeUndefined();
  });

  test.each([
    ['an in-use slice', [move(3, { gpuIndex: 0, start: 4 })], 'in use'],
    ['a TrainingJob slice', [move(2, { gpuIndex: 0, start: 4 })], 'in use'],
    ['a slice that does not exist', [move(0, { gpuIndex: 0, start: 4 })], 'does not exist'],
    ['a move onto an in-use slice', [move(1, { gpuIndex: 1, start: 6 })], 'is in use'],
    ['a move to a GPU that does not exist', [move(1, { gpuIndex: 7, start: 0 })], 'not a healthy GPU'],
    ['a holder mismatch', [move(1, { gpuIndex: 0, start: 4 }, 'GpuPartition/ns/other/0')], 'holder differs'],
    ['a destroy of a claimed slice', [{ action: 'destroy', node: 'n1', gpuIndex: 0, profile: '1g.23gb', start: 1 } as DefragMove], 'holds'],
  ])('rejects %s', (_label, moves, why) => {
    expect(unsafePlan(snap, request(), moves)).toContain(why);
  });

  test('preemption needs PreemptLowerPriority and a preemptible lower-priority holder', () => {
    const preempt: DefragMove = { action: 'preempt', holderKey: key(claim('busy')), node: 'n1', gpuIndex: 0, profile: '1g.23gb', start: 3 };
    expect(unsafePlan(snap, request(), [preempt])).toContain('PreemptLowerPriority');
    expect(unsafePlan(snap, request({ mayPreempt: true }), [preempt])).toBeUndefined();
    expect(unsafePlan(snap, request({ mayPreempt: true, priority: 0 }), [preempt])).toContain('may not be preempted');
  });
});

describe('ledgerMoves', () => {
  function ledger(): GpuNode {
    const gn = makeGpuNode('n1', { gpus: 2 });
    gn.spec = {
      gpus: [
        {
          index: 0,
          mode: 'mig',
          slices: [
            { profile: '1g.23gb', start: 1, claim: claim('a') },
            { profile: '1g.23gb', start: 3, claim: claim('b') },
            { profile: '1g.23gb', start: 5 },
          ],
        },
      ],
    };
    gn.status!.gpus![1]!.slices = [{ profile: '1g.23gb', start: 0, uuid: 'u', deviceId: 'u', inUse: false }];
    return gn;
  }

  test('moves claims (removals before additions), destroys free carved slices in the way, and reports from/to', () => {
    // a takes b's old place, b goes to slot 4 over nothing, and a free 1g at 5 is not in the way.
    const out = ledgerMoves([ledger()], [move(1, { gpuIndex: 0, start: 3 }), move(3, { gpuIndex: 0, start: 4 })]);
    expect(out.moved.map((m) => [m.claim.name, m.from.start, m.to.start])).toEqual([
      ['a', 1, 3],
      ['b', 3, 4],
    ]);
    expect(out.layouts).toHaveLength(1);
    expect(out.layouts[0]!.slices.map((s) => [s.start, s.holder?.key])).toEqual([
      [3, key(claim('a'))],
      [4, key(claim('b'))],
      [5, undefined],
    ]);
  });

  test('a move onto a GPU without a target starts from its realised layout and destroys the free slice in the way', () => {
    const out = ledgerMoves([ledger()], [move(1, { gpuIndex: 1, start: 0 })]);
    const gpu1 = out.layouts.find((l) => l.gpuIndex === 1);
    expect(gpu1?.slices.map((s) => [s.start, s.holder?.key])).toEqual([[0, key(claim('a'))]]);
    expect(out.layouts.find((l) => l.gpuIndex === 0)?.slices.map((s) => s.start)).toEqual([3, 5]);
  });

  test('throws instead of writing an illegal layout (a moved slice onto a claimed one, an illegal start)', () => {
    expect(() => ledgerMoves([ledger()], [move(1, { gpuIndex: 0, start: 3 })])).toThrow(/illegal layout/);
    expect(() => ledgerMoves([ledger()], [{ ...move(1, { gpuIndex: 0, start: 0 }), profile: '1g.23gb', to: { node: 'n1', gpuIndex: 0, start: 7 } }])).toThrow(/illegal layout/);
    expect(() => ledgerMoves([ledger()], [move(6, { gpuIndex: 0, start: 0 })])).toThrow(/does not have/);
  });
});

describe('describePlan', () => {
  test('groups moves per GPU and names what they make room for', () => {
    const moves: DefragMove[] = [
      { action: 'move', node: 'node-3', gpuIndex: 1, profile: '1g.23gb', start: 1, to: { node: 'node-3', gpuIndex: 1, start: 5 } },
      { action: 'move', node: 'node-3', gpuIndex: 1, profile: '1g.23gb', start: 2, to: { node: 'node-3', gpuIndex: 2, start: 0 } },
      { action: 'preempt', holderKey: 'GpuPartition/ns/x/0', node: 'node-3', gpuIndex: 2, profile: '2g.45gb', start: 4 },
    ];
    expect(describePlan(moves, describeWanted(request()))).toBe(
      'moving 2 idle slices on node-3 GPU 1, preempting 1 lower-priority slice on node-3 GPU 2 to make room for 4g.90gb',
    );
    expect(
      describeWanted(request({ members: [0, 1].map((i) => ({ kind: 'slice' as const, key: `k${i}`, profile: '1g.23gb' })).concat([{ kind: 'slice', key: 'm', memoryMiB: 40960 } as never]) })),
    ).toBe('2 × 1g.23gb + a slice of 40960 MiB');
  });
});
