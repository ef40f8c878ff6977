/**
 * Discrete-event replay of a timed request stream through a scheduler, and the engine behind the
 * scheduler interface of `baselines.ts`.
 */
import { performance } from 'node:perf_hooks';
import { validateLayout } from '../src/placement/catalog.js';
import { PlacementEngine } from '../src/placement/engine.js';
import type { PlacementRequest } from '../src/placement/types.js';
import type { Shape, Simulator } from './baselines.js';
import { demandOf, isWholeRequest, makeCluster, type TimedRequest } from './workload.js';

/** The placement engine as a benchmark scheduler. */
export class EngineSim implements Simulator {
  readonly name = 'haein';
  readonly engine: PlacementEngine;

  /** An engine over an idle cluster of `shape`. */
  constructor(shape: Shape) {
    this.engine = new PlacementEngine(makeCluster(shape.nodes, shape.gpusPerNode, shape.nodesPerClique));
  }

  place(request: PlacementRequest): boolean {
    return this.engine.place(request).ok;
  }

  release(request: PlacementRequest): void {
    for (const m of request.members) this.engine.release(m.key);
  }

  gpusUsed(): number {
    let n = 0;
    for (const node of this.engine.state.nodes) n += node.gpus.length - node.idle;
    return n;
  }

  /** Illegal layouts and overlaps in the current state. */
  audit(): { illegal: number; overlaps: number } {
    let illegal = 0;
    let overlaps = 0;
    for (const gpu of this.engine.state.gpus) {
      const model = gpu.node.model;
      if (!model) continue;
      if (gpu.mode === 'whole' && gpu.slices.length > 0) illegal++;
      for (const problem of validateLayout(model, gpu.slices)) {
        if (problem.includes('overlaps')) overlaps++;
        else illegal++;
      }
    }
    return { illegal, overlaps };
  }
}

/** What one replay measured. */
export interface RunStats {
  name: string;
  placed: number;
  rejected: number;
  /** Rejected whole-GPU requests (the rest of `rejected` are slice requests). */
  rejectedWhole: number;
  gpusUsedPeak: number;
  /** GPUs in use averaged over arrivals. */
  gpusUsedMean: number;
  gpusUsedEnd: number;
  lowerBoundPeak: number;
  lowerBoundEnd: number;
  /** GPU-equivalents (compute slices / 7) of everything placed. */
  placedGpuEq: number;
  /** For the nos baseline: the nodes fixed in whole-GPU mode. */
  wholeNodes?: number;
  seconds: number;
  cpuSeconds: number;
  illegal: number;
  overlaps: number;
}

/**
 * Replays `stream`: departures due before an arrival are released first. With `audit` (engine only),
 * the layouts are validated every 1,000 requests and at the end; that pass should not be the timed one.
 */
export function replay(sim: Simulator, stream: TimedRequest[], audit = false): RunStats {
  const departures: Array<{ at: number; request: PlacementRequest }> = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let placed = 0;
  let rejectedWhole = 0;
  let peak = 0;
  let usedSum = 0;
  let compute = 0;
  let memory = 0;
  let lbPeak = 0;
  let placedGpuEq = 0;
  let illegal = 0;
  let overlaps = 0;
  const check = () => {
    if (audit && sim instanceof EngineSim) {
      const a = sim.audit();
      illegal += a.illegal;
      overlaps += a.overlaps;
    }
  };
  for (const [i, item] of stream.entries()) {
    while (departures.length > 0 && departures[0].at <= item.arrival) {
      const d = heapPop(departures);
      sim.release(d.request);
      const dem = demandOf(d.request);
      compute -= dem.compute;
      memory -= dem.memory;
    }
    if (sim.place(item.request)) {
      placed++;
      const dem = demandOf(item.request);
      compute += dem.compute;
      memory += dem.memory;
      placedGpuEq += dem.compute / 7;
      if (Number.isFinite(item.duration)) heapPush(departures, { at: item.arrival + item.duration, request: item.request });
      lbPeak = Math.max(lbPeak, lowerBound(compute, memory));
    } else if (isWholeRequest(item.request)) {
      rejectedWhole++;
    }
    const used = sim.gpusUsed();
    peak = Math.max(peak, used);
    usedSum += used;
    if (i % 1000 === 999) check();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  check();
  return {
    name: sim.name,
    placed,
    rejected: stream.length - placed,
    rejectedWhole,
    gpusUsedPeak: peak,
    gpusUsedMean: Math.round((usedSum / stream.length) * 10) / 10,
    gpusUsedEnd: sim.gpusUsed(),
    lowerBoundPeak: lbPeak,
    lowerBoundEnd: lowerBound(compute, memory),
    placedGpuEq: Math.round(placedGpuEq),
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    illegal,
    overlaps,
  };
}

/** GPUs needed at least: memory slices / 8 and compute slices / 7 (one model). */
export function lowerBound(compute: number, memory: number): number {
  return Math.max(Math.ceil(compute / 7), Math.ceil(memory / 8));
}

function heapPush<T extends { at: number }>(h: T[], x: T): void {
  h.push(x);
  for (let i = h.length - 1; i > 0; ) {
    const p = (i - 1) >> 1;
    if (h[p].at <= h[i].at) break;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}

function heapPop<T extends { at: number }>(h: T[]): T {
  const top = h[0];
  const last = h.pop() as T;
  if (h.length > 0) {
    h[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l].at < h[m].at) m = l;
      if (r < h.length && h[r].at < h[m].at) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
  return top;
}
