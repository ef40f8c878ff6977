/**
 * Creation → Ready (partitions) or Running (jobs) time, for the `haein_time_to_ready_seconds` histogram.
 * `metadata.creationTimestamp` has whole-second resolution, so the creation instant is taken as the moment this
 * replica first saw the object when that falls within the creation second (it lags the creation only by the
 * watch latency), else as the middle of that second (an object created before this replica started): the error
 * is below one second either way, and below a few milliseconds for objects seen live.
 */

/** Remembers first sightings and reports each object's time to ready once. */
export class TimeToReady {
  readonly #firstSeen = new Map<string, number>();
  readonly #reported = new Set<string>();

  constructor(
    private readonly observe: (seconds: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Notes that the object `uid` was seen (the first call counts). */
  seen(uid: string | undefined): void {
    if (uid && !this.#firstSeen.has(uid)) this.#firstSeen.set(uid, this.now());
  }

  /** The object became ready now (its previous status was not ready): observes its time to ready once, and returns it. */
  ready(uid: string | undefined, creationTimestamp: string | undefined): number | undefined {
    if (!uid || !creationTimestamp || this.#reported.has(uid)) return undefined;
    const second = Date.parse(creationTimestamp);
    if (Number.isNaN(second)) return undefined;
    const seen = this.#firstSeen.get(uid);
    const created = seen !== undefined && seen >= second && seen < second + 1000 ? seen : second + 500;
    this.#reported.add(uid);
    const seconds = Math.max(0, (this.now() - created) / 1000);
    this.observe(seconds);
    return seconds;
  }

  /** Forgets a deleted object. */
  forget(uid: string | undefined): void {
    if (!uid) return;
    this.#firstSeen.delete(uid);
    this.#reported.delete(uid);
  }
}
