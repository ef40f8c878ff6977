import { podDeviceRequests } from '../../../src/node-agent/pod-devices.js';

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
