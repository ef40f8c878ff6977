/**
 * Combines the two signals of "a container holds this device": the kubelet's PodResources report (the truth
 * once it lists the container) and Allocate calls (immediate, but nothing says when the container ends). An
 * allocated device counts as held for a grace period, long enough for PodResources to start reporting it.
 */
export class InUseTracker {
  private readonly allocatedAt = new Map<string, number>();
  private observed = new Set<string>();

  constructor(
    private readonly graceMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records devices handed out by Allocate. */
  allocated(ids: Iterable<string>): void {
    for (const id of ids) this.allocatedAt.set(id, this.now());
  }

  /** Records the latest PodResources report. */
  observe(ids: ReadonlySet<string>): void {
    this.observed = new Set(ids);
    // Once PodResources reports a device, it is the authority for it.
    for (const id of ids) this.allocatedAt.delete(id);
  }

  /** Devices currently held. */
  held(): Set<string> {
    const out = new Set(this.observed);
    const cutoff = this.now() - this.graceMs;
    for (const [id, at] of this.allocatedAt) {
      if (at >= cutoff) out.add(id);
      else this.allocatedAt.delete(id);
    }
    return out;
  }
}
