/**
 * Tenancy benchmark (`npm run bench:tenancy`): ten tenants with skewed, time-varying demand on 128 nodes × 8 B200
 * over a simulated day, replayed through the operator's admission code (admission queue, cycle planner, quota
 * book, placement engine, metering settlement) — once with the cohort lending and borrowing, once with strict
 * quotas (no cohort) — on the same arrival stream, in two worker threads. Pure compute: no cluster.
 *
 * Figures (the final JSON line; definitions in docs/tenancy.md#benchmark):
 * - `utilisationBorrowing`, `utilisationStrict`: GPU-equivalent-seconds allocated / (GPUs × simulated seconds).
 * - `maxShareDeviation`: after every cycle, each backlogged tenant's |held − weighted fair share| (the weighted
 *   max-min division of its cohort's quota by demand, `tenancy/fair-share.ts`); per tenant the mean over its
 *   backlogged cycles as a share of the cluster; the largest tenant's. Borrowing run.
 * - `nominalViolations`: requests owed capacity within their tenant's nominal quota (quota admits them within
 *   nominal and they fit on free plus reclaimable-borrowed capacity) at the start of two consecutive cycles and
 *   still waiting after the second (`tenancy/nominal-watch.ts`). Both runs; must be 0.
 * - `reclaimLatencyP50Seconds`/`P95`: a reclaiming request's arrival (or re-request) → Ready: placed, the
 *   busy victims' eviction grace period, then the MIG reconfiguration and pod start (`--ready-s`).
 * - `meteringErrorSeconds`: the largest |metered − truth| of one allocation, metered through the settlement
 *   code before every release and every `--settle-s`; truth is allocation → release on the simulated clock.
 * Exits 1 when a nominal violation happened, an allocation was metered more than 1 s off, or borrowing did not
 * raise utilisation; 2 on a bad flag.
 */
// First: checks the Node.js version before any dependency loads.
import '../src/cmd/require-node.js';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { failures, renderReport, tenancyFigures } from './tenancy/figures.js';
import { parseTenancyArgs, USAGE, type TenancyOptions } from './tenancy/options.js';
import type { ReplayResult } from './tenancy/replay.js';
import { benchStream, offeredLoad, runReplay } from './tenancy/run.js';

/** One run in a worker thread; resolves with its result and wall seconds. */
function inWorker(opts: TenancyOptions, borrowing: boolean): Promise<{ result: ReplayResult; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { opts, borrowing } });
    w.once('message', (result: ReplayResult) => resolve({ result, seconds: (performance.now() - t0) / 1000 }));
    w.once('error', (err) => reject(new Error(`the ${borrowing ? 'borrowing' : 'strict'} replay failed`, { cause: err })));
    w.once('exit', (code) => code !== 0 && reject(new Error(`the ${borrowing ? 'borrowing' : 'strict'} replay exited with ${code}`)));
  });
}

async function main(): Promise<number> {
  let opts;
  try {
    opts = parseTenancyArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  if (opts === 'help') {
    console.log(USAGE);
    return 0;
  }
  const t0 = performance.now();
  const gpus = opts.nodes * opts.gpusPerNode;
  const { tenants, arrivals } = benchStream(opts);
  const [b, s] = await Promise.all([inWorker(opts, true), inWorker(opts, false)]);
  for (const [name, r] of [['borrowing', b], ['strict', s]] as const) {
    console.error(`${name} run: ${r.seconds.toFixed(1)} s wall, ${r.result.cycles} cycles, planner ${r.result.plannerSeconds.toFixed(1)} s`);
  }
  const figures = tenancyFigures(b.result, s.result, {
    tenants: tenants.length,
    gpus,
    hours: opts.hours,
    cycleSeconds: opts.cycleSeconds,
    seed: opts.seed,
    arrivals: arrivals.length,
    offeredLoad: offeredLoad(arrivals, gpus, opts.hours),
    wallSeconds: (performance.now() - t0) / 1000,
    cpuSeconds: (() => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    })(),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    loadAverage: loadavg(),
  });
  console.log(renderReport(figures, b.result, s.result));
  const failed = failures(figures);
  for (const f of failed) console.log(`FAIL: ${f}`);
  console.log(JSON.stringify(figures));
  return failed.length === 0 ? 0 : 1;
}

if (isMainThread) process.exitCode = await main();
else {
  const { opts, borrowing } = workerData as { opts: TenancyOptions; borrowing: boolean };
  parentPort?.postMessage(runReplay(opts, borrowing));
}
