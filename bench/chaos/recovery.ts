/** Recovery figures of the chaos run: per fault kind, fault → Haein serving again. Pure. */
import { summarize } from '../scale/stats.js';
import { FAULT_KINDS, type FaultKind } from './fault-schedule.js';

/** One injected fault and what followed it. */
export interface FaultRecord {
  kind: FaultKind;
  /** When it was injected (ms). */
  at: number;
  /** When a probe partition created right after the fault became Ready (ms); absent if it never did. */
  servingAt?: number;
  /** When some replica reported `haein_leader 1` again after the fault (ms). */
  leaderAt?: number;
  /** Kind-specific facts (e.g. whether the agent was caught mid-reconfiguration). */
  detail?: Record<string, unknown>;
}

/** Per-kind recovery, in seconds (p50/p95 nearest rank). */
export interface RecoveryFigures {
  injected: number;
  /** Faults after which the probe never became Ready. */
  unrecovered: number;
  p50S: number | null;
  p95S: number | null;
  maxS: number | null;
  /** Fault → a leader again (leader faults only). */
  leaderP50S?: number | null;
  leaderP95S?: number | null;
}

const orNull = (n: number): number | null => (Number.isFinite(n) ? Math.round(n * 100) / 100 : null);

/** Recovery figures for every kind, including kinds with no fault (injected 0). */
export function recoveryFigures(records: readonly FaultRecord[]): Record<FaultKind, RecoveryFigures> {
  const out = {} as Record<FaultKind, RecoveryFigures>;
  for (const kind of FAULT_KINDS) {
    const mine = records.filter((r) => r.kind === kind);
    const serving = summarize(mine.filter((r) => r.servingAt !== undefined).map((r) => (r.servingAt! - r.at) / 1000));
    const fig: RecoveryFigures = { injected: mine.length, unrecovered: mine.filter((r) => r.servingAt === undefined).length, p50S: orNull(serving.p50), p95S: orNull(serving.p95), maxS: orNull(serving.max) };
    if (kind === 'leader-kill' || kind === 'leader-stop') {
      const leader = summarize(mine.filter((r) => r.leaderAt !== undefined).map((r) => (r.leaderAt! - r.at) / 1000));
      fig.leaderP50S = orNull(leader.p50);
      fig.leaderP95S = orNull(leader.p95);
    }
    out[kind] = fig;
  }
  return out;
}
