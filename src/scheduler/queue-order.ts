/**
 * The order in which waiting requests are served: higher priority first, then older, then kind, namespace and
 * name — total, and the same in every replica, so a failover does not reorder the queue. Pure.
 */

/** The identity and order key of a request. */
export interface QueueKey {
  kind: string;
  namespace: string;
  name: string;
  priority: number;
  /** `metadata.creationTimestamp` (RFC 3339; compares as a string). */
  created: string;
}

/** Queue order (negative: `a` first). */
export function compareQueue(a: QueueKey, b: QueueKey): number {
  return (
    b.priority - a.priority ||
    a.created.localeCompare(b.created) ||
    a.kind.localeCompare(b.kind) ||
    a.namespace.localeCompare(b.namespace) ||
    a.name.localeCompare(b.name)
  );
}
