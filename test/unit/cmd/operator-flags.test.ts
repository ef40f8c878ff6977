import { parseOperatorArgs } from '../../../src/cmd/operator-flags.js';

describe('parseOperatorArgs', () => {
  test('defaults', () => {
    const cfg = parseOperatorArgs([], { POD_NAME: 'op-1', POD_NAMESPACE: 'haein' });
    expect(cfg).toMatchObject({ metricsPort: 8080, healthPort: 8081, leaderElect: true, leaseNamespace: 'haein', identity: 'op-1', workers: 2, defrag: true, logLevel: 'info' });
    expect(cfg.namespace).toBeUndefined();
  });

  test('flags in both spellings, booleans, env log level', () => {
    const cfg = parseOperatorArgs(['--kubeconfig', '/k', '--metrics-port=9090', '--leader-elect=false', '--namespace=team-a', '--lease-namespace', 'x'], { LOG_LEVEL: 'debug' });
    expect(cfg).toMatchObject({ kubeconfig: '/k', metricsPort: 9090, leaderElect: false, namespace: 'team-a', leaseNamespace: 'x', logLevel: 'debug' });
    expect(parseOperatorArgs(['--leader-elect'], {}).leaderElect).toBe(true);
    expect(parseOperatorArgs(['--defrag=false'], {}).defrag).toBe(false);
    expect(parseOperatorArgs(['--defrag'], {}).defrag).toBe(true);
  });

  test('bad input names the flag', () => {
    expect(() => parseOperatorArgs(['--metrics-port=http'], {})).toThrow(/--metrics-port=http/);
    expect(() => parseOperatorArgs(['--frobnicate=1'], {})).toThrow(/unknown flag --frobnicate/);
    expect(() => parseOperatorArgs(['--namespace'], {})).toThrow(/needs a value/);
    expect(() => parseOperatorArgs(['--leader-elect=maybe'], {})).toThrow(/true or false/);
  });
});
