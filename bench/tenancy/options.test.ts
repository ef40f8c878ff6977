import { describe, expect, it } from '@jest/globals';
import { parseTenancyArgs } from './options.js';

describe('parseTenancyArgs', () => {
  it('defaults to the issue\'s size: 10 tenants, 128 nodes × 8 B200, 24 simulated hours, a cycle every 5 s', () => {
    const o = parseTenancyArgs([]);
    expect(o).toEqual({ tenants: 10, nodes: 128, gpusPerNode: 8, hours: 24, cycleSeconds: 5, settleSeconds: 60, graceSeconds: 30, readySeconds: 10, seed: 1, load: 1 });
  });

  it('takes every flag, fractional hours and load', () => {
    const o = parseTenancyArgs(['--tenants', '4', '--nodes=16', '--gpus-per-node', '4', '--hours', '1.5', '--cycle-s', '10', '--settle-s', '60', '--grace-s', '0', '--ready-s', '3', '--seed', '7', '--load', '0.5']);
    expect(o).toEqual({ tenants: 4, nodes: 16, gpusPerNode: 4, hours: 1.5, cycleSeconds: 10, settleSeconds: 60, graceSeconds: 0, readySeconds: 3, seed: 7, load: 0.5 });
  });

  it('answers --help, and rejects unknown flags and bad numbers naming the flag', () => {
    expect(parseTenancyArgs(['--help'])).toBe('help');
    expect(() => parseTenancyArgs(['--bogus', '1'])).toThrow(/bogus/);
    expect(() => parseTenancyArgs(['--tenants', '1'])).toThrow(/--tenants=1/);
    expect(() => parseTenancyArgs(['--cycle-s', '2.5'])).toThrow(/--cycle-s=2.5: expected an integer/);
    expect(() => parseTenancyArgs(['--hours', 'x'])).toThrow(/--hours=x/);
  });
});
