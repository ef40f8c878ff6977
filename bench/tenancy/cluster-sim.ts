/**
 * The GpuNodes of the replay and a node agent that realises them: the admission cycle's writes become the spec,
 * and the status reports the target layout with a slice (or whole GPU) in use once its pods run. A busy claim
 * that was taken back stays physically in use until its pods are evicted (the grace period): until then its
 * slice keeps its place in the status — so the placement snapshot freezes a GPU whose new layout overlaps it —
 * exactly the realised state the operator plans against. Pure (the simulated clock is passed in).
 */
import { API_VERSION } from '../../src/api/constants.js';
import type { GpuNode, RealisedGpu, RealisedSlice, TargetGpu } from '../../src/api/types.js';
import type { LedgerEntry } from '../../src/ledger/claims.js';
import { placementView, type NodeObject } from '../../src/ledger/snapshot.js';
import { Timeline } from './timeline.js';

/** Whether the pods of a ledger entry run at `now`. */
export type InUse = (entry: LedgerEntry, now: number) => boolean;

/** A taken-back slice (or whole GPU, without profile) whose pods are being evicted until `until`. */
export interface Eviction {
  gpuIndex: number;
  profile?: string;
  start?: number;
  until: number;
}

const READY_NODE: NodeObject = { metadata: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
const B200_MIB = 184_320;

/** `nodes` B200 nodes of `gpusPerNode` GPUs, their core Nodes, and the node agent. */
export class ClusterSim {
  readonly #nodes = new Map<string, GpuNode>();
  readonly #evictions = new Map<string, Eviction[]>();
  readonly #wake = new Timeline<string>();
  readonly #inUse: InUse;
  #list: GpuNode[] | undefined;

  /** An idle cluster; `inUse` tells which claims' pods run. */
  constructor(nodes: number, gpusPerNode: number, inUse: InUse) {
    this.#inUse = inUse;
    for (let n = 0; n < nodes; n++) {
      const name = `b200-${String(n).padStart(3, '0')}`;
      this.#nodes.set(name, {
        apiVersion: API_VERSION,
        kind: 'GpuNode',
        metadata: { name, generation: 1 },
        spec: {},
        status: {
          observedGeneration: 1,
          inventory: { product: 'NVIDIA-B200', gpuCount: gpusPerNode, memoryMiB: B200_MIB, migCapable: true },
          gpus: Array.from({ length: gpusPerNode }, (_, i) => ({ index: i, uuid: `GPU-${name}-${i}`, mode: 'mig', health: 'Healthy', slices: [] })),
          conditions: [{ type: 'LayoutRealised', status: 'True', reason: 'Realised', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }],
        },
      });
    }
  }

  /** The ledger as the operator's cache shows it (node name order). */
  list(): GpuNode[] {
    this.#list ??= [...this.#nodes.values()];
    return this.#list;
  }

  /** A GpuNode by name. */
  node(name: string): GpuNode | undefined {
    return this.#nodes.get(name);
  }

  /** The core Node of a GpuNode: every node is Ready and schedulable. */
  nodeOf(name: string): NodeObject | undefined {
    return this.#nodes.has(name) ? READY_NODE : undefined;
  }

  /**
   * Writes the cycle's edited nodes (their spec is the new target) and realises them at `now`. Returns whether
   * the realisation changed what placement sees beyond the written spec (e.g. the GPUs of a released claim are
   * no longer busy): the status update the operator takes as a capacity change (`gpuNodeCapacityChanged`).
   */
  write(changed: GpuNode[], now: number): boolean {
    let capacityChanged = false;
    for (const gn of changed) {
      const name = gn.metadata.name as string;
      const prev = this.#nodes.get(name);
      if (!prev) throw new Error(`the cycle wrote GpuNode ${name}, which does not exist`);
      const generation = (prev.metadata.generation ?? 1) + 1;
      const written: GpuNode = { ...prev, metadata: { ...prev.metadata, generation }, spec: gn.spec ?? {} };
      const next = this.#realised(written, now);
      this.#nodes.set(name, next);
      if (!capacityChanged && placementView(written) !== placementView(next)) capacityChanged = true;
    }
    if (changed.length > 0) this.#list = undefined;
    return capacityChanged;
  }

  /** A busy claim on `node` was taken back at `now`: it stays in use until `until`. */
  evict(node: string, e: Eviction): void {
    const list = this.#evictions.get(node) ?? [];
    list.push(e);
    this.#evictions.set(node, list);
    this.#wake.push(e.until, node);
  }

  /** When evictions on a GPU end (0 when none is running at `now`). */
  evictedUntil(node: string, gpuIndex: number, now: number): number {
    let until = 0;
    for (const e of this.#evictions.get(node) ?? []) if (e.gpuIndex === gpuIndex && e.until > now) until = Math.max(until, e.until);
    return until;
  }

  /** The status of `node` may change at `at` (pods start). */
  wakeAt(node: string, at: number): void {
    this.#wake.push(at, node);
  }

  /**
   * The node agent catches up with `now`: nodes whose pods started or whose evictions ended report it. Returns
   * whether what placement sees changed (the operator's `capacityChanged`).
   */
  advance(now: number): boolean {
    let changed = false;
    for (const name of new Set(this.#wake.due(now))) {
      const prev = this.#nodes.get(name) as GpuNode;
      const list = (this.#evictions.get(name) ?? []).filter((e) => e.until > now);
      if (list.length > 0) this.#evictions.set(name, list);
      else this.#evictions.delete(name);
      const next = this.#realised(prev, now);
      this.#nodes.set(name, next);
      this.#list = undefined;
      if (placementView(prev) !== placementView(next)) changed = true;
    }
    return changed;
  }

  /** `gn` with the status its agent reports at `now`. */
  #realised(gn: GpuNode, now: number): GpuNode {
    const name = gn.metadata.name as string;
    const evictions = (this.#evictions.get(name) ?? []).filter((e) => e.until > now);
    const targets = new Map((gn.spec?.gpus ?? []).map((g) => [g.index, g]));
    const gpus = (gn.status?.gpus ?? []).map((r) => this.#gpu(name, r, targets.get(r.index), evictions.filter((e) => e.gpuIndex === r.index), now));
    return { ...gn, status: { ...gn.status, observedGeneration: gn.metadata.generation ?? 1, gpus } };
  }

  #gpu(node: string, r: RealisedGpu, t: TargetGpu | undefined, ev: Eviction[], now: number): RealisedGpu {
    const base = { index: r.index, uuid: r.uuid, health: r.health };
    const busy = (profile: string, start: number): RealisedSlice => ({ profile, start, uuid: sliceId(node, r.index, start), deviceId: sliceId(node, r.index, start), inUse: true });
    if (ev.some((e) => e.profile === undefined)) return { ...base, mode: 'whole', slices: [], deviceId: r.uuid, inUse: true };
    const evSlices = ev.map((e) => busy(e.profile as string, e.start as number));
    if (t?.mode === 'whole') {
      if (evSlices.length > 0) return { ...base, mode: 'mig', slices: evSlices };
      const inUse = t.claim ? this.#inUse({ node, gpuIndex: r.index, claim: t.claim }, now) : false;
      return { ...base, mode: 'whole', slices: [], deviceId: r.uuid, inUse };
    }
    const slices: RealisedSlice[] = (t?.slices ?? []).map((s) => {
      const evicting = ev.some((e) => e.profile === s.profile && e.start === s.start);
      const running = s.claim ? this.#inUse({ node, gpuIndex: r.index, claim: s.claim, profile: s.profile, start: s.start }, now) : false;
      return { profile: s.profile, start: s.start, uuid: sliceId(node, r.index, s.start), deviceId: sliceId(node, r.index, s.start), inUse: evicting || running };
    });
    for (const e of evSlices) if (!slices.some((s) => s.profile === e.profile && s.start === e.start)) slices.push(e);
    slices.sort((a, b) => a.start - b.start);
    return { ...base, mode: 'mig', slices };
  }
}

function sliceId(node: string, gpu: number, start: number): string {
  return `MIG-${node}-${gpu}-${start}`;
}
