import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodResourcesClient } from '../../../src/device-plugin/pod-resources-client.js';
import { FakePodResources } from './fake-pod-resources.js';

describe('PodResourcesClient', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haein-pr-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('collects the device IDs every container holds, per resource', async () => {
    const server = new FakePodResources(join(dir, 'kubelet.sock'));
    server.hold('ns/a/main', 'nvidia.com/mig-1g.23gb', ['MIG-1', 'MIG-2']);
    server.hold('ns/b/main', 'nvidia.com/mig-1g.23gb', ['MIG-3']);
    server.hold('ns/b/side', 'nvidia.com/gpu', ['GPU-7']);
    await server.start();
    const client = new PodResourcesClient(server.socketPath);
    try {
      const held = await client.list();
      expect([...held.get('nvidia.com/mig-1g.23gb')!].sort()).toEqual(['MIG-1', 'MIG-2', 'MIG-3']);
      expect([...held.get('nvidia.com/gpu')!]).toEqual(['GPU-7']);
    } finally {
      client.close();
      server.stop();
    }
  });

  it('rejects when the kubelet socket is absent', async () => {
    const client = new PodResourcesClient(join(dir, 'missing.sock'));
    try {
      await expect(client.list(500)).rejects.toBeDefined();
    } finally {
      client.close();
    }
  });
});
