import { migResourceName } from '../../../src/api/constants.js';
import { healthyCounts, pluginDevices } from '../../../src/node-agent/device-inventory.js';
import type { SimGpu } from '../../../src/node-agent/simulated-gpu-types.js';

const gpu = (index: number, mode: 'mig' | 'whole', slices: Array<[string, number]> = [], health: 'Healthy' | 'Unhealthy' = 'Healthy'): SimGpu => ({
  index,
  uuid: `GPU-${index}`,
  mode,
  health,
  slices: slices.map(([profile, start]) => ({ profile, start, uuid: `MIG-${index}-${profile}-${start}` })),
});

describe('pluginDevices', () => {
  const gpus = [gpu(0, 'mig', [['1g.23gb', 0], ['1g.23gb', 1], ['3g.90gb', 4]]), gpu(1, 'whole'), gpu(2, 'whole', [], 'Unhealthy'), gpu(3, 'mig')];

  it('maps whole GPUs to nvidia.com/gpu and MIG instances to nvidia.com/mig-<profile> (mixed strategy)', () => {
    const devices = pluginDevices(gpus, { gpuCount: 4 });
    expect([...devices.keys()].sort()).toEqual(['nvidia.com/gpu', 'nvidia.com/mig-1g.23gb', 'nvidia.com/mig-3g.90gb']);
    expect(devices.get('nvidia.com/mig-1g.23gb')!.map((d) => d.id)).toEqual(['MIG-0-1g.23gb-0', 'MIG-0-1g.23gb-1']);
    expect(devices.get('nvidia.com/gpu')!.map((d) => [d.id, d.healthy])).toEqual([
      ['GPU-1', true],
      ['GPU-2', false],
    ]);
    expect(healthyCounts(devices)).toEqual({ 'nvidia.com/gpu': 1, 'nvidia.com/mig-1g.23gb': 2, 'nvidia.com/mig-3g.90gb': 1 });
  });

  it('derives NVLink groups and NUMA nodes from the board layout', () => {
    const eight = Array.from({ length: 8 }, (_, i) => gpu(i, 'whole'));
    const devices = pluginDevices(eight, { gpuCount: 8, nvlinkGroupSize: 4 }).get('nvidia.com/gpu')!;
    expect(devices.map((d) => d.place.group)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(devices.map((d) => d.numaNode)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(pluginDevices(eight, { gpuCount: 8 }).get('nvidia.com/gpu')!.every((d) => d.place.group === 0)).toBe(true);
  });

  it('advertises media-extension instances under the base profile, as NVIDIA does', () => {
    expect(migResourceName('1g.23gb+me')).toBe('nvidia.com/mig-1g.23gb');
    const devices = pluginDevices([gpu(0, 'mig', [['1g.23gb+me', 0], ['1g.23gb', 1]])], { gpuCount: 1 });
    expect([...devices.keys()]).toEqual(['nvidia.com/mig-1g.23gb']);
    expect(devices.get('nvidia.com/mig-1g.23gb')).toHaveLength(2);
  });
});
