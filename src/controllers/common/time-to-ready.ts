/**
 * Creation → Ready (partitions) or Running (jobs) time, for the `haein_time_to_ready_seconds` histogram.
 * `metadata.creationTimestamp` has whole-second resolution, so the creation instant is taken as the moment this
 * replica first saw the object when that falls within the creation second (it lags the creation only by the
 * watch latency), else as the middle of that second (an object created before this replica started): the error
 * is below one second either way, and below a few milliseconds for objects seen live.
 */

/**
 * Remembers first sightings and reports each object's time to ready once. Objects are kept under a key the caller
 * can name even once the object is gone (namespace/name), with the uid that tells a re-created object apart.
 */
export class TimeToReady {
  readonly #objects = new Map<string, { uid: string; seenAt: number; reported: boolean }>();

  constructor(
    private readonly observe: (seconds: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Notes that the object `uid` was seen under `key` (the first call for that uid counts). */
  seen(key: string, uid: string | undefined): void {
    if (uid && this.#objects.get(key)?.uid !== uid) this.#objects.set(key, { uid, seenAt: this.now(), reported: false });
  }

  /** The object became ready now (its previous status was not ready): observes its time to ready once, and returns it. */
  ready(key: string, uid: string | undefined, creationTimestamp: string | undefined): number | undefined {
    if (!uid || !creationTimestamp) return undefined;
    const known = this.#objects.get(key);
    const entry = known?.uid === uid ? known : undefined;
    if (entry?.reported) return undefined;
    const second = Date.parse(creationTimestamp);
    if (Number.isNaN(second)) return undefined;
    const seen = entry?.seenAt;
    const created = seen !== undefined && seen >= second && seen < second + 1000 ? seen : second + 500;
    this.#objects.set(key, { uid, seenAt: seen ?? this.now(), reported: true });
    const seconds = Math.max(0, (this.now() - created) / 1000);
    this.observe(seconds);
    return seconds;
  }

  /** Forgets the object under `key` (deleted, or no longer timed). */
  forget(key: string): void {
    this.#objects.delete(key);
  }

  /** Objects remembered (tests: nothing is kept for objects that are gone). */
  size(): number {
    return this.#objects.size;
  }
}
