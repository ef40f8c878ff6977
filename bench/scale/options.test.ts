import { describe, expect, it } from '@jest/globals';
import { parseScaleArgs } from './options.js';

describe('parseScaleArgs', () => {
  it('defaults to the 128-node, 1000-partition run with one job per 32 nodes', () => {
    const o = parseScaleArgs(['--kubeconfig', '/k']);
    expect([o.nodes, o.gpus, o.nodesPerClique, o.partitions, o.jobs, o.leaderElect, o.workers]).toEqual([128, 8, 8, 1000, 4, false, 2]);
  });

  it('scales the default job count with --nodes and takes explicit values', () => {
    expect(parseScaleArgs(['--kubeconfig', '/k', '--nodes', '16', '--partitions', '100']).jobs).toBe(1);
    const o = parseScaleArgs(['--kubeconfig=/k', '--nodes=64', '--jobs=0', '--leader-elect=true', '--keep-logs']);
    expect([o.nodes, o.jobs, o.leaderElect, o.keepLogs]).toEqual([64, 0, true, true]);
  });

  it('has separate ready and release timeouts and an optional steady-state hold', () => {
    const d = parseScaleArgs(['--kubeconfig', '/k']);
    expect([d.timeoutS, d.releaseTimeoutS, d.holdS, d.profileOperator]).toEqual([420, 120, 0, false]);
    const o = parseScaleArgs(['--kubeconfig', '/k', '--timeout-s', '60', '--release-timeout-s', '30', '--hold-s', '330', '--profile-operator']);
    expect([o.timeoutS, o.releaseTimeoutS, o.holdS, o.profileOperator]).toEqual([60, 30, 330, true]);
    expect(() => parseScaleArgs(['--kubeconfig', '/k', '--hold-s', '-1'])).toThrow(/--hold-s/);
  });

  it('rejects a missing kubeconfig, unknown flags, bad numbers and bad names', () => {
    expect(() => parseScaleArgs([])).toThrow(/--kubeconfig is required/);
    expect(() => parseScaleArgs(['--kubeconfig', '/k', '--bogus', '1'])).toThrow(/bogus/);
    expect(() => parseScaleArgs(['--kubeconfig', '/k', '--nodes', '0'])).toThrow(/--nodes=0/);
    expect(() => parseScaleArgs(['--kubeconfig', '/k', '--leader-elect', 'maybe'])).toThrow(/true or false/);
    expect(() => parseScaleArgs(['--kubeconfig', '/k', '--namespace', 'Bad_NS'])).toThrow(/--namespace/);
  });
});
