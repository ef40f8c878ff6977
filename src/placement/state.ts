/**
 * Mutable working copy of a cluster snapshot with an undo journal. The engine tries placements on it and
 * rolls back on failure; a caller that places many requests (the operator's cache, the benchmark) keeps one
 * state, commits results and releases claims without rebuilding anything.
 */
import { COMPUTE_SLICES, findProfile, modelForProduct, slotMask, type GpuModel, type MigProfile } from './catalog.js';
import { tablesFor } from './geometry.js';
import type { ClusterSnapshot, GpuMode, GpuSnapshot, Holder, NodeSnapshot, SliceSnapshot } from './types.js';

/** One node of the working state. */
export interface NodeState {
  /** Position in the snapshot: the deterministic tie-break. */
  readonly idx: number;
  readonly name: string;
  readonly product: string;
  /** Undefined when the product is not in the catalog: such a node gets nothing new. */
  readonly model: GpuModel | undefined;
  readonly clique: string | undefined;
  /** Index into {@link PlacementState.groups}: nodes sharing a clique, or the node alone. */
  readonly cliqueIdx: number;
  readonly labels: Record<string, string>;
  readonly schedulable: boolean;
  readonly gpus: GpuState[];
  /** Healthy GPUs that hold nothing (no claimed or in-use slice, no whole-GPU holder). */
  idle: number;
  /** Busy GPUs that can still take a slice (see {@link PlacementState.isOpen}). */
  open: number;
  /** Healthy GPUs of the node. */
  healthy: number;
}

/** One GPU of the working state. Slice arrays are replaced, never mutated, so the journal can keep them. */
export interface GpuState {
  readonly id: number;
  readonly node: NodeState;
  readonly index: number;
  readonly healthy: boolean;
  mode: GpuMode;
  slices: SliceSnapshot[];
  holder: Holder | undefined;
  inUse: boolean;
  /** Slots of slices that are held or in use: untouchable without preemption. */
  hard: number;
  /** Slots of carved slices that are neither held nor in use: reusable or destroyable. */
  soft: number;
  /** Compute slices of the held or in-use slices. */
  hardCompute: number;
  /** Profile name of the free carved slice starting at each memory slot, if any. */
  softAt: Array<string | undefined>;
  /** The snapshot's layout of this GPU is not understood (unknown profile, slices in whole mode): left alone. */
  broken: boolean;
}

/** A group of nodes sharing an NVLink clique (or a node without one, alone). */
export interface CliqueState {
  readonly key: string;
  readonly nodes: NodeState[];
  /** Sum of the nodes' idle GPUs. */
  idle: number;
}

interface JournalEntry {
  gpu: GpuState;
  mode: GpuMode;
  slices: SliceSnapshot[];
  holder: Holder | undefined;
  inUse: boolean;
}

/** The per-GPU contents that {@link PlacementState.setGpu} replaces. */
export interface GpuContents {
  mode: GpuMode;
  slices: SliceSnapshot[];
  holder: Holder | undefined;
  inUse: boolean;
}

/** Incremental engine state built once from a {@link ClusterSnapshot}. */
export class PlacementState {
  readonly nodes: NodeState[] = [];
  readonly gpus: GpuState[] = [];
  readonly groups: CliqueState[] = [];
  /** Busy GPUs (not idle) that can still take more compute: the "open bins" of the packing. */
  open = 0;
  /** Memo for derived data that depends only on static node facts (e.g. eligible nodes per constraint). */
  readonly cache = new Map<string, unknown>();
  private readonly journal: JournalEntry[] = [];
  private readonly byHolder = new Map<string, Set<GpuState>>();
  private readonly profileCache = new Map<GpuModel, Map<string, MigProfile>>();

  /** Builds the state; the snapshot is copied, never modified. */
  constructor(snapshot: ClusterSnapshot) {
    const cliques = new Map<string, CliqueState>();
    snapshot.nodes.forEach((n, idx) => this.addNode(n, idx, cliques));
  }

  private addNode(n: NodeSnapshot, idx: number, cliques: Map<string, CliqueState>): void {
    // A node without a clique label is its own NVLink domain.
    const groupKey = n.clique ? `clique:${n.clique}` : `node:${n.name}`;
    let group = cliques.get(groupKey);
    if (!group) {
      group = { key: n.clique ?? n.name, nodes: [], idle: 0 };
      cliques.set(groupKey, group);
      this.groups.push(group);
    }
    const node: NodeState = {
      idx,
      name: n.name,
      product: n.product,
      model: modelForProduct(n.product),
      clique: n.clique,
      cliqueIdx: this.groups.indexOf(group),
      labels: { ...(n.labels ?? {}) },
      schedulable: n.schedulable,
      gpus: [],
      idle: 0,
      open: 0,
      healthy: 0,
    };
    group.nodes.push(node);
    this.nodes.push(node);
    const gpus = [...(n.gpus ?? [])].sort((a, b) => a.index - b.index);
    for (const g of gpus) this.addGpu(node, g);
  }

