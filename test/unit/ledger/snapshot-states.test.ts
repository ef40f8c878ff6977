/**
 * The snapshot in the states between a target layout and what the agent realised: mode switches under a busy
 * GPU, GPUs with no target yet, slice ranges that touch without overlapping, order and labels, and the
 * placement view that tells which GpuNode changes can matter to placement. (The common cases: snapshot.test.ts.)
 */
import type { GpuNode, RealisedGpu, TargetGpu } from '../../../src/api/types.js';
import { buildSnapshot, nodeSchedulable, placementView } from '../../../src/ledger/snapshot.js';
import { makeGpuNode, makeNode } from '../support/builders.js';

const claim = { kind: 'TrainingJob' as const, namespace: 'a', name: 'w', uid: 'u1', slot: 2, priority: 3, preemptible: false };
const holder = { key: 'TrainingJob/a/w/2', priority: 3, preemptible: false };

/** GPU 0 of a one-GPU B200 node with target `t` (none when undefined) and realised GPU 0 edited by `r`. */
function gpu0(t: TargetGpu | undefined, r: (g: RealisedGpu) => void = () => {}) {
  const gn = makeGpuNode('n1', { gpus: 1 });
  gn.spec = t ? { gpus: [t] } : {};
  r(gn.status!.gpus![0]!);
  return buildSnapshot([gn], (n) => makeNode(n)).nodes[0]?.gpus[0];
}

const busyMig = (g: RealisedGpu) => (g.slices = [{ profile: '1g.23gb', start: 0, uuid: 'MIG-a', deviceId: 'MIG-a', inUse: true }]);
const idleMig = (g: RealisedGpu) => (g.slices = [{ profile: '1g.23gb', start: 0, uuid: 'MIG-a', deviceId: 'MIG-a', inUse: false }]);
const whole = (inUse: boolean | undefined) => (g: RealisedGpu) => {
  g.mode = 'whole';
  g.deviceId = g.uuid;
  if (inUse === undefined) delete g.inUse;
  else g.inUse = inUse;
};

