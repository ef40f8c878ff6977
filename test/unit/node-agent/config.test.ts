import { cliqueFor, parseConfig, type NodeAgentConfig } from '../../../src/node-agent/config.js';

describe('parseConfig', () => {
  it('reads flags, falls back to the environment and applies defaults', () => {
    const c = parseConfig(['--model=NVIDIA-GB200', '--gpus', '4', '--reconfigure-delay-ms=5'], { NODE_NAME: 'n1', HAEIN_HEALTH_PORT: '0' }) as NodeAgentConfig;
    expect(c).toMatchObject({
      nodes: ['n1'],
      model: 'NVIDIA-GB200',
      gpus: 4,
      reconfigureDelayMs: 5,
      healthPort: 0,
      devicePlugin: true,
      devicePluginDir: '/var/lib/kubelet/device-plugins',
      podResourcesSocket: '/var/lib/kubelet/pod-resources/kubelet.sock',
      stateDir: '/var/lib/haein',
    });
    expect(parseConfig(['--node-name', 'flag'], { NODE_NAME: 'env' })).toMatchObject({ nodes: ['flag'] });
  });

  it('serves many simulated nodes only without a device plugin', () => {
    expect(() => parseConfig(['--nodes', 'a,b'], {})).toThrow(/--no-device-plugin/);
    expect(parseConfig(['--nodes', 'a, b', '--no-device-plugin'], {})).toMatchObject({ nodes: ['a', 'b'], devicePlugin: false });
    expect(parseConfig(['--node-selector', 'type=kwok'], { HAEIN_NO_DEVICE_PLUGIN: 'true' })).toMatchObject({ nodeSelector: 'type=kwok', nodes: [] });
    expect(() => parseConfig(['--nodes', 'a,b', '--no-device-plugin', '--state-file', '/x'], {})).toThrow(/--state-dir/);
  });

  it('rejects missing nodes, bad numbers and unknown flags', () => {
    expect(() => parseConfig([], {})).toThrow(/no node/);
    expect(() => parseConfig(['--node-name', 'n', '--gpus', '0'], {})).toThrow(/--gpus/);
    expect(() => parseConfig(['--node-name', 'n', '--bogus'], {})).toThrow();
    expect(parseConfig(['--help'], {})).toBe('help');
  });

  it('groups consecutive nodes into cliques', () => {
    const c = parseConfig(['--nodes', 'a,b,c', '--no-device-plugin', '--nodes-per-clique', '2', '--clique', 'rack.0'], {}) as NodeAgentConfig;
    expect([0, 1, 2].map((i) => cliqueFor(c, i))).toEqual(['rack.0', 'rack.0', 'rack.1']);
    const fixed = parseConfig(['--node-name', 'a', '--clique', 'x.3'], {}) as NodeAgentConfig;
    expect(cliqueFor(fixed, 5)).toBe('x.3');
  });
});