  private addGpu(node: NodeState, g: GpuSnapshot): void {
    const gpu: GpuState = {
      id: this.gpus.length,
      node,
      index: g.index,
      healthy: g.healthy,
      mode: g.mode,
      slices: (g.slices ?? []).map(copySlice).sort((a, b) => a.start - b.start),
      holder: g.holder ? { ...g.holder } : undefined,
      inUse: g.inUse === true,
      hard: 0,
      soft: 0,
      hardCompute: 0,
      softAt: [],
      broken: false,
    };
    node.gpus.push(gpu);
    this.gpus.push(gpu);
    if (gpu.healthy) node.healthy++;
    gpu.broken = !this.computeMasks(gpu);
    for (const key of holderKeys(gpu)) this.index(key, gpu);
    if (this.isIdle(gpu)) this.adjustIdle(gpu, +1);
    if (this.isOpen(gpu)) this.adjustOpen(gpu, 1);
  }

  /** The profile of a slice on a GPU's model, cached by name. */
  profileOf(model: GpuModel | undefined, name: string): MigProfile | undefined {
    if (!model) return undefined;
    let m = this.profileCache.get(model);
    if (!m) {
      m = new Map(model.profiles.map((p) => [p.name, p]));
      this.profileCache.set(model, m);
    }
    return m.get(name) ?? findProfile(model, name);
  }

  // Returns false when the layout cannot be understood; the GPU then blocks every slot.
  private computeMasks(gpu: GpuState): boolean {
    let hard = 0;
    let soft = 0;
    let compute = 0;
    let ok = true;
    const softAt: Array<string | undefined> = [];
    if (gpu.mode === 'whole' && gpu.slices.length > 0) ok = false;
    for (const s of gpu.slices) {
      const p = this.profileOf(gpu.node.model, s.profile);
      if (!p || !p.starts.includes(s.start)) {
        ok = false;
        continue;
      }
      const m = slotMask(p, s.start);
      if ((m & (hard | soft)) !== 0) ok = false;
      if (s.holder || s.inUse) {
        hard |= m;
        compute += p.computeSlices;
      } else {
        soft |= m;
        softAt[s.start] = s.profile;
      }
    }
    gpu.softAt = softAt;
    gpu.hardCompute = compute;
    gpu.hard = ok ? hard : 0xff;
    gpu.soft = ok ? soft : 0;
    return ok;
  }

  /** True when the GPU holds nothing: no held or in-use slice and no whole-GPU holder. */
  isIdle(gpu: GpuState): boolean {
    return gpu.healthy && !gpu.broken && gpu.hard === 0 && !gpu.holder && !gpu.inUse;
  }

  private adjustIdle(gpu: GpuState, delta: number): void {
    gpu.node.idle += delta;
    this.groups[gpu.node.cliqueIdx].idle += delta;
  }

  private index(key: string, gpu: GpuState): void {
    let set = this.byHolder.get(key);
    if (!set) this.byHolder.set(key, (set = new Set()));
    set.add(gpu);
  }

  private unindex(key: string, gpu: GpuState): void {
    const set = this.byHolder.get(key);
    if (!set) return;
    set.delete(gpu);
    if (set.size === 0) this.byHolder.delete(key);
  }

  /** Replaces a GPU's contents (journaled). `slices` must be a fresh array. */
  setGpu(gpu: GpuState, next: GpuContents): void {
    this.journal.push({ gpu, mode: gpu.mode, slices: gpu.slices, holder: gpu.holder, inUse: gpu.inUse });
    this.assign(gpu, next);
  }

