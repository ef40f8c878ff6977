/**
 * Placement benchmark (`npm run bench:placement`): 128 nodes × 8 B200 = 1,024 GPUs in 16 NVLink cliques.
 * Four seeded streams (fit: no departures; churn: 10,000 mixed requests with departures; diurnal: the churn
 * mix with a daily cycle; slice churn) run through the engine and the baselines of `baselines.ts` (static
 * layouts; nos-style template first-fit with a static MIG/whole node split, at the best split in hindsight;
 * and a template ablation with Haein's per-GPU mode switch). Then `capacity.ts` sizes the cluster each
 * scheduler needs for the churn and diurnal streams ("GPUs saved"). Prints tables and ends with one JSON line.
 */
// First: checks the Node.js version before any dependency loads.
import '../src/cmd/require-node.js';
import { loadavg } from 'node:os';
import { StaticLayoutSim, TemplateFirstFitSim } from './baselines.js';
import { peakDemandGpus, planEngine, planNos, planTemplates, shapeOf, type CapacityPlan, type SplitPlan } from './capacity.js';
import { EngineSim, replay as run, type RunStats } from './replay.js';
import { demandOf, makeDiurnalStream, makeStream, offeredGpus, type TimedRequest } from './workload.js';

const SHAPE = shapeOf(128);
const SEED = Number(process.env.BENCH_SEED ?? 20261129);
const REQUESTS = 10_000;
// Mean holding time (in mean inter-arrival times) that offers a little more than the cluster holds.
const MEAN_HOLD = Number(process.env.BENCH_HOLD ?? 1300);
const FIT_REQUESTS = 1_600;
// One day of the diurnal stream: two days over the 10,000 arrivals.
const DAY = Number(process.env.BENCH_DAY ?? 5000);
// Share of each request class (whole-GPU, slice) a capacity plan may turn away.
const BUDGET = Number(process.env.BENCH_BUDGET ?? 0.01);
// Largest cluster the capacity planner tries, in nodes.
const MAX_NODES = 1024;