describe('buildSnapshot between target and realised layout', () => {
  test('a GPU switching to whole mode is busy as a whole while a realised slice or the whole GPU is in use', () => {
    const target: TargetGpu = { index: 0, mode: 'whole', slices: [], claim };
    expect(gpu0(target, busyMig)).toEqual({ index: 0, mode: 'whole', healthy: true, slices: [], holder, inUse: true });
    expect(gpu0(target, idleMig)).toEqual({ index: 0, mode: 'whole', healthy: true, slices: [], holder, inUse: false });
    expect(gpu0({ index: 0, mode: 'whole', slices: [] }, whole(true))).toEqual({ index: 0, mode: 'whole', healthy: true, slices: [], inUse: true });
    expect(gpu0({ index: 0, mode: 'whole', slices: [] }, whole(false))).toEqual({ index: 0, mode: 'whole', healthy: true, slices: [], inUse: false });
  });

  test('a GPU switching to MIG while the whole GPU is in use is frozen with its target slices; once released it is not', () => {
    const target: TargetGpu = { index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim }] };
    expect(gpu0(target, whole(true))).toEqual({ index: 0, mode: 'mig', healthy: false, slices: [{ profile: '3g.90gb', start: 0, inUse: false, holder }] });
    expect(gpu0(target, whole(false))).toEqual({ index: 0, mode: 'mig', healthy: true, slices: [{ profile: '3g.90gb', start: 0, inUse: false, holder }] });
  });

  test('without a target the realised layout is taken as it is, unclaimed, with its health', () => {
    expect(gpu0(undefined, whole(true))).toEqual({ index: 0, mode: 'whole', healthy: true, slices: [], inUse: true });
    expect(gpu0(undefined, whole(undefined))).toEqual({ index: 0, mode: 'whole', healthy: true, slices: [], inUse: false });
    expect(gpu0(undefined, busyMig)).toEqual({ index: 0, mode: 'mig', healthy: true, slices: [{ profile: '1g.23gb', start: 0, inUse: true }] });
    expect(gpu0(undefined, (g) => (g.health = 'Unhealthy'))).toEqual({ index: 0, mode: 'mig', healthy: false, slices: [] });
    expect(gpu0({ index: 0, mode: 'mig', slices: [] }, (g) => (g.health = 'Unhealthy'))?.healthy).toBe(false);
  });

  test('a target GPU the agent has not reported yet is healthy, idle and in target order', () => {
    const gn = makeGpuNode('n1', { gpus: 1 });
    gn.spec = {
      gpus: [
        { index: 3, mode: 'mig', slices: [{ profile: '1g.23gb', start: 6 }, { profile: '3g.90gb', start: 0, claim }] },
        { index: 1, mode: 'whole', slices: [] },
      ],
    };
    const gpus = buildSnapshot([gn], (n) => makeNode(n)).nodes[0]?.gpus;
    expect(gpus?.map((g) => g.index)).toEqual([0, 1, 3]);
    expect(gpus?.[1]).toEqual({ index: 1, mode: 'whole', healthy: true, slices: [], inUse: false });
    expect(gpus?.[2]?.slices.map((s) => `${s.profile}@${s.start}:${s.inUse}`)).toEqual(['3g.90gb@0:false', '1g.23gb@6:false']);
  });

  test('a realised slice the target dropped is kept only while in use, and a same-start slice of another profile is not the target one', () => {
    const target: TargetGpu = { index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 4, claim }] };
    // Idle: gone from the snapshot (the agent destroys it).
    expect(gpu0(target, idleMig)?.slices.map((s) => `${s.profile}@${s.start}`)).toEqual(['3g.90gb@4']);
    // Busy at the same start as a target slice of another profile: the two overlap, the GPU is frozen.
    const clash = gpu0({ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0 }] }, busyMig);
    expect(clash).toEqual({ index: 0, mode: 'mig', healthy: false, slices: [{ profile: '3g.90gb', start: 0, inUse: false }] });
    // Busy and the same slice as the target's: one slice, in use.
    expect(gpu0({ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0 }] }, busyMig)?.slices).toEqual([{ profile: '1g.23gb', start: 0, inUse: true }]);
  });

  test('a busy realised slice is kept beside a target slice of the same profile at another start; one busy slice of several makes a GPU busy', () => {
    const two = (g: RealisedGpu) =>
      (g.slices = [
        { profile: '1g.23gb', start: 0, uuid: 'MIG-a', deviceId: 'MIG-a', inUse: false },
        { profile: '1g.23gb', start: 2, uuid: 'MIG-d', deviceId: 'MIG-d', inUse: true },
      ]);
    const kept = gpu0({ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim }] }, two);
    expect(kept?.healthy).toBe(true);
    expect(kept?.slices.map((s) => `${s.profile}@${s.start}:${s.inUse}`)).toEqual(['1g.23gb@0:false', '1g.23gb@2:true']);
    expect(gpu0({ index: 0, mode: 'whole', slices: [] }, two)?.inUse).toBe(true);
  });

  test('busy realised slices right next to a target slice do not overlap it (either side)', () => {
    const target: TargetGpu = { index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 4, claim }] };
    const before = gpu0(target, (g) => (g.slices = [{ profile: '1g.23gb', start: 3, uuid: 'MIG-b', deviceId: 'MIG-b', inUse: true }]));
    expect(before?.healthy).toBe(true);
    expect(before?.slices.map((s) => `${s.profile}@${s.start}:${s.inUse}`)).toEqual(['1g.23gb@3:true', '3g.90gb@4:false']);
    const after = gpu0({ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0 }] }, (g) => (g.slices = [{ profile: '1g.23gb', start: 4, uuid: 'MIG-c', deviceId: 'MIG-c', inUse: true }]));
    expect(after?.healthy).toBe(true);
    expect(after?.slices.map((s) => `${s.profile}@${s.start}:${s.inUse}`)).toEqual(['3g.90gb@0:false', '1g.23gb@4:true']);
  });
});

