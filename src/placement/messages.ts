/**
 * Failure explanations a user can act on, e.g.
 * "needs 4 × 7g.180gb in one clique; best clique c1 has 3 idle GPUs and room for 3 of 4 members".
 */
import { fitCount } from './geometry.js';
import type { GangOutcome } from './gang.js';
import type { Failure, MemberPlan, RequestPlan } from './request.js';
import type { PlacementState } from './state.js';

const SCOPE: Record<RequestPlan['topology'], string> = {
  any: '',
  sameNode: ' on one node',
  sameClique: ' in one clique',
  spread: ' on distinct nodes',
};

/** What the request asks for, e.g. `2 × 3g.90gb + 1 × 8 whole GPUs on one node`. */
export function describeDemand(plan: RequestPlan): string {
  const counts = new Map<string, number>();
  for (const m of [...plan.members].sort((a, b) => a.order - b.order)) {
    const label = m.gpus > 0 ? `${m.label} on one node` : m.label;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts.entries()].map(([label, n]) => `${n} × ${label}`).join(' + ');
}

/** A request whose members have no eligible node at all. */
export function noMatchingNodes(plan: RequestPlan, member: MemberPlan): Failure {
  const c = plan.request.constraints ?? {};
  const parts = [
    c.products?.length ? `products ${c.products.join(', ')}` : '',
    c.nodeSelector && Object.keys(c.nodeSelector).length ? `nodeSelector ${Object.entries(c.nodeSelector).map(([k, v]) => `${k}=${v}`).join(',')}` : '',
  ].filter(Boolean);
  const what = member.gpus > 0 ? 'whole GPUs' : `a MIG GPU offering ${member.label}`;
  return {
    ok: false,
    code: 'NoMatchingNodes',
    message: `${plan.request.id}: no schedulable node${parts.length ? ` matching ${parts.join(' and ')}` : ''} has ${what}`,
  };
}

/** Why a gang did not fit. `fitsWithoutTopology` tells capacity problems from topology problems. */
export function explainFailure(
  plan: RequestPlan,
  outcome: Extract<GangOutcome, { ok: false }>,
  fitsWithoutTopology: boolean,
): Failure {
  const total = plan.members.length;
  const head = `${plan.request.id}: needs ${describeDemand(plan)}${SCOPE[plan.topology]}`;
  const best = outcome.best;
  let detail: string;
  if (!best) {
    detail = 'no group of nodes satisfies the topology';
  } else if (best.group.unit === 'cluster') {
    const idle = best.group.nodes.reduce((s, n) => s + n.idle, 0);
    const n = best.group.nodes.length;
    detail = `the ${n} eligible node${n === 1 ? ' has' : 's have'} ${idle} idle GPU${idle === 1 ? '' : 's'}`;
    if (best.failed.gpus > 0) {
      const most = Math.max(0, ...best.group.nodes.map((n) => n.idle));
      detail += `; the best node has ${most} idle GPU${most === 1 ? '' : 's'}`;
    } else {
      detail += `; room for ${roomFor(best.failed, best.group.nodes)} more ${best.failed.label}`;
    }
    if (total > 1) detail += `; ${best.placed ?? 0} of ${total} members fit`;
  } else {
    const idle = best.group.nodes.reduce((s, n) => s + n.idle, 0);
    detail = `best ${best.group.unit} ${best.group.name} has ${idle} idle GPU${idle === 1 ? '' : 's'}`;
    // A group skipped for lack of idle GPUs was not searched: say nothing about how many members fit there.
    if (total > 1 && best.placed !== undefined) detail += ` and room for ${best.placed} of ${total} members`;
  }
  if (plan.mayPreempt) detail += ', even preempting lower-priority holders';
  return {
    ok: false,
    code: fitsWithoutTopology && plan.topology !== 'any' ? 'TopologyUnsatisfiable' : 'InsufficientCapacity',
    message: `${head}; ${detail}`,
  };
}

// Instances of the member's profile that fit in the free (not held, not in use) slots of `nodes`.
function roomFor(member: MemberPlan, nodes: PlacementState['nodes']): number {
  let n = 0;
  for (const node of nodes) {
    const p = member.profileOn(node.model);
    if (!p) continue;
    for (const g of node.gpus) {
      if (!g.healthy || g.broken) continue;
      if (g.mode === 'whole') n += g.holder || g.inUse ? 0 : fitCount(p, 0);
      else n += fitCount(p, g.hard);
    }
  }
  return n;
}
