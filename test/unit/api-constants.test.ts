import { KubeConfig } from '@kubernetes/client-node';
import { migResourceName, API_VERSION } from '../../src/api/constants.js';

describe('api constants', () => {
  it('names MIG resources the way the NVIDIA mixed strategy does', () => {
    expect(migResourceName('1g.23gb')).toBe('nvidia.com/mig-1g.23gb');
    expect(migResourceName('1g.23gb+me')).toBe('nvidia.com/mig-1g.23gb');
    expect(API_VERSION).toBe('gpu.haein.dev/v1alpha1');
  });
  it('loads the ESM-only client library under Jest', () => {
    const kc = new KubeConfig();
    kc.loadFromString('apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:1');
  });
});
