import { describe, expect, it } from '@jest/globals';
import { parseAutoscaleArgs } from './options.js';

describe('parseAutoscaleArgs', () => {
  it('defaults to a small run: 2 nodes × 8 GPUs, 10 single steps and a burst of 6 of 3g.90gb', () => {
    const o = parseAutoscaleArgs(['--kubeconfig', '/k']);
    expect([o.nodes, o.gpus, o.steps, o.burst, o.profile, o.reconfigureDelayMs, o.timeoutS]).toEqual([2, 8, 10, 6, '3g.90gb', 100, 120]);
  });

  it('takes explicit values, and --cluster-state (passed by hack/scale-bench.sh) is accepted', () => {
    const o = parseAutoscaleArgs(['--kubeconfig=/k', '--cluster-state', '/s', '--steps=3', '--burst=0', '--profile', '1g.23gb', '--nodes', '1']);
    expect([o.steps, o.burst, o.profile, o.nodes]).toEqual([3, 0, '1g.23gb', 1]);
  });

  it('refuses a missing kubeconfig, a bad number and a bad profile, naming the flag', () => {
    expect(() => parseAutoscaleArgs([])).toThrow(/--kubeconfig is required/);
    expect(() => parseAutoscaleArgs(['--kubeconfig', '/k', '--steps', '0'])).toThrow(/--steps=0: expected an integer ≥ 1/);
    expect(() => parseAutoscaleArgs(['--kubeconfig', '/k', '--profile', 'big'])).toThrow(/--profile=big/);
    expect(() => parseAutoscaleArgs(['--kubeconfig', '/k', '--bogus'])).toThrow(/bogus/);
  });
});
