/**
 * Priority order among requests waiting for capacity. Pure.
 *
 * Rule (level-triggered, no central queue): pending requests are served highest priority first, then oldest,
 * then by kind, namespace and name, which makes the order total and the same in every replica. Before a
 * reconciler writes a placement (or a defragmentation) for its request R, it takes the pending requests that
 * come before R in that order and checks each H: if H fits on the cluster as it is now, but would no longer fit
 * once R's placement is applied, R would take capacity H is waiting for, so R does not place and re-checks
 * shortly (H's own reconcile places it meanwhile). A request H that does not fit now does not hold R back:
 * waiting for it could starve everyone behind it. At most {@link MAX_BLOCKER_CHECKS} earlier requests are
 * examined per pass, the highest first, to bound the engine calls.
 */
import type { ClusterSnapshot, GpuLayout } from '../placement/types.js';
import type { PendingRequest } from './requests.js';
import type { PlaceFn } from '../runtime/ports.js';

/** How many earlier requests one pass checks at most. */
export const MAX_BLOCKER_CHECKS = 8;
/** How soon a request held back by a higher-priority one re-checks. */
export const PRIORITY_RECHECK_MS = 2_000;

/** The identity and order key of a request. */
export type QueueKey = Pick<PendingRequest, 'kind' | 'namespace' | 'name' | 'priority' | 'created'>;

/** Queue order: higher priority first, then older, then kind, namespace, name. */
export function compareQueue(a: QueueKey, b: QueueKey): number {
  return (
    b.priority - a.priority ||
    a.created.localeCompare(b.created) ||
    a.kind.localeCompare(b.kind) ||
    a.namespace.localeCompare(b.namespace) ||
    a.name.localeCompare(b.name)
  );
}

/** The snapshot with the given target layouts in place of the GPUs they name. */
export function withLayouts(snapshot: ClusterSnapshot, layouts: GpuLayout[]): ClusterSnapshot {
  const out = structuredClone(snapshot);
  for (const l of layouts) {
    const node = out.nodes.find((n) => n.name === l.node);
    if (!node) continue;
    const gpu = node.gpus.find((g) => g.index === l.gpuIndex);
    const next = {
      index: l.gpuIndex,
      mode: l.mode,
      healthy: gpu?.healthy ?? true,
      slices: structuredClone(l.slices),
      ...(l.holder ? { holder: { ...l.holder } } : {}),
      ...(gpu?.inUse !== undefined && l.mode === 'whole' ? { inUse: gpu.inUse } : {}),
    };
    if (gpu) node.gpus[node.gpus.indexOf(gpu)] = next;
    else node.gpus.push(next);
  }
  return out;
}

/**
 * The earlier pending request that `self`'s placement would starve, or undefined. `before` is the cluster as
 * `self` found it; `after` the cluster with `self`'s placement (and any defragmentation) applied.
 */
export function findBlocker(self: QueueKey, pending: PendingRequest[], before: ClusterSnapshot, after: ClusterSnapshot, place: PlaceFn): PendingRequest | undefined {
  const earlier = pending
    .filter((h) => !(h.kind === self.kind && h.namespace === self.namespace && h.name === self.name))
    .filter((h) => compareQueue(h, self) < 0)
    .sort(compareQueue)
    .slice(0, MAX_BLOCKER_CHECKS);
  for (const h of earlier) {
    if (!place(before, h.request).ok) continue;
    if (!place(after, h.request).ok) return h;
  }
  return undefined;
}

/** Condition message of a request held back by `blocker`. */
export function describeBlocker(blocker: PendingRequest): string {
  return `waiting for higher-priority ${blocker.kind} ${blocker.namespace}/${blocker.name} (priority ${blocker.priority}), which needs the same capacity, to be placed first`;
}
