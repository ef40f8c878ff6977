import { describe, expect, it } from '@jest/globals';
import { parseTenancyArgs, type TenancyOptions } from './options.js';
import { benchStream, offeredLoad, START_MS } from './run.js';
import type { Arrival } from './workload.js';

describe('bench stream', () => {
  it('the same options give the same tenants and stream in every thread; the day crosses midnight', () => {
    const opts = { ...(parseTenancyArgs([]) as TenancyOptions), hours: 1 };
    const a = benchStream(opts);
    expect(benchStream(opts)).toEqual(a);
    expect(a.tenants).toHaveLength(10);
    expect(a.arrivals.length).toBeGreaterThan(100);
    expect(new Date(START_MS + 24 * 3600_000).getUTCDate()).not.toBe(new Date(START_MS).getUTCDate());
  });

  it('offered load counts each request\'s service within the run', () => {
    const req = (at: number, serviceSeconds: number, gpuEq: number) => ({ at, serviceSeconds, gpuEq }) as Arrival;
    // 2 GPUs for 1 h: one request of 1 GPU-eq for the whole hour, one of 2 for 1,800 s of which 900 s fit.
    expect(offeredLoad([req(0, 3600, 1), req(2700, 1800, 2)], 2, 1)).toBeCloseTo((3600 + 2 * 900) / 7200);
  });
});
