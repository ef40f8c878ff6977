/**
 * Capacity planning for a stream: the fewest nodes on which a scheduler serves a stream within a
 * rejection budget per request class. This is how "GPUs saved" is measured: two schedulers serving the
 * same tenants to the same standard, and the GPUs each one needs to do it.
 */
import { TemplateFirstFitSim, type Shape, type Simulator } from './baselines.js';
import { EngineSim, lowerBound, replay, type RunStats } from './replay.js';
import { demandOf, isWholeRequest, type TimedRequest } from './workload.js';

/** GPUs per node and nodes per clique of every cluster the planner sizes (those of the benchmark cluster). */
export const NODE = { gpusPerNode: 8, nodesPerClique: 8 };

/** A cluster of `nodes` benchmark nodes. */
export function shapeOf(nodes: number): Shape {
  return { nodes, ...NODE };
}

/**
 * True when `stats` rejected at most `budget` (a fraction) of the stream's whole-GPU requests and at most
 * `budget` of its slice requests. Per class, because a scheduler that turns away every training gang
 * would otherwise "serve" a stream of mostly small requests.
 */
export function withinBudget(stats: RunStats, stream: TimedRequest[], budget: number): boolean {
  const whole = stream.filter((t) => isWholeRequest(t.request)).length;
  const slices = stream.length - whole;
  return stats.rejectedWhole <= budget * whole && stats.rejected - stats.rejectedWhole <= budget * slices;
}

/**
 * The smallest `n` in [`lo`, `hi`] for which `serves(n)` holds and also holds for the next `confirm`
 * sizes; undefined when none does. Replays are not perfectly monotone in cluster size (one more node
 * changes where everything after it lands), so a binary search alone could stop at a lucky size; the
 * confirmation walks on past sizes that fail.
 */
export function smallestServing(serves: (n: number) => boolean, lo: number, hi: number, confirm = 2): number | undefined {
  const memo = new Map<number, boolean>();
  const test = (n: number) => {
    let v = memo.get(n);
    if (v === undefined) memo.set(n, (v = serves(n)));
    return v;
  };
  let from = lo;
  while (from <= hi) {
    let a = from;
    let b = hi;
    if (!test(b)) return undefined;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (test(mid)) b = mid;
      else a = mid + 1;
    }
    let failed: number | undefined;
    for (let k = 1; k <= confirm && a + k <= hi; k++) {
      if (!test(a + k)) {
        failed = a + k;
        break;
      }
    }
    if (failed === undefined) return a;
    from = failed + 1;
  }
  return undefined;
}

/** Nodes a scheduler needs for a stream, with the replay at that size. */
export interface CapacityPlan {
  nodes: number;
  gpus: number;
  stats: RunStats;
}

function plan(make: (shape: Shape) => Simulator, stream: TimedRequest[], budget: number, maxNodes: number): CapacityPlan | undefined {
  const runs = new Map<number, RunStats>();
  const nodes = smallestServing(
    (n) => {
      const stats = replay(make(shapeOf(n)), stream);
      runs.set(n, stats);
      return withinBudget(stats, stream, budget);
    },
    1,
    maxNodes,
  );
  if (nodes === undefined) return undefined;
  return { nodes, gpus: nodes * NODE.gpusPerNode, stats: runs.get(nodes) as RunStats };
}

/** Nodes Haein's engine needs: one pool, any idle GPU may change mode. */
export function planEngine(stream: TimedRequest[], budget: number, maxNodes: number): CapacityPlan | undefined {
  return plan((shape) => new EngineSim(shape), stream, budget, maxNodes);
}

/** Nodes the template first-fit ablation needs (one pool with Haein's per-GPU mode switch). */
export function planTemplates(stream: TimedRequest[], budget: number, maxNodes: number): CapacityPlan | undefined {
  return plan((shape) => new TemplateFirstFitSim(shape), stream, budget, maxNodes);
}

/** The nos plan: a whole-GPU node pool and a MIG node pool, each sized for its own requests. */
export interface SplitPlan extends CapacityPlan {
  wholeNodes: number;
  migNodes: number;
  /** The whole stream replayed on the combined cluster is within the budget too (it must be). */
  combinedWithinBudget: boolean;
}

/**
 * Nodes the nos-style baseline needs. MIG is a node setting there, so whole-GPU requests only ever land on
 * whole-GPU nodes and slices only on MIG nodes: the two pools serve disjoint parts of the stream and each
 * is sized on its own, which is the best split there is (an oracle no operator has in advance). The
 * returned replay is of the whole stream on the combined cluster, as a check of that independence.
 */
export function planNos(stream: TimedRequest[], budget: number, maxNodes: number): SplitPlan | undefined {
  const whole = stream.filter((t) => isWholeRequest(t.request));
  const slices = stream.filter((t) => !isWholeRequest(t.request));
  const pool = (part: TimedRequest[], wholeMode: boolean) =>
    part.length === 0
      ? 0
      : smallestServing((n) => withinBudget(replay(new TemplateFirstFitSim(shapeOf(n), { name: 'nos', wholeNodes: wholeMode ? n : 0 }), part), part, budget), 1, maxNodes);
  const wholeNodes = pool(whole, true);
  const migNodes = pool(slices, false);
  if (wholeNodes === undefined || migNodes === undefined) return undefined;
  const nodes = wholeNodes + migNodes;
  const stats = { ...replay(new TemplateFirstFitSim(shapeOf(nodes), { name: 'nos', wholeNodes }), stream), wholeNodes };
  return { nodes, gpus: nodes * NODE.gpusPerNode, stats, wholeNodes, migNodes, combinedWithinBudget: withinBudget(stats, stream, budget) };
}

/**
 * GPUs the stream holds at its busiest moment when every request is admitted: compute slices / 7 or
 * memory slices / 8, whichever is more, at the peak. No scheduler serves the whole stream on fewer GPUs,
 * however it places things, so it bounds what any scheduler can save.
 */
export function peakDemandGpus(stream: TimedRequest[]): number {
  const events: Array<{ at: number; compute: number; memory: number }> = [];
  for (const { request, arrival, duration } of stream) {
    const d = demandOf(request);
    events.push({ at: arrival, compute: d.compute, memory: d.memory });
    if (Number.isFinite(duration)) events.push({ at: arrival + duration, compute: -d.compute, memory: -d.memory });
  }
  // Departures before arrivals at the same instant, as the replay releases them first.
  events.sort((a, b) => a.at - b.at || a.compute - b.compute);
  let compute = 0;
  let memory = 0;
  let peak = 0;
  for (const e of events) {
    compute += e.compute;
    memory += e.memory;
    peak = Math.max(peak, lowerBound(compute, memory));
  }
  return peak;
}
