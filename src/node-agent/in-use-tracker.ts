/**
 * Combines the two signals of "a container holds this device": the kubelet's PodResources report (the truth
 * once it lists the container) and Allocate calls (immediate, but nothing says when the container ends). An
 * allocated device counts as held for a grace period, long enough for PodResources to start reporting it.
 * PodResources also names the pod holding each device; Allocate does not, so a device known only from
 * Allocate has no pod yet.
 */
import type { PodRef } from '../api/types.js';
import type { PluginDevice } from '../device-plugin/plugin-server.js';

/** Held devices and their pods, from Allocate calls and PodResources reports. */
export class InUseTracker {
  private readonly allocatedAt = new Map<string, number>();
  private observed = new Set<string>();
  private pods = new Map<string, PodRef>();

  constructor(
    private readonly graceMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records devices handed out by Allocate. */
  allocated(ids: Iterable<string>): void {
    for (const id of ids) this.allocatedAt.set(id, this.now());
  }

  /**
   * Records the latest PodResources report: the held device IDs and, when known, the pod holding each.
   * Returns true when the pod of any device changed.
   */
  observe(ids: ReadonlySet<string>, pods: ReadonlyMap<string, PodRef> = new Map()): boolean {
    this.observed = new Set(ids);
    // Once PodResources reports a device, it is the authority for it.
    for (const id of ids) this.allocatedAt.delete(id);
    const next = new Map([...pods].filter(([id]) => ids.has(id)));
    const changed = next.size !== this.pods.size || [...next].some(([id, p]) => podKey(this.pods.get(id)) !== podKey(p));
    this.pods = next;
    return changed;
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

  /** The pod holding device `id`, when the last report named one. */
  podOf(id: string): PodRef | undefined {
    return this.pods.get(id);
  }
}

/** The `nvidia.com/*` devices one pod's containers ask for, per resource. */
export interface PodDemand {
  pod: PodRef;
  need: Readonly<Record<string, number>>;
}

/**
 * Kubelet-less nodes: which device each running pod holds, as a kubelet's device manager would decide it.
 * A pod keeps the devices it held before; devices held before by a pod that is gone or unknown go to pods still
 * short of devices first, since a running container keeps its device; the rest come from healthy free devices in
 * board order, `claimed` ones (reserved in the ledger) first, never `doomed` ones (the target layout is about to
 * destroy them: a pod given one would make the layout unreachable). Pods are served in `namespace/name` order.
 * Pure.
 */
export function assignPodDevices(
  demands: readonly PodDemand[],
  devices: ReadonlyMap<string, readonly PluginDevice[]>,
  previous: ReadonlyMap<string, PodRef>,
  previouslyHeld: ReadonlySet<string>,
  doomed: ReadonlySet<string> = new Set(),
  claimed: ReadonlySet<string> = new Set(),
): Map<string, PodRef> {
  const out = new Map<string, PodRef>();
  const sorted = [...demands].sort((a, b) => podKey(a.pod).localeCompare(podKey(b.pod)));
  const resources = [...new Set(sorted.flatMap((d) => Object.keys(d.need)))].sort();
  for (const resource of resources) {
    const list = [...(devices.get(resource) ?? [])].sort((a, b) => a.place.order - b.place.order);
    const short = new Map(sorted.map((d) => [podKey(d.pod), d.need[resource] ?? 0]));
    const give = (d: PodDemand, id: string): void => {
      out.set(id, d.pod);
      short.set(podKey(d.pod), (short.get(podKey(d.pod)) ?? 0) - 1);
    };
    for (const d of sorted) {
      for (const dev of list) {
        if ((short.get(podKey(d.pod)) ?? 0) <= 0) break;
        if (!out.has(dev.id) && podKey(previous.get(dev.id)) === podKey(d.pod)) give(d, dev.id);
      }
    }
    const orphaned = list.filter((dev) => !out.has(dev.id) && previouslyHeld.has(dev.id) && !sorted.some((d) => podKey(d.pod) === podKey(previous.get(dev.id))));
    // Slices the ledger reserves for a claimant before spare ones: the operator may re-carve a spare slice at any
    // moment, and a pod on it would pin a layout the ledger no longer has.
    const fresh = list
      .filter((dev) => !out.has(dev.id) && !previouslyHeld.has(dev.id) && dev.healthy && !doomed.has(dev.id))
      .sort((a, b) => Number(claimed.has(b.id)) - Number(claimed.has(a.id)) || a.place.order - b.place.order);
    for (const pool of [orphaned, fresh]) {
      for (const d of sorted) {
        while ((short.get(podKey(d.pod)) ?? 0) > 0) {
          const next = pool.find((dev) => !out.has(dev.id));
          if (!next) break;
          give(d, next.id);
        }
      }
    }
  }
  return out;
}

function podKey(p: PodRef | undefined): string {
  return p ? `${p.namespace}/${p.name}` : '';
}

/**
 * Realised devices the target layout does not keep: MIG instances missing from their GPU's target (or whose GPU
 * goes whole) and whole GPUs that go MIG. GPUs absent from the target keep their layout. Pure.
 */
export function doomedDevices(
  gpus: ReadonlyArray<{ index: number; uuid: string; mode: 'mig' | 'whole'; slices: ReadonlyArray<{ uuid: string; profile: string; start: number }> }>,
  target: ReadonlyArray<{ index: number; mode: 'mig' | 'whole'; slices?: ReadonlyArray<{ profile: string; start: number }> }> | undefined,
): Set<string> {
  const out = new Set<string>();
  const byIndex = new Map((target ?? []).map((t) => [t.index, t]));
  for (const g of gpus) {
    const t = byIndex.get(g.index);
    if (!t) continue;
    if (g.mode === 'whole') {
      if (t.mode !== 'whole') out.add(g.uuid);
      continue;
    }
    const kept = new Set(t.mode === 'mig' ? (t.slices ?? []).map((s) => `${s.profile}@${s.start}`) : []);
    for (const s of g.slices) if (!kept.has(`${s.profile}@${s.start}`)) out.add(s.uuid);
  }
  return out;
}

/** Realised devices the target layout reserves for a claimant: claimed MIG instances and claimed whole GPUs. Pure. */
export function claimedDevices(
  gpus: ReadonlyArray<{ index: number; uuid: string; mode: 'mig' | 'whole'; slices: ReadonlyArray<{ uuid: string; profile: string; start: number }> }>,
  target: ReadonlyArray<{ index: number; mode: 'mig' | 'whole'; claim?: unknown; slices?: ReadonlyArray<{ profile: string; start: number; claim?: unknown }> }> | undefined,
): Set<string> {
  const out = new Set<string>();
  const byIndex = new Map((target ?? []).map((t) => [t.index, t]));
  for (const g of gpus) {
    const t = byIndex.get(g.index);
    if (!t || t.mode !== g.mode) continue;
    if (g.mode === 'whole') {
      if (t.claim) out.add(g.uuid);
      continue;
    }
    const claimedKeys = new Set((t.slices ?? []).filter((s) => s.claim).map((s) => `${s.profile}@${s.start}`));
    for (const s of g.slices) if (claimedKeys.has(`${s.profile}@${s.start}`)) out.add(s.uuid);
  }
  return out;
}
