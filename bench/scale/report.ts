/** The human-readable table of a scale-benchmark run. Pure. */
import type { WriteRow } from './api-writes.js';
import type { Summary } from './stats.js';

/** Busy CPU time and hottest functions of a profile. */
export interface ProfileSummary {
  totalMs: number;
  self: Array<{ fn: string; ms: number; share: number }>;
  inclusive: Array<{ fn: string; ms: number; share: number }>;
}

/** The headline figures of a run (the issue's targets), first in the final JSON line. */
export interface ScaleSummary {
  /** Every object ended Ready/Running, or (over-subscribed) Ready or waiting with a reason, before the timeout. */
  settled: boolean;
  /** First create → every object Ready/Running; null when some never were (over-subscribed, or timed out). */
  allReadySeconds: number | null;
  /** First create → the last object that became Ready/Running. */
  lastReadySeconds: number | null;
  readyP50Seconds: number;
  readyP95Seconds: number;
  /** First delete → every object gone, no claim and no worker pod left. */
  releaseSeconds: number | null;
  /** ConfigMaps created per second at the same parallelism on the same API server (the API server alone). */
  rawCreatesPerSecond: number | null;
  /** Objects that became Ready/Running, per second from the first create to the last of them. */
  readyPerSecond: number | null;
  /** Refused GpuNode ledger writes (409, or 422 from the generation guard) / the operator's GpuNode writes. */
  conflictShare: number | null;
  ledgerWrites: number;
  operatorPeakRssMiB: number;
  /** Demands planned again while neither capacity nor the demand had changed (operator metric). */
  replansWithoutChange: number;
  /** p50 of single partitions created one at a time on the quiet cluster, create → Ready. */
  quietReadyP50Seconds: number | null;
  /** Objects that showed a waiting reason before any Ready (over-subscribed runs), and the time from their create to that status. */
  waitingObjects: number;
  waitingStatusP95Seconds: number | null;
  waitingStatusMaxSeconds: number | null;
  /** 1/5/15-minute load average at the end of the run. */
  loadAverage: number[];
}

/** Everything a run measured (also the final JSON line). */
export interface ScaleResult {
  summary: ScaleSummary;
  shape: { nodes: number; gpusPerNode: number; gpus: number; cliques: number; partitions: number; jobs: number; jobGpus: number; seed: number; workers: number; leaderElect: boolean; operatorHeapMiB: number; operatorSemiSpaceMiB: number };
  seconds: { nodesAndAgent: number; operatorStart: number; apply: number; allReady: number | null; release: number | null };
  notReady: { partitions: number; jobs: number; reasons: Record<string, number> };
  /** Objects not gone and ledger claims left when the release wait ended. */
  notReleased: { objects: number; claims: number };
  /** With --hold-s: API writes while everything stayed Ready (steady-state overhead). */
  hold?: { seconds: number; rows: WriteRow[]; perSecondByWriter: Record<string, number>; gpuNodeReads: Record<string, number> };
  latency: { partitionReady: Summary; jobRunning: Summary; partitionRelease: Summary; jobRelease: Summary };
  placement: Record<string, { n: number; meanMs: number; p50Ms: number; p95Ms: number }>;
  reconfiguration: { n: number; meanS: number; p50S: number; p95S: number; buckets: Array<{ upTo: string; count: number }> };
  reconciles: Record<string, Record<string, number>>;
  /** Reconcile passes per controller in each phase: until all Ready, and during release. */
  reconcilePhases: { ready: Record<string, number>; release: Record<string, number> };
  apiWrites: { ready: WriteRow[]; release: WriteRow[]; byWriterReady: Record<string, number>; byWriterRelease: Record<string, number> };
  /** Peak RSS; peak V8 heap used and reserved; peak memory outside the heap (Buffers, native); CPU. */
  operator: { peakRssMiB: number; peakHeapUsedMiB: number; peakHeapTotalMiB: number; peakExternalMiB: number; cpuSeconds: number };
  agent: { peakRssMiB: number; cpuSeconds: number };
  controlPlaneCpuSeconds: Record<string, number>;
  /** With --profile-operator: the operator's busy CPU time and hottest functions. */
  operatorProfile?: ProfileSummary;
  /** With --profile-operator and --hold-s: the same, for the hold window only. */
  operatorHoldProfile?: ProfileSummary;
}

