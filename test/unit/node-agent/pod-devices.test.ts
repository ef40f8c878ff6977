import type { PluginDevice } from '../../../src/device-plugin/plugin-server.js';
import { assignHeld, podDeviceRequests } from '../../../src/node-agent/pod-devices.js';

const dev = (id: string, order: number, healthy = true): PluginDevice => ({ id, uuid: id, healthy, place: { group: 0, order } });

describe('podDeviceRequests', () => {
  it('sums nvidia.com limits over containers and ignores other resources', () => {
    expect(
      podDeviceRequests({
        spec: {
          containers: [
            { resources: { limits: { 'nvidia.com/mig-1g.23gb': '1', cpu: '2' } } },
            { resources: { limits: { 'nvidia.com/mig-1g.23gb': 2, 'nvidia.com/gpu': '1' } } },
            {},
          ],
        },
      }),
    ).toEqual({ 'nvidia.com/mig-1g.23gb': 3, 'nvidia.com/gpu': 1 });
  });
});

describe('assignHeld', () => {
  const devices = new Map([['r', [dev('c', 2), dev('a', 0), dev('b', 1, false), dev('d', 3)]]]);

  it('keeps devices already held and adds healthy free ones in board order', () => {
    expect([...assignHeld({ r: 2 }, devices, new Set(['d']))].sort()).toEqual(['a', 'd']);
    expect([...assignHeld({ r: 3 }, devices, new Set())].sort()).toEqual(['a', 'c', 'd']);
  });

  it('releases devices no pod needs any more and never exceeds what exists', () => {
    expect(assignHeld({}, devices, new Set(['a'])).size).toBe(0);
    expect(assignHeld({ r: 9, other: 1 }, devices, new Set()).size).toBe(3);
  });
});
