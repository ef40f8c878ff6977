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
    expect(() => parseOperatorArgs(['--lease-duration-ms=3000', '--renew-deadline-ms=3000'], {})).toThrow(/must be shorter than --lease-duration-ms/);
  });

  test('lease timing, admission cycle bounds and claimant workers', () => {
    const cfg = parseOperatorArgs(['--lease-duration-ms=3000', '--renew-deadline-ms=2000', '--retry-period-ms=200', '--cycle-max-batch=50', '--cycle-max-plan-ms=20', '--claimant-workers=4'], {});
    expect(cfg).toMatchObject({ leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200, cycleMaxBatch: 50, cycleMaxPlanMs: 20, claimantWorkers: 4 });
    expect(parseOperatorArgs([], {})).toMatchObject({ leaseDurationMs: 15000, renewDeadlineMs: 10000, retryPeriodMs: 2000, cycleMaxBatch: 1000, cycleMaxPlanMs: 200, claimantWorkers: 16 });
  });

  test('metering and the billing export', () => {
    expect(parseOperatorArgs([], {})).toMatchObject({ metering: true, meteringIntervalMs: 30000, meteringRetentionDays: 90 });
    expect(parseOperatorArgs([], {}).billingPort).toBeUndefined();
    const cfg = parseOperatorArgs(['--metering-interval-ms=2000', '--metering-retention-days=400', '--billing-port=8091'], {});
    expect(cfg).toMatchObject({ metering: true, meteringIntervalMs: 2000, meteringRetentionDays: 400, billingPort: 8091 });
    expect(parseOperatorArgs(['--metering=false'], {}).metering).toBe(false);
    expect(parseOperatorArgs(['--metering'], {}).metering).toBe(true);
    expect(() => parseOperatorArgs(['--metering-interval-ms=10'], {})).toThrow(/--metering-interval-ms=10: expected an integer between 100/);
    expect(() => parseOperatorArgs(['--metering-retention-days=0'], {})).toThrow(/--metering-retention-days=0/);
    expect(() => parseOperatorArgs(['--metering=false', '--billing-port=8091'], {})).toThrow(/--billing-port needs --metering/);
  });
});