const f = (n: number | null | undefined, digits = 2): string => (n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));
const pad = (s: string, w: number): string => (s.length >= w ? s : s + ' '.repeat(w - s.length));
const lpad = (s: string, w: number): string => (s.length >= w ? s : ' '.repeat(w - s.length) + s);

/** Renders the result as aligned text tables. */
export function renderReport(r: ScaleResult): string {
  const s = r.shape;
  const lines: string[] = [];
  lines.push(`Haein operator scale benchmark: ${s.nodes} nodes × ${s.gpusPerNode} B200 = ${s.gpus} GPUs in ${s.cliques} cliques; ${s.partitions} GpuPartitions, ${s.jobs} TrainingJobs (${s.jobGpus} whole GPUs); seed ${s.seed}, ${s.workers} workers/controller, leader election ${s.leaderElect ? 'on' : 'off'}`);
  lines.push('');
  lines.push('phase                                   seconds');
  lines.push(`${pad('nodes created + agent ready', 40)}${lpad(f(r.seconds.nodesAndAgent, 1), 7)}`);
  lines.push(`${pad('operator ready', 40)}${lpad(f(r.seconds.operatorStart, 1), 7)}`);
  lines.push(`${pad(`apply (${s.partitions + s.jobs} creates)`, 40)}${lpad(f(r.seconds.apply, 1), 7)}`);
  lines.push(`${pad('first create → all Ready/Running', 40)}${lpad(r.seconds.allReady === null ? 'TIMEOUT' : f(r.seconds.allReady, 1), 7)}`);
  lines.push(`${pad('first delete → all released', 40)}${lpad(r.seconds.release === null ? 'TIMEOUT' : f(r.seconds.release, 1), 7)}`);
  const m = r.summary;
  lines.push(`${pad('first create → last Ready/Running', 40)}${lpad(f(m.lastReadySeconds, 1), 7)}`);
  lines.push('');
  lines.push(`targets: ready p50 ${f(m.readyP50Seconds)} s, p95 ${f(m.readyP95Seconds)} s; Ready ${f(m.readyPerSecond, 0)}/s vs API server alone ${f(m.rawCreatesPerSecond, 0)} creates/s;`);
  lines.push(`  ledger writes ${m.ledgerWrites}, refused share ${f(m.conflictShare, 3)}; operator peak RSS ${f(m.operatorPeakRssMiB, 0)} MiB; re-plans without change ${m.replansWithoutChange};`);
  lines.push(`  quiet single partition → Ready p50 ${f(m.quietReadyP50Seconds)} s; waiting objects ${m.waitingObjects}, create → status with reason p95 ${f(m.waitingStatusP95Seconds)} s, max ${f(m.waitingStatusMaxSeconds)} s; load ${m.loadAverage.join(' ')}`);
  if (r.notReady.partitions + r.notReady.jobs > 0) {
    lines.push(`not Ready at the end: ${r.notReady.partitions} partitions, ${r.notReady.jobs} jobs; reasons ${JSON.stringify(r.notReady.reasons)}`);
  }
  if (r.notReleased.objects + r.notReleased.claims > 0) {
    lines.push(`not released at the end: ${r.notReleased.objects} objects, ${r.notReleased.claims} ledger claims`);
  }
  lines.push('');
  lines.push('per object (s)                  n      p50      p95      max     mean');
  const row = (name: string, x: Summary) => `${pad(name, 28)}${lpad(String(x.n), 5)}${lpad(f(x.p50), 9)}${lpad(f(x.p95), 9)}${lpad(f(x.max), 9)}${lpad(f(x.mean), 9)}`;
  lines.push(row('create → partition Ready', r.latency.partitionReady));
  lines.push(row('create → job Running', r.latency.jobRunning));
  lines.push(row('delete → partition gone', r.latency.partitionRelease));
  lines.push(row('delete → job gone', r.latency.jobRelease));
  lines.push('');
  lines.push('operator histograms (estimated from buckets)      n     mean      p50      p95');
  for (const [kind, p] of Object.entries(r.placement)) {
    lines.push(`${pad(`placement decision ${kind} (ms)`, 46)}${lpad(String(p.n), 6)}${lpad(f(p.meanMs, 3), 9)}${lpad(f(p.p50Ms, 3), 9)}${lpad(f(p.p95Ms, 3), 9)}`);
  }
  const rc = r.reconfiguration;
  lines.push(`${pad('reconfiguration latency (s)', 46)}${lpad(String(rc.n), 6)}${lpad(f(rc.meanS), 9)}${lpad(f(rc.p50S), 9)}${lpad(f(rc.p95S), 9)}`);
  lines.push(`  reconfiguration buckets: ${rc.buckets.map((b) => `≤${b.upTo}s:${b.count}`).join('  ') || '-'}`);
  lines.push('');
  lines.push('reconciles (whole run)');
  for (const [ctrl, byResult] of Object.entries(r.reconciles)) {
    lines.push(`  ${pad(ctrl, 14)} ${Object.entries(byResult).map(([k, v]) => `${k}=${v}`).join('  ')}`);
  }
  lines.push(`  until all Ready: ${JSON.stringify(r.reconcilePhases.ready)}; release: ${JSON.stringify(r.reconcilePhases.release)}`);
  lines.push('');
  lines.push('API writes (kube-apiserver apiserver_request_total)   until Ready   release   writer');
  const release = new Map(r.apiWrites.release.map((w) => [`${w.verb} ${w.resource}`, w]));
  const keys = new Set([...r.apiWrites.ready, ...r.apiWrites.release].map((w) => `${w.verb} ${w.resource}`));
  const all = [...r.apiWrites.ready, ...r.apiWrites.release];
  for (const k of keys) {
    const a = r.apiWrites.ready.find((w) => `${w.verb} ${w.resource}` === k);
    const b = release.get(k);
    const w = all.find((x) => `${x.verb} ${x.resource}` === k)!;
    const conflicts = (a?.conflicts ?? 0) + (b?.conflicts ?? 0);
    lines.push(`  ${pad(k, 52)}${lpad(String(a?.count ?? 0), 11)}${lpad(String(b?.count ?? 0), 10)}   ${w.writer}${conflicts ? ` (${conflicts}× 409)` : ''}`);
  }
  lines.push(`  by writer until Ready: ${JSON.stringify(r.apiWrites.byWriterReady)}`);
  lines.push(`  by writer in release:  ${JSON.stringify(r.apiWrites.byWriterRelease)}`);
  if (r.hold) {
    lines.push(`  steady state (${f(r.hold.seconds, 0)} s hold, nothing changing), writes/s by writer: ${Object.entries(r.hold.perSecondByWriter).map(([k, v]) => `${k} ${f(v, 1)}`).join(', ')}`);
    lines.push(`    GpuNode reads during the hold: ${Object.entries(r.hold.gpuNodeReads).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    for (const w of r.hold.rows.slice(0, 6)) lines.push(`    ${pad(`${w.verb} ${w.resource}`, 50)}${lpad(String(w.count), 8)}   ${w.writer}`);
  }
  lines.push('');
  lines.push(`operator: peak RSS ${f(r.operator.peakRssMiB, 0)} MiB, peak heap used ${f(r.operator.peakHeapUsedMiB, 0)} MiB (reserved ${f(r.operator.peakHeapTotalMiB, 0)}), peak external ${f(r.operator.peakExternalMiB, 0)} MiB, CPU ${f(r.operator.cpuSeconds, 1)} s`);
  lines.push(`node agent (${s.nodes} nodes in one process): peak RSS ${f(r.agent.peakRssMiB, 0)} MiB, CPU ${f(r.agent.cpuSeconds, 1)} s`);
  const cp = Object.entries(r.controlPlaneCpuSeconds);
  if (cp.length) lines.push(`control plane CPU during the run: ${cp.map(([k, v]) => `${k} ${f(v, 1)} s`).join(', ')}`);
  for (const [what, prof] of [['whole operator lifetime', r.operatorProfile], ['hold window only', r.operatorHoldProfile]] as const) {
    if (!prof) continue;
    lines.push('');
    lines.push(`operator CPU profile: ${f(prof.totalMs / 1000, 1)} s busy (${what})`);
    for (const [title, list] of [['inclusive (function and its callees)', prof.inclusive], ['self', prof.self]] as const) {
      lines.push(`  top ${title}:`);
      for (const x of list.slice(0, 12)) lines.push(`    ${lpad(f(x.share * 100, 1), 5)}%  ${lpad(f(x.ms / 1000, 2), 7)} s  ${x.fn}`);
    }
  }
  return lines.join('\n');
}