  private assign(gpu: GpuState, next: GpuContents): void {
    const wasIdle = this.isIdle(gpu);
    const wasOpen = this.isOpen(gpu);
    const before = holderKeys(gpu);
    gpu.mode = next.mode;
    gpu.slices = next.slices;
    gpu.holder = next.holder;
    gpu.inUse = next.inUse;
    gpu.broken = !this.computeMasks(gpu);
    // Re-index only the claim keys that appeared or disappeared.
    const after = holderKeys(gpu);
    for (const key of before) if (!after.includes(key)) this.unindex(key, gpu);
    for (const key of after) if (!before.includes(key)) this.index(key, gpu);
    const idle = this.isIdle(gpu);
    if (idle !== wasIdle) this.adjustIdle(gpu, idle ? +1 : -1);
    const open = this.isOpen(gpu);
    if (open !== wasOpen) this.adjustOpen(gpu, open ? 1 : -1);
  }

  private adjustOpen(gpu: GpuState, delta: number): void {
    this.open += delta;
    gpu.node.open += delta;
  }

  /** A busy MIG GPU with compute left that its free slots can still reach. */
  isOpen(gpu: GpuState): boolean {
    if (!gpu.healthy || gpu.broken || gpu.mode !== 'mig' || gpu.hard === 0 || !gpu.node.model) return false;
    return gpu.hardCompute < COMPUTE_SLICES && tablesFor(gpu.node.model).fill[gpu.hard] > 0;
  }

  /** A journal position to roll back to. */
  mark(): number {
    return this.journal.length;
  }

  /** Undoes every change made after `mark`. */
  rollback(mark: number): void {
    while (this.journal.length > mark) {
      const e = this.journal.pop() as JournalEntry;
      this.assign(e.gpu, e);
    }
  }

  /** Drops the journal: changes so far become permanent (call when no rollback is pending). */
  commit(): void {
    this.journal.length = 0;
  }

  /** For every GPU changed since `mark`, its contents at `mark`. */
  originalsSince(mark: number): Map<GpuState, GpuContents> {
    const out = new Map<GpuState, GpuContents>();
    for (let i = mark; i < this.journal.length; i++) {
      const e = this.journal[i];
      if (!out.has(e.gpu)) out.set(e.gpu, { mode: e.mode, slices: e.slices, holder: e.holder, inUse: e.inUse });
    }
    return out;
  }

  /** GPUs on which `key` holds a slice or the whole GPU. */
  gpusHeldBy(key: string): GpuState[] {
    return [...(this.byHolder.get(key) ?? [])].sort((a, b) => a.id - b.id);
  }

  /** Marks every allocation held by `key` as in use (or not): what a running container does. */
  setInUse(key: string, inUse: boolean): void {
    for (const gpu of this.gpusHeldBy(key)) {
      const slices = gpu.slices.map((s) => (s.holder?.key === key ? { ...s, inUse } : s));
      const whole = gpu.holder?.key === key;
      this.setGpu(gpu, { mode: gpu.mode, slices, holder: gpu.holder, inUse: whole ? inUse : gpu.inUse });
    }
  }

  /**
   * Releases every allocation held by `key`: its slices stay carved but become free (reusable), a whole
   * GPU loses its holder. Returns the number of allocations released.
   */
  release(key: string): number {
    let n = 0;
    for (const gpu of this.gpusHeldBy(key)) {
      const slices = gpu.slices.map((s) => {
        if (s.holder?.key !== key) return s;
        n++;
        return { profile: s.profile, start: s.start, inUse: false };
      });
      const whole = gpu.holder?.key === key;
      if (whole) n++;
      this.setGpu(gpu, { mode: gpu.mode, slices, holder: whole ? undefined : gpu.holder, inUse: whole ? false : gpu.inUse });
    }
    return n;
  }

  /** The current state as a snapshot (deep copy). */
  toSnapshot(): ClusterSnapshot {
    return {
      nodes: this.nodes.map((n) => ({
        name: n.name,
        product: n.product,
        ...(n.clique !== undefined ? { clique: n.clique } : {}),
        labels: { ...n.labels },
        schedulable: n.schedulable,
        gpus: n.gpus.map((g) => ({
          index: g.index,
          mode: g.mode,
          healthy: g.healthy,
          slices: g.slices.map(copySlice),
          ...(g.holder ? { holder: { ...g.holder } } : {}),
          ...(g.inUse ? { inUse: true } : {}),
        })),
      })),
    };
  }
}

function holderKeys(gpu: GpuState): string[] {
  const keys: string[] = [];
  if (gpu.holder) keys.push(gpu.holder.key);
  for (const s of gpu.slices) if (s.holder) keys.push(s.holder.key);
  return keys;
}

/** Deep copy of a slice. */
export function copySlice(s: SliceSnapshot): SliceSnapshot {
  return { profile: s.profile, start: s.start, ...(s.holder ? { holder: { ...s.holder } } : {}), inUse: s.inUse === true };
}