describe('buildSnapshot nodes', () => {
  test('nodes come in name order', () => {
    const snap = buildSnapshot([makeGpuNode('n2'), makeGpuNode('n10'), makeGpuNode('a')], (n) => makeNode(n));
    expect(snap.nodes.map((n) => n.name)).toEqual(['a', 'n10', 'n2']);
  });

  test("the Node's labels win over the GpuNode's; the clique label is used when the inventory names none", () => {
    const gn = makeGpuNode('n1');
    gn.metadata.labels = { zone: 'from-gpunode', rack: 'r1', 'nvidia.com/gpu.clique': 'c-label' };
    const [snap] = buildSnapshot([gn], (n) => makeNode(n, { zone: 'from-node' })).nodes;
    expect(snap?.labels).toMatchObject({ zone: 'from-node', rack: 'r1' });
    expect(snap?.clique).toBe('c-label');
    const [plain] = buildSnapshot([makeGpuNode('n1')], (n) => makeNode(n)).nodes;
    expect(plain).not.toHaveProperty('clique');
  });

  test('only an AgentReady=False condition stops new placements, and only Ready=True of the Node allows them', () => {
    const gn = makeGpuNode('n1');
    gn.status!.conditions!.push({ type: 'AgentReady', status: 'True', reason: 'Up', message: '', lastTransitionTime: '' });
    gn.status!.conditions!.push({ type: 'Degraded', status: 'False', reason: 'No', message: '', lastTransitionTime: '' });
    expect(buildSnapshot([gn], (n) => makeNode(n)).nodes[0]?.schedulable).toBe(true);
    expect(nodeSchedulable({ metadata: {}, status: { conditions: [{ type: 'MemoryPressure', status: 'True' }] } })).toBe(false);
    expect(nodeSchedulable({ metadata: {}, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } })).toBe(false);
    expect(nodeSchedulable({ metadata: {} })).toBe(false);
    expect(nodeSchedulable({ metadata: {}, spec: { unschedulable: false }, status: { conditions: [{ type: 'Ready', status: 'True' }] } })).toBe(true);
  });
});

describe('placementView', () => {
  const base = (): GpuNode => {
    const gn = makeGpuNode('n1', { gpus: 1 });
    gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim }] }] };
    gn.status!.gpus![0]!.slices = [{ profile: '1g.23gb', start: 0, uuid: 'MIG-a', deviceId: 'MIG-a', inUse: false }];
    return gn;
  };

  test('a heartbeat or a new uuid changes nothing placement sees; usage, health and claims do', () => {
    const view = placementView(base());
    const heartbeat = base();
    heartbeat.status!.conditions![0]!.lastTransitionTime = '2026-12-06T00:00:00Z';
    heartbeat.status!.gpus![0]!.slices[0]!.uuid = 'MIG-renamed';
    expect(placementView(heartbeat)).toBe(view);
    const used = base();
    used.status!.gpus![0]!.slices[0]!.inUse = true;
    expect(placementView(used)).not.toBe(view);
    const sick = base();
    sick.status!.gpus![0]!.health = 'Unhealthy';
    expect(placementView(sick)).not.toBe(view);
    const released = base();
    delete released.spec!.gpus![0]!.slices[0]!.claim;
    expect(placementView(released)).not.toBe(view);
  });

  test('a GpuNode without an inventory has an empty view, and a down agent shows in it', () => {
    const bare = base();
    delete bare.status!.inventory;
    expect(placementView(bare)).toBe('[]');
    const down = base();
    down.status!.conditions!.push({ type: 'AgentReady', status: 'False', reason: 'Down', message: '', lastTransitionTime: '' });
    expect(JSON.parse(placementView(down))[0].schedulable).toBe(false);
    expect(JSON.parse(placementView(base()))[0].schedulable).toBe(true);
  });
});
