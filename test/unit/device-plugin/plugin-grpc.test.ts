import * as grpc from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevicePluginManager } from '../../../src/device-plugin/plugin-manager.js';
import { type PluginDevice, pluginSocketName } from '../../../src/device-plugin/plugin-server.js';
import { FakeKubelet } from './fake-kubelet.js';

const MIG = 'nvidia.com/mig-1g.23gb';
const GPU = 'nvidia.com/gpu';

function migDevices(n: number, healthy = true): PluginDevice[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `MIG-0000000${i}-aaaa-bbbb-cccc-dddddddddddd`,
    uuid: `MIG-0000000${i}-aaaa-bbbb-cccc-dddddddddddd`,
    healthy,
    numaNode: 0,
    place: { group: 0, order: i },
  }));
}

function gpuDevices(indices: number[], groupSize = 4): PluginDevice[] {
  return indices.map((i) => ({
    id: `gpu-${i}`,
    uuid: `GPU-0000000${i}-1111-2222-3333-444444444444`,
    healthy: true,
    place: { group: Math.floor(i / groupSize), order: i },
  }));
}

describe('device plugin over the kubelet gRPC API', () => {
  let dir: string;
  let kubelet: FakeKubelet;
  let manager: DevicePluginManager;
  const allocations: Array<[string, string[]]> = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haein-dp-'));
    kubelet = new FakeKubelet(dir);
    await kubelet.start();
    allocations.length = 0;
    manager = new DevicePluginManager({ dir, pollIntervalMs: 100, onAllocate: (r, ids) => allocations.push([r, ids]) });
    manager.start();
  });

  afterEach(async () => {
    await manager.stop();
    await kubelet.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers with version v1beta1, its socket name and preferred allocation, then streams the devices', async () => {
    await manager.update(new Map([[MIG, migDevices(2)]]));
    const conn = await kubelet.waitForConnection(MIG);
    expect(conn.request.version).toBe('v1beta1');
    expect(conn.request.endpoint).toBe(pluginSocketName(MIG));
    expect(conn.request.options.get_preferred_allocation_available).toBe(true);
    expect(conn.options).toEqual({ pre_start_required: false, get_preferred_allocation_available: true });
    expect(existsSync(join(dir, pluginSocketName(MIG)))).toBe(true);
    await conn.waitFor((c) => c.latest().length === 2);
    expect(conn.latest().map((d) => d.health)).toEqual(['Healthy', 'Healthy']);
  });

  it('registers once when devices are published before the watch loop first runs', async () => {
    await manager.stop();
    manager = new DevicePluginManager({ dir, pollIntervalMs: 100 });
    await manager.update(new Map([[MIG, migDevices(1)]]));
    manager.start();
    await kubelet.waitForConnection(MIG);
    // The watch loop must not mistake the kubelet it just registered with for a restarted one.
    await new Promise((r) => setTimeout(r, 400));
    expect(kubelet.connections.filter((c) => c.request.resource_name === MIG)).toHaveLength(1);
  });

  it('pushes a layout change and a health change on the open stream without re-registering', async () => {
    await manager.update(new Map([[MIG, migDevices(2)]]));
    const conn = await kubelet.waitForConnection(MIG);
    await conn.waitFor((c) => c.latest().length === 2);
    const registrations = kubelet.connections.length;

    const changedAt = Date.now();
    await manager.update(new Map([[MIG, migDevices(5)]]));
    await conn.waitFor((c) => c.latest().length === 5, 2000);
    const latencyMs = conn.updates.at(-1)!.at - changedAt;
    console.log(`layout change -> ListAndWatch update latency: ${latencyMs} ms`);
    expect(latencyMs).toBeLessThan(1000);

    await manager.update(new Map([[MIG, migDevices(5, false)]]));
    await conn.waitFor((c) => c.latest().every((d) => d.health === 'Unhealthy'), 2000);
    expect(kubelet.connections.length).toBe(registrations);
    expect(conn.ended).toBe(false);
  });

  it('answers Allocate with NVIDIA_VISIBLE_DEVICES and refuses unknown device IDs', async () => {
    await manager.update(new Map([[GPU, gpuDevices([0, 1, 2, 3])]]));
    const conn = await kubelet.waitForConnection(GPU);
    const res = await conn.allocate([['gpu-1', 'gpu-2'], ['gpu-3']]);
    expect(res.container_responses.map((r) => r.envs.NVIDIA_VISIBLE_DEVICES)).toEqual([
      'GPU-00000001-1111-2222-3333-444444444444,GPU-00000002-1111-2222-3333-444444444444',
      'GPU-00000003-1111-2222-3333-444444444444',
    ]);
    expect(allocations).toEqual([
      [GPU, ['gpu-1', 'gpu-2']],
      [GPU, ['gpu-3']],
    ]);
    await expect(conn.allocate([['gpu-9']])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it('refuses an Allocate that names one device twice, in one container or across containers, and records nothing', async () => {
    await manager.update(new Map([[GPU, gpuDevices([0, 1, 2, 3])]]));
    const conn = await kubelet.waitForConnection(GPU);
    await expect(conn.allocate([['gpu-1', 'gpu-1']])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/more than once: gpu-1$/) });
    await expect(conn.allocate([['gpu-1'], ['gpu-2', 'gpu-1']])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/gpu-1/) });
    expect(allocations).toEqual([]);
  });

  it('refuses a preferred-allocation request it cannot answer correctly', async () => {
    await manager.update(new Map([[GPU, gpuDevices([0, 1, 2, 3])]]));
    const conn = await kubelet.waitForConnection(GPU);
    const invalid = { code: grpc.status.INVALID_ARGUMENT };
    // A must-include device the kubelet does not offer.
    await expect(conn.preferred(['gpu-0', 'gpu-1'], ['gpu-3'], 2)).rejects.toMatchObject({ ...invalid, details: expect.stringMatching(/gpu-3.*not in the available/) });
    // More must-include devices than the allocation size.
    await expect(conn.preferred(['gpu-0', 'gpu-1', 'gpu-2'], ['gpu-0', 'gpu-1'], 1)).rejects.toMatchObject({ ...invalid, details: expect.stringMatching(/exceed/) });
    // More devices than are available.
    await expect(conn.preferred(['gpu-0', 'gpu-1'], [], 3)).rejects.toMatchObject({ ...invalid, details: expect.stringMatching(/3.*2 available/) });
    // A must-include device also listed as available (what the kubelet sends) is picked once.
    const ok = await conn.preferred(['gpu-2', 'gpu-0', 'gpu-1'], ['gpu-2'], 2);
    expect(ok.container_responses[0].deviceIDs).toHaveLength(2);
    expect(new Set(ok.container_responses[0].deviceIDs).size).toBe(2);
    expect(ok.container_responses[0].deviceIDs).toContain('gpu-2');
  });

  it('prefers GPUs of one NVLink group over a split across groups', async () => {
    await manager.update(new Map([[GPU, gpuDevices([0, 1, 2, 3, 4, 5, 6, 7])]]));
    const conn = await kubelet.waitForConnection(GPU);
    // Group 0 has 0,1,3 free; group 1 has 4,5,6,7 free. Two GPUs fit the smaller group 0.
    const res = await conn.preferred(['gpu-0', 'gpu-3', 'gpu-1', 'gpu-4', 'gpu-5', 'gpu-6', 'gpu-7'], [], 2);
    expect(res.container_responses[0].deviceIDs).toEqual(['gpu-0', 'gpu-1']);
    const four = await conn.preferred(['gpu-0', 'gpu-3', 'gpu-1', 'gpu-4', 'gpu-5', 'gpu-6', 'gpu-7'], [], 4);
    expect(four.container_responses[0].deviceIDs).toEqual(['gpu-4', 'gpu-5', 'gpu-6', 'gpu-7']);
  });

  it('retires a vanished resource with an empty list and starts servers for new ones', async () => {
    await manager.update(new Map([[MIG, migDevices(2)]]));
    const mig = await kubelet.waitForConnection(MIG);
    await mig.waitFor((c) => c.latest().length === 2);

    await manager.update(new Map([[GPU, gpuDevices([0])]]));
    await mig.waitFor((c) => c.ended, 3000);
    expect(mig.updates.at(-1)!.devices).toEqual([]);
    expect(existsSync(join(dir, pluginSocketName(MIG)))).toBe(false);
    const gpu = await kubelet.waitForConnection(GPU);
    await gpu.waitFor((c) => c.latest().length === 1);
    expect(manager.resources()).toEqual([GPU]);
  });

  it('re-registers within seconds after the kubelet restarts and wipes the sockets', async () => {
    await manager.update(new Map([[MIG, migDevices(3)], [GPU, gpuDevices([7])]]));
    await kubelet.waitForConnection(MIG);
    await kubelet.waitForConnection(GPU);

    const restartedAt = Date.now();
    await kubelet.restart();
    const mig = await kubelet.waitForConnection(MIG, restartedAt, 5000);
    const gpu = await kubelet.waitForConnection(GPU, restartedAt, 5000);
    const seconds = (Math.max(mig.registeredAt, gpu.registeredAt) - restartedAt) / 1000;
    console.log(`re-registration after kubelet restart: ${seconds.toFixed(3)} s`);
    expect(seconds).toBeLessThan(3);
    await mig.waitFor((c) => c.latest().length === 3);
    expect(existsSync(join(dir, pluginSocketName(MIG)))).toBe(true);
  });

  it('keeps retrying registration until the kubelet accepts it', async () => {
    kubelet.rejectRegistrations = true;
    await manager.update(new Map([[MIG, migDevices(1)]]));
    await new Promise((r) => setTimeout(r, 300));
    expect(manager.allRegistered()).toBe(false);
    kubelet.rejectRegistrations = false;
    const conn = await kubelet.waitForConnection(MIG, 0, 3000);
    expect(conn.request.resource_name).toBe(MIG);
    expect(manager.allRegistered()).toBe(true);
  });
});
