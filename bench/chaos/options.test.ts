import { describe, expect, it } from '@jest/globals';
import { parseChaosArgs, type ChaosOptions } from './options.js';

const required = ['--kubeconfig', '/k', '--cluster-state', '/s', '--operator-kubeconfigs', '/a,/b', '--audit-log', '/audit'];

describe('parseChaosArgs', () => {
  it('defaults to the long run and has a short preset for make test', () => {
    const long = parseChaosArgs(required) as ChaosOptions;
    expect([long.nodes, long.objects, long.durationS, long.leaderKillEveryS, long.leaderStopS, long.leaseDurationS]).toEqual([32, 2000, 600, 10, 22, 15]);
    const short = parseChaosArgs([...required, '--preset', 'short']) as ChaosOptions;
    expect([short.nodes, short.objects, short.durationS]).toEqual([16, 200, 90]);
    expect((parseChaosArgs([...required, '--preset=short', '--nodes=8']) as ChaosOptions).nodes).toBe(8);
    expect(short.operatorKubeconfigs).toEqual(['/a', '/b']);
  });

  it('answers --help and refuses missing or bad flags with the reason', () => {
    expect(parseChaosArgs(['--help'])).toBe('help');
    expect(() => parseChaosArgs(['--kubeconfig', '/k'])).toThrow(/--cluster-state is required/);
    expect(() => parseChaosArgs([...required, '--leader-stop-s', '10'])).toThrow(/must exceed --lease-duration-s/);
    expect(() => parseChaosArgs([...required, '--max-utilisation', '2'])).toThrow(/--max-utilisation=2/);
    expect(() => parseChaosArgs([...required, '--duration-s', '20'])).toThrow(/too short/);
    expect(() => parseChaosArgs([...required.slice(0, 4), '--operator-kubeconfigs', '/a', '--audit-log', '/x'])).toThrow(/two paths/);
    expect(() => parseChaosArgs([...required, '--bogus'])).toThrow(/bogus/);
  });
});
