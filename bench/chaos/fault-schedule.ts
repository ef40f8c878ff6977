/**
 * The seeded fault schedule of the chaos run: when each fault is injected, in seconds after the churn starts.
 * The leader is SIGKILLed every `leaderKillEveryS`; every other kind happens once per `faultEveryS` of churn (at
 * least once), at a seeded moment, apart from the others so that each recovery can be told apart. Pure.
 */
import { rng } from '../seeded-random.js';

/** Every kind of fault the run injects. */
export const FAULT_KINDS = ['leader-kill', 'leader-stop', 'apiserver-restart', 'etcd-restart', 'agent-kill', 'agent-state-corrupt'] as const;
/** One kind of fault. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One planned fault. */
export interface PlannedFault {
  atS: number;
  kind: FaultKind;
}

/** Inputs of {@link planFaults}. */
export interface ScheduleShape {
  durationS: number;
  seed: number;
  leaderKillEveryS: number;
  /** How long a SIGSTOP lasts; nothing else is injected while the leader is stopped. */
  leaderStopS: number;
  faultEveryS: number;
}

/** No fault in the first seconds (the operators settle) nor in the last ones (before convergence is measured). */
const HEAD_S = 8;
const TAIL_S = 6;
/** Least distance between two faults other than the SIGSTOP's own span. */
const GAP_S = 6;
/** After a SIGSTOP ends, the woken replica needs a moment to notice it lost the Lease. */
const AFTER_STOP_S = 6;

/** The faults in time order. Throws when the duration cannot hold one of each kind. */
export function planFaults(shape: ScheduleShape): PlannedFault[] {
  const r = rng(shape.seed ^ 0x5eed);
  const lo = HEAD_S;
  const hi = shape.durationS - TAIL_S;
  const rounds = Math.max(1, Math.floor(shape.durationS / shape.faultEveryS));
  const slotLen = (hi - lo) / rounds;
  const span = (kind: FaultKind): number => (kind === 'leader-stop' ? shape.leaderStopS + AFTER_STOP_S : 0);
  const placed: PlannedFault[] = [];
  const busy: Array<[number, number]> = [];
  for (let round = 0; round < rounds; round++) {
    // This round's kinds in a seeded order, packed with GAP_S between them and the slack spread at random.
    const kinds = FAULT_KINDS.filter((k) => k !== 'leader-kill' && (k !== 'agent-state-corrupt' || round === 0));
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
    }
    const needed = kinds.reduce((s, k) => s + span(k), 0) + GAP_S * (kinds.length - 1);
    // The next round starts GAP_S after this one's last fault at the earliest.
    const slack = slotLen - needed - (round < rounds - 1 ? GAP_S : 0);
    if (slack < 0) throw new Error(`${shape.durationS} s of churn cannot hold every fault kind ${rounds} time(s); use a longer --duration-s or a larger --fault-every-s`);
    const cuts = Array.from({ length: kinds.length }, () => r() * slack).sort((a, b) => a - b);
    let t = lo + round * slotLen;
    let used = 0;
    kinds.forEach((kind, i) => {
      t += cuts[i]! - used;
      used = cuts[i]!;
      const at = Math.round(t * 10) / 10;
      placed.push({ atS: at, kind });
      busy.push([at, at + span(kind)]);
      t += span(kind) + GAP_S;
    });
  }
  // Leader kills on their fixed period, skipped where they would land in another fault's span or next to it.
  for (let t = shape.leaderKillEveryS; t <= hi; t += shape.leaderKillEveryS) {
    if (t >= lo && busy.every(([a, b]) => t + GAP_S / 2 <= a || t >= b + GAP_S / 2)) placed.push({ atS: t, kind: 'leader-kill' });
  }
  return placed.sort((a, b) => a.atS - b.atS);
}

/**
 * Moments of the churn at least `clearS` seconds from any fault (and from the SIGSTOP's whole span), one per gap
 * between faults: a probe there measures how fast Haein serves under the churn alone, the baseline the
 * recoveries compare with.
 */
export function quietMoments(faults: readonly PlannedFault[], shape: Pick<ScheduleShape, 'durationS' | 'leaderStopS'>, clearS = 7): number[] {
  const spans = faults.map((f) => [f.atS, f.atS + (f.kind === 'leader-stop' ? shape.leaderStopS + AFTER_STOP_S : 0)] as const).sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  let from = HEAD_S;
  for (const [a, b] of [...spans, [shape.durationS - TAIL_S, shape.durationS - TAIL_S] as const]) {
    if (a - from >= 2 * clearS) out.push(Math.round(((from + a) / 2) * 10) / 10);
    from = Math.max(from, b);
  }
  return out;
}
