import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GpuNode, PodRef } from '../../../src/api/types.js';
import { summarisePodResources } from '../../../src/device-plugin/pod-resources-client.js';
import type { PluginDevice } from '../../../src/device-plugin/plugin-server.js';
import { RESOURCES } from '../../../src/k8s/client.js';
import { NodeAgent } from '../../../src/node-agent/agent.js';
import { realisedGpus } from '../../../src/node-agent/gpu-node-status.js';
import { InUseTracker, assignPodDevices, claimedDevices, doomedDevices } from '../../../src/node-agent/in-use-tracker.js';
import { SimulatedNode } from '../../../src/node-agent/simulated-gpu.js';
import { modelForProduct } from '../../../src/placement/catalog.js';
import { FakeClient } from './fake-client.js';

const MIG = 'nvidia.com/mig-1g.23gb';
const b200 = modelForProduct('NVIDIA-B200')!;
const ref = (name: string, namespace = 'ns'): PodRef => ({ namespace, name });
const dev = (id: string, order: number, healthy = true): PluginDevice => ({ id, uuid: id, healthy, place: { group: 0, order } });

async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('pod identity of held devices', () => {
  test('PodResources List folds into held devices per resource and the pod of each device', () => {
    const report = summarisePodResources({
      pod_resources: [
        { name: 'a-0', namespace: 'team', containers: [{ name: 'main', devices: [{ resource_name: MIG, device_ids: ['m1'] }] }] },
        {
          name: 'b-0',
          namespace: 'team',
          containers: [
            { name: 'main', devices: [{ resource_name: MIG, device_ids: ['m2'] }] },
            { name: 'side', devices: [{ resource_name: 'nvidia.com/gpu', device_ids: ['g0', 'g1'] }] },
          ],
        },
      ],
    });
    expect([...report.held.get(MIG)!].sort()).toEqual(['m1', 'm2']);
    expect([...report.held.get('nvidia.com/gpu')!].sort()).toEqual(['g0', 'g1']);
    expect(Object.fromEntries([...report.pods].map(([id, p]) => [id, `${p.namespace}/${p.name}`]))).toEqual({
      m1: 'team/a-0',
      m2: 'team/b-0',
      g0: 'team/b-0',
      g1: 'team/b-0',
    });
  });

  test('the tracker names pods only for devices PodResources reports, and says when a pod changed', () => {
    const t = new InUseTracker(1000, () => 0);
    t.allocated(['x']);
    expect(t.observe(new Set(['m1']), new Map([['m1', ref('a')], ['gone', ref('b')]]))).toBe(true);
    expect(t.podOf('m1')).toEqual(ref('a'));
    expect(t.podOf('gone')).toBeUndefined();
    // Allocated but not yet reported: held, with no pod.
    expect(t.held().has('x')).toBe(true);
    expect(t.podOf('x')).toBeUndefined();
    expect(t.observe(new Set(['m1']), new Map([['m1', ref('a')]]))).toBe(false);
    expect(t.observe(new Set(['m1']), new Map([['m1', ref('c')]]))).toBe(true);
    expect(t.observe(new Set())).toBe(true);
    expect(t.podOf('m1')).toBeUndefined();
  });

  test('status carries the pod only on held devices that have one', () => {
    const gpus = [
      { index: 0, uuid: 'GPU-0', mode: 'mig' as const, health: 'Healthy' as const, slices: [{ profile: '1g.23gb', start: 0, uuid: 'm0' }, { profile: '1g.23gb', start: 1, uuid: 'm1' }] },
      { index: 1, uuid: 'GPU-1', mode: 'whole' as const, health: 'Healthy' as const, slices: [] },
    ];
    const pods = new Map([['m0', ref('a')], ['m1', ref('b')], ['GPU-1', ref('j')]]);
    const out = realisedGpus(gpus, new Set(['m0', 'GPU-1']), (id) => pods.get(id));
    expect(out[0]?.slices.map((s) => [s.inUse, s.pod?.name])).toEqual([[true, 'a'], [false, undefined]]);
    expect(out[0]?.slices[1]).not.toHaveProperty('pod');
    expect(out[1]).toMatchObject({ inUse: true, pod: ref('j') });
  });

  describe('assignPodDevices (kubelet-less nodes)', () => {
    const devices = new Map([[MIG, [dev('m3', 3), dev('m1', 1), dev('m2', 2, false), dev('m0', 0)]]]);

    test('new pods get healthy free devices in board order, pods served by name', () => {
      const out = assignPodDevices([{ pod: ref('b'), need: { [MIG]: 1 } }, { pod: ref('a'), need: { [MIG]: 2 } }], devices, new Map(), new Set());
      expect(Object.fromEntries([...out].map(([id, p]) => [id, p.name]))).toEqual({ m0: 'a', m1: 'a', m3: 'b' });
    });

    test('a pod keeps the devices it held, whatever the order', () => {
      const previous = new Map([['m3', ref('a')], ['m0', ref('b')]]);
      const out = assignPodDevices([{ pod: ref('a'), need: { [MIG]: 1 } }, { pod: ref('b'), need: { [MIG]: 1 } }], devices, previous, new Set(previous.keys()));
      expect(Object.fromEntries([...out].map(([id, p]) => [id, p.name]))).toEqual({ m3: 'a', m0: 'b' });
    });

    test('a device held before with no known pod goes to a pod short of devices before any free one', () => {
      const out = assignPodDevices([{ pod: ref('a'), need: { [MIG]: 1 } }], devices, new Map(), new Set(['m3']));
      expect([...out.keys()]).toEqual(['m3']);
    });

    test('a finished pod’s device is released; a device of another pod is never taken', () => {
      const previous = new Map([['m0', ref('done')], ['m1', ref('b')]]);
      const out = assignPodDevices([{ pod: ref('b'), need: { [MIG]: 1 } }, { pod: ref('c'), need: { [MIG]: 1 } }], devices, previous, new Set(previous.keys()));
      // c takes the orphaned m0 (a running container would keep it); b keeps m1.
      expect(Object.fromEntries([...out].map(([id, p]) => [id, p.name]))).toEqual({ m1: 'b', m0: 'c' });
      const none = assignPodDevices([], devices, previous, new Set(previous.keys()));
      expect(none.size).toBe(0);
    });

    test('a new pod never gets a device the target layout is about to destroy, but a pod holding one keeps it', () => {
      // Found by the chaos run: a pod handed a doomed slice made its GPU's target unreachable (SliceInUse) for good.
      const out = assignPodDevices([{ pod: ref('a'), need: { [MIG]: 1 } }, { pod: ref('b'), need: { [MIG]: 1 } }], devices, new Map([['m1', ref('b')]]), new Set(['m1']), new Set(['m0', 'm1']));
      expect(Object.fromEntries([...out].map(([id, p]) => [id, p.name]))).toEqual({ m3: 'a', m1: 'b' });
    });

    test('doomed devices: slices missing from their GPU\'s target, whole GPUs going MIG; untargeted GPUs keep theirs', () => {
      const gpus = [
        { index: 0, uuid: 'GPU-0', mode: 'mig' as const, slices: [{ uuid: 'a', profile: '1g.23gb', start: 0 }, { uuid: 'b', profile: '1g.23gb', start: 1 }] },
        { index: 1, uuid: 'GPU-1', mode: 'whole' as const, slices: [] },
        { index: 2, uuid: 'GPU-2', mode: 'mig' as const, slices: [{ uuid: 'c', profile: '7g.180gb', start: 0 }] },
        { index: 3, uuid: 'GPU-3', mode: 'mig' as const, slices: [{ uuid: 'd', profile: '1g.23gb', start: 0 }] },
      ];
      const target = [
        { index: 0, mode: 'mig' as const, slices: [{ profile: '1g.23gb', start: 1 }, { profile: '1g.23gb', start: 2 }] },
        { index: 1, mode: 'mig' as const, slices: [] },
        { index: 2, mode: 'whole' as const, slices: [] },
      ];
      expect([...doomedDevices(gpus, target)].sort()).toEqual(['GPU-1', 'a', 'c']);
      expect(doomedDevices(gpus, undefined).size).toBe(0);
    });

    test('a new pod gets a slice the ledger reserves before a spare one, whatever the board order', () => {
      // Found by the chaos run: a consumer pod given a spare slice (board order) while its partition's slice sat
      // idle; the operator then re-carved the spare slice and the node's layout was refused for good.
      const out = assignPodDevices([{ pod: ref('a'), need: { [MIG]: 1 } }], devices, new Map(), new Set(), new Set(), new Set(['m3']));
      expect([...out.keys()]).toEqual(['m3']);
      const gpus = [
        { index: 0, uuid: 'GPU-0', mode: 'mig' as const, slices: [{ uuid: 'a', profile: '1g.23gb', start: 0 }, { uuid: 'b', profile: '1g.23gb', start: 1 }] },
        { index: 1, uuid: 'GPU-1', mode: 'whole' as const, slices: [] },
        { index: 2, uuid: 'GPU-2', mode: 'whole' as const, slices: [] },
      ];
      const claim = { kind: 'GpuPartition', name: 'p' };
      const target = [
        { index: 0, mode: 'mig' as const, slices: [{ profile: '1g.23gb', start: 0 }, { profile: '1g.23gb', start: 1, claim }] },
        { index: 1, mode: 'whole' as const, slices: [], claim },
        { index: 2, mode: 'mig' as const, slices: [{ profile: '7g.180gb', start: 0, claim }] },
      ];
      expect([...claimedDevices(gpus, target)].sort()).toEqual(['GPU-1', 'b']);
    });

    test('never hands out more devices than exist', () => {
      const out = assignPodDevices([{ pod: ref('a'), need: { [MIG]: 5 } }], devices, new Map(), new Set());
      expect([...out.keys()].sort()).toEqual(['m0', 'm1', 'm3']);
    });
  });

  describe('NodeAgent', () => {
    let client: FakeClient;
    let agent: NodeAgent;
    let sim: SimulatedNode;
    const slices = async () => (await client.get<GpuNode>(RESOURCES.gpuNode, 'node-a'))!.status?.gpus?.[0]?.slices ?? [];

    beforeEach(async () => {
      client = new FakeClient();
      await client.create(RESOURCES.node, { metadata: { name: 'node-a' } });
      sim = (await SimulatedNode.open({ node: 'node-a', model: b200, gpuCount: 2, reconfigureDelayMs: 1 })).sim;
    });
    afterEach(() => agent.stop());

    async function withSlices(a: NodeAgent): Promise<string[]> {
      agent = a;
      await agent.start();
      await client.mergePatch(RESOURCES.gpuNode, 'node-a', {
        spec: { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0 }, { profile: '1g.23gb', start: 1 }] }] },
      });
      await until(async () => (await slices()).length === 2);
      return (await slices()).map((s) => s.deviceId);
    }

    test('reports the pod PodResources names for each held slice', async () => {
      const report = { held: new Map<string, Set<string>>(), pods: new Map<string, PodRef>() };
      const ids = await withSlices(
        new NodeAgent({ sim, client, patchNodeCapacity: true, podResources: { list: async () => report.held, report: async () => report }, podResourcesIntervalMs: 20 }),
      );
      report.held.set(MIG, new Set([ids[1] as string]));
      report.pods.set(ids[1] as string, ref('a-0', 'team'));
      await until(async () => (await slices())[1]?.pod?.name === 'a-0');
      expect((await slices()).map((s) => [s.inUse, s.pod ? `${s.pod.namespace}/${s.pod.name}` : undefined])).toEqual([[false, undefined], [true, 'team/a-0']]);
      // Another pod on the same device (same held set): the status follows.
      report.pods.set(ids[1] as string, ref('b-0', 'team'));
      await until(async () => (await slices())[1]?.pod?.name === 'b-0');
      report.held.clear();
      report.pods.clear();
      await until(async () => (await slices()).every((s) => !s.inUse && !s.pod));
    });

    test('kubelet-less: a restarted agent keeps every running pod on the device it held', async () => {
      // Found by the chaos run: after a SIGKILL the agent re-dealt the held devices in pod-name order, so running
      // pods swapped slices (a kubelet never does that) and the ledger no longer matched what pods hold.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'haein-pod-identity-'));
      const stateFile = path.join(dir, 'node-a.json');
      sim = (await SimulatedNode.open({ node: 'node-a', model: b200, gpuCount: 2, reconfigureDelayMs: 1, stateFile })).sim;
      const ids = await withSlices(new NodeAgent({ sim, client, patchNodeCapacity: true }));
      const pod = (name: string) => ({ metadata: { namespace: 'team', name }, spec: { containers: [{ resources: { limits: { [MIG]: '1' } } }] } });
      await agent.observePods([pod('z-0')]);
      await agent.observePods([pod('z-0'), pod('a-0')]);
      await until(async () => (await slices()).every((s) => s.pod));
      const before = (await slices()).map((s) => s.pod?.name);
      expect(before).toEqual(['z-0', 'a-0']);
      await agent.stop();
      const reopened = (await SimulatedNode.open({ node: 'node-a', model: b200, gpuCount: 2, reconfigureDelayMs: 1, stateFile })).sim;
      expect([reopened.heldPod(ids[0]!)?.name, reopened.heldPod(ids[1]!)?.name]).toEqual(['z-0', 'a-0']);
      agent = new NodeAgent({ sim: reopened, client, patchNodeCapacity: true });
      await agent.start();
      await agent.observePods([pod('a-0'), pod('z-0')]);
      await until(async () => (await slices()).every((s) => s.pod));
      expect((await slices()).map((s) => s.pod?.name)).toEqual(before);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('the device plugin is told to offer reserved slices first and doomed ones last (GetPreferredAllocation)', async () => {
      const ids = await withSlices(new NodeAgent({ sim, client, patchNodeCapacity: true }));
      expect(ids.map((id) => agent.devicePreferences()(id))).toEqual([1, 1]);
      // A pod holds slice @0, so the agent keeps it while the target no longer has it.
      await agent.observePods([{ metadata: { namespace: 'team', name: 'p-0' }, spec: { containers: [{ resources: { limits: { [MIG]: '1' } } }] } }]);
      await until(async () => (await slices())[0]?.inUse === true);
      // The ledger reserves slice @1 and drops slice @0 from the target (it is to be destroyed once free).
      await client.mergePatch(RESOURCES.gpuNode, 'node-a', {
        spec: { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 1, claim: { kind: 'GpuPartition', namespace: 'team', name: 'nb', uid: 'u', slot: 0 } }] }] },
      });
      await until(() => agent.devicePreferences()(ids[0]!) === 2);
      expect(agent.devicePreferences()(ids[1]!)).toBe(0);
      expect(agent.devicePreferences()('unknown-device')).toBe(1);
    });

    test('kubelet-less: running pods are given devices and named in the status', async () => {
      await withSlices(new NodeAgent({ sim, client, patchNodeCapacity: true }));
      const pod = (name: string, uid: string) => ({
        metadata: { namespace: 'team', name, uid },
        spec: { containers: [{ resources: { limits: { [MIG]: '1' } } }] },
      });
      await agent.observePods([pod('b-0', 'u-b'), pod('a-0', 'u-a')]);
      await until(async () => (await slices()).every((s) => s.pod));
      expect((await slices()).map((s) => s.pod)).toEqual([
        { namespace: 'team', name: 'a-0', uid: 'u-a' },
        { namespace: 'team', name: 'b-0', uid: 'u-b' },
      ]);
      // a-0 finishes: b-0 keeps its slice, a-0's slice is idle again.
      await agent.observePods([pod('b-0', 'u-b')]);
      await until(async () => !(await slices())[0]?.inUse);
      expect((await slices()).map((s) => s.pod?.name)).toEqual([undefined, 'b-0']);
    });
  });
});