function table(title: string, rows: RunStats[]): void {
  console.log(`\n${title}`);
  console.log('scheduler   placed  rejected  GPU-eq placed  GPUs used peak   mean  lower bound peak  seconds  cpu s  illegal  overlaps');
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(10)} ${String(r.placed).padStart(7)} ${String(r.rejected).padStart(9)} ${String(r.placedGpuEq).padStart(14)} ` +
        `${String(r.gpusUsedPeak).padStart(15)} ${r.gpusUsedMean.toFixed(1).padStart(6)} ${String(r.lowerBoundPeak).padStart(17)} ${r.seconds.toFixed(3).padStart(8)} ` +
        `${r.cpuSeconds.toFixed(3).padStart(6)} ` +
        `${String(r.illegal).padStart(8)} ${String(r.overlaps).padStart(9)}`,
    );
  }
}

// Timed replay of the engine (includes the replay loop itself, a few ms), then an audited replay of the
// same deterministic stream for the legality counts.
function withAudit(stream: TimedRequest[]): RunStats {
  const timed = run(new EngineSim(SHAPE), stream);
  const audited = run(new EngineSim(SHAPE), stream, true);
  if (audited.placed !== timed.placed) throw new Error('engine replay is not deterministic');
  return { ...timed, illegal: audited.illegal, overlaps: audited.overlaps };
}

/**
 * Whole-GPU nodes of the nos baseline: the stream's whole-GPU share of GPU-time (compute slices × holding
 * time), rounded to nodes: the split an operator would size from the demand (reported as `nos-prop`).
 */
function wholeNodeSplit(stream: TimedRequest[]): number {
  let whole = 0;
  let total = 0;
  for (const { request, duration } of stream) {
    const hold = Number.isFinite(duration) ? duration : 1;
    const d = demandOf(request).compute * hold;
    total += d;
    if (request.members.some((m) => m.kind === 'whole')) whole += d;
  }
  return total === 0 ? 0 : Math.round((whole / total) * SHAPE.nodes);
}

/**
 * The nos baseline with the best static split in hindsight: every multiple of 8 whole-GPU nodes is tried
 * and the one placing the most requests (then the most GPU-equivalents) is kept.
 */
function bestNosSplit(stream: TimedRequest[]): RunStats {
  let best: RunStats | undefined;
  for (let wholeNodes = 0; wholeNodes <= SHAPE.nodes; wholeNodes += 8) {
    const r = { ...run(new TemplateFirstFitSim(SHAPE, { name: 'nos', wholeNodes }), stream), wholeNodes };
    if (!best || r.placed > best.placed || (r.placed === best.placed && r.placedGpuEq > best.placedGpuEq)) best = r;
  }
  return best as RunStats;
}

/** Capacity plans of Haein, nos and the template ablation for one stream and rejection budget. */
interface Capacity {
  stream: string;
  budget: number;
  haein?: CapacityPlan;
  nos?: SplitPlan;
  templates?: CapacityPlan;
  /** Peak concurrent demand rounded up to whole nodes: no scheduler serves everything on fewer GPUs. */
  boundGpus: number;
}

function capacity(name: string, stream: TimedRequest[], budget: number): Capacity {
  return {
    stream: name,
    budget,
    haein: planEngine(stream, budget, MAX_NODES),
    nos: planNos(stream, budget, MAX_NODES),
    templates: planTemplates(stream, budget, MAX_NODES),
    boundGpus: Math.ceil(peakDemandGpus(stream) / SHAPE.gpusPerNode) * SHAPE.gpusPerNode,
  };
}

function saving(c: Capacity): number | undefined {
  return c.haein && c.nos ? (c.nos.gpus - c.haein.gpus) / c.nos.gpus : undefined;
}

// The bound holds only when nothing may be rejected; with a budget a scheduler may skip the peak.
function maxSaving(c: Capacity): number | undefined {
  return c.budget === 0 && c.nos ? (c.nos.gpus - c.boundGpus) / c.nos.gpus : undefined;
}

function capacityTable(rows: Capacity[]): void {
  console.log('\nGPUs needed to serve a stream: the fewest nodes on which at most the budget of its whole-GPU requests and of its');
  console.log('slice requests is rejected (nos: each pool sized on its own, the best split). Bound: peak concurrent demand.');
  console.log('stream     budget   haein   nos (whole + MIG nodes)   templates   bound   haein saves vs nos   most any scheduler could save');
  const gpus = (p?: CapacityPlan) => (p ? String(p.gpus) : `>${MAX_NODES * SHAPE.gpusPerNode}`);
  const pct = (x?: number) => (x === undefined ? 'n/a' : `${(x * 100).toFixed(1)} %`);
  for (const c of rows) {
    const nos = c.nos ? `${c.nos.gpus} (${c.nos.wholeNodes} + ${c.nos.migNodes})` : gpus();
    console.log(
      `${c.stream.padEnd(9)} ${`${(c.budget * 100).toFixed(0)} %`.padStart(7)} ${gpus(c.haein).padStart(7)}   ${nos.padStart(23)}   ${gpus(c.templates).padStart(9)} ` +
        `${(c.budget === 0 ? String(c.boundGpus) : '-').padStart(7)}   ${pct(saving(c)).padStart(18)}   ${pct(maxSaving(c)).padStart(29)}`,
    );
  }
  console.log('static layouts cannot serve whole-GPU requests at any size.');
}

function capacitySummary(c: Capacity): Record<string, number | boolean | null> {
  const s = saving(c);
  const m = maxSaving(c);
  return {
    budget: c.budget,
    haein: c.haein?.gpus ?? null,
    nos: c.nos?.gpus ?? null,
    nosWholeNodes: c.nos?.wholeNodes ?? null,
    nosMigNodes: c.nos?.migNodes ?? null,
    nosCombinedWithinBudget: c.nos?.combinedWithinBudget ?? null,
    templates: c.templates?.gpus ?? null,
    boundGpus: c.boundGpus,
    gpusSavedVsNos: s === undefined ? null : Number(s.toFixed(4)),
    maxPossibleSavingVsNos: m === undefined ? null : Number(m.toFixed(4)),
  };
}

function baselineSummary(r: RunStats): Record<string, number> {
  return {
    seconds: Number(r.seconds.toFixed(3)),
    placed: r.placed,
    rejected: r.rejected,
    gpusUsedPeak: r.gpusUsedPeak,
    gpusUsedMean: r.gpusUsedMean,
    lowerBoundGpus: r.lowerBoundPeak,
    placedGpuEq: r.placedGpuEq,
  };
}

/** A stream with whole-GPU gangs through haein, static, nos (best split), templates and nos-prop, in that order. */
function mixedRuns(stream: TimedRequest[]): RunStats[] {
  return [
    withAudit(stream),
    run(new StaticLayoutSim(SHAPE), stream),
    bestNosSplit(stream),
    run(new TemplateFirstFitSim(SHAPE), stream),
    run(new TemplateFirstFitSim(SHAPE, { name: 'nos-prop', wholeNodes: wholeNodeSplit(stream) }), stream),
  ];
}

function main(): void {
  const gpus = SHAPE.nodes * SHAPE.gpusPerNode;
  // The fit stream runs first, which also warms the JIT up the way a long-running operator is warm.
  const fit = makeStream(FIT_REQUESTS, SEED + 1, Infinity, 0.01);
  const fitRuns = [
    withAudit(fit),
    run(new StaticLayoutSim(SHAPE), fit),
    run(new TemplateFirstFitSim(SHAPE, { name: 'nos', wholeNodes: wholeNodeSplit(fit) }), fit),
    run(new TemplateFirstFitSim(SHAPE), fit),
  ];
  table(`fit: ${FIT_REQUESTS} requests, no departures`, fitRuns);

  const churn = makeStream(REQUESTS, SEED, MEAN_HOLD);
  const churnRuns = mixedRuns(churn);
  table(`churn: ${REQUESTS} requests on ${gpus} B200 GPUs (seed ${SEED}, mean hold ${MEAN_HOLD}, ${Math.round(offeredGpus(churn))} GPUs offered on average; nos with ${churnRuns[2].wholeNodes} whole-GPU nodes, the best static split)`, churnRuns);

  const diurnal = makeDiurnalStream(REQUESTS, SEED + 3, MEAN_HOLD, { period: DAY, sliceSwing: 1 });
  const diurnalRuns = mixedRuns(diurnal);
  table(`diurnal churn: ${REQUESTS} requests, the churn mix with a daily cycle (day ${DAY}, ${Math.round(offeredGpus(diurnal))} GPUs offered on average; nos with ${diurnalRuns[2].wholeNodes} whole-GPU nodes, the best static split)`, diurnalRuns);

  // Slices only, light enough that nothing is rejected: the difference is the GPUs kept busy.
  const slices = makeStream(REQUESTS, SEED + 2, 600, 0);
  const sliceRuns = [
    withAudit(slices),
    run(new StaticLayoutSim(SHAPE), slices),
    run(new TemplateFirstFitSim(SHAPE, { name: 'nos', wholeNodes: wholeNodeSplit(slices) }), slices),
    run(new TemplateFirstFitSim(SHAPE), slices),
  ];
  table(`slice churn: ${REQUESTS} slice requests (no whole GPUs), mean hold 600`, sliceRuns);
  const [hs, , ns, ts] = sliceRuns;

  const capacities = [capacity('churn', churn, 0), capacity('churn', churn, BUDGET), capacity('diurnal', diurnal, 0), capacity('diurnal', diurnal, BUDGET)];
  capacityTable(capacities);

  // The issue's baselines are static and nos; `templates` is an ablation with Haein's per-GPU mode switch.
  const [h, s, n, t, np] = churnRuns;
  const better = Math.max(s.placed, n.placed);
  const [hf, sf, nf, tf] = fitRuns;
  const [dh, , dn, dt, dnp] = diurnalRuns;
  console.log(
    `\nchurn: haein places ${(((h.placed - better) / better) * 100).toFixed(1)} % more requests and ` +
      `${(((h.placedGpuEq - Math.max(s.placedGpuEq, n.placedGpuEq)) / Math.max(s.placedGpuEq, n.placedGpuEq)) * 100).toFixed(1)} % more GPU-equivalents than the better baseline ` +
      `(${(((h.placed - t.placed) / t.placed) * 100).toFixed(1)} % more than the mode-switching template ablation; no scheduler can place more than ` +
      `all ${REQUESTS}, ${(((REQUESTS - better) / better) * 100).toFixed(1)} % more); ` +
      `fit: haein uses ${(hf.gpusUsedEnd / hf.lowerBoundEnd).toFixed(3)} × the lower bound (${hf.gpusUsedEnd} / ${hf.lowerBoundEnd} GPUs); ` +
      `slice churn: haein keeps ${(((ns.gpusUsedMean - hs.gpusUsedMean) / ns.gpusUsedMean) * 100).toFixed(1)} % fewer GPUs busy than nos on average`,
  );
  const summary = {
    gpus,
    requests: REQUESTS,
    seed: SEED,
    seconds: Number(h.seconds.toFixed(3)),
    cpuSeconds: Number(h.cpuSeconds.toFixed(3)),
    loadAverage: Number(loadavg()[0].toFixed(2)),
    placed: h.placed,
    rejected: h.rejected,
    gpusUsedPeak: h.gpusUsedPeak,
    lowerBoundGpus: h.lowerBoundPeak,
    placedGpuEq: h.placedGpuEq,
    illegal: h.illegal + hf.illegal,
    overlaps: h.overlaps + hf.overlaps,
    gainOverBetterBaseline: Number(((h.placed - better) / better).toFixed(4)),
    gpuEqGainOverBetterBaseline: Number(((h.placedGpuEq - Math.max(s.placedGpuEq, n.placedGpuEq)) / Math.max(s.placedGpuEq, n.placedGpuEq)).toFixed(4)),
    maxPossibleGainOverBetterBaseline: Number(((REQUESTS - better) / better).toFixed(4)),
    gainOverTemplateAblation: Number(((h.placed - t.placed) / t.placed).toFixed(4)),
    gpusUsedMean: h.gpusUsedMean,
    static: baselineSummary(s),
    nos: { ...baselineSummary(n), wholeNodes: n.wholeNodes ?? 0 },
    nosProportionalSplit: { ...baselineSummary(np), wholeNodes: wholeNodeSplit(churn) },
    templates: baselineSummary(t),
    diurnal: {
      placed: dh.placed,
      placedGpuEq: dh.placedGpuEq,
      nos: { ...baselineSummary(dn), wholeNodes: dn.wholeNodes ?? 0 },
      nosProportionalSplit: { ...baselineSummary(dnp), wholeNodes: wholeNodeSplit(diurnal) },
      templates: baselineSummary(dt),
    },
    capacity: { churn: capacities.slice(0, 2).map(capacitySummary), diurnal: capacities.slice(2).map(capacitySummary) },
    sliceChurn: {
      requests: REQUESTS,
      placed: hs.placed,
      gpusUsedMean: hs.gpusUsedMean,
      gpusUsedPeak: hs.gpusUsedPeak,
      cpuSeconds: Number(hs.cpuSeconds.toFixed(3)),
      nos: { placed: ns.placed, gpusUsedMean: ns.gpusUsedMean, gpusUsedPeak: ns.gpusUsedPeak },
      templates: { placed: ts.placed, gpusUsedMean: ts.gpusUsedMean, gpusUsedPeak: ts.gpusUsedPeak },
      gpusSavedVsNos: Number(((ns.gpusUsedMean - hs.gpusUsedMean) / ns.gpusUsedMean).toFixed(4)),
    },
    fit: {
      requests: FIT_REQUESTS,
      placed: hf.placed,
      gpusUsed: hf.gpusUsedEnd,
      lowerBoundGpus: hf.lowerBoundEnd,
      ratio: Number((hf.gpusUsedEnd / hf.lowerBoundEnd).toFixed(4)),
      seconds: Number(hf.seconds.toFixed(3)),
      static: { placed: sf.placed, gpusUsed: sf.gpusUsedEnd },
      nos: { placed: nf.placed, gpusUsed: nf.gpusUsedEnd },
      templates: { placed: tf.placed, gpusUsed: tf.gpusUsedEnd },
    },
  };
  console.log(JSON.stringify(summary));
}

const HELP = `placement-bench: the placement engine against static and nos-style baselines on 1,024 simulated B200s (about 2 min).
Run it with: npm run bench:placement
env: BENCH_SEED (default 20261129), BENCH_HOLD (mean holding time in inter-arrival times, default 1300)
Prints tables, then one JSON line of figures.`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`${HELP}\n`);
} else if (args.length > 0) {
  process.stderr.write(`unexpected argument(s) ${args.join(' ')}\n${HELP}\n`);
  process.exit(2);
} else {
  main();
}
