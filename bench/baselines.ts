/**
 * The two comparison schedulers of the benchmark, simulated over the same stream as the engine.
 *
 * - `static`: every GPU pre-cut into one fixed mig-parted-style layout (B200 "all-balanced":
 *   2 × 1g.23gb, 1 × 2g.45gb, 1 × 3g.90gb); a slice request takes a free slice of exactly its profile;
 *   whole-GPU requests cannot be served.
 * - `nos`: first-fit over a fixed list of geometry templates, as nos does: take the first free slice
 *   of the profile anywhere; otherwise re-partition the first GPU whose used slices plus the new one fit a
 *   template (first template in list order). As in nos, MIG is a node-level setting: a fixed share of the
 *   nodes (sized by the bench from the stream's own whole-GPU demand, i.e. an oracle split) serves whole
 *   GPUs, the rest are MIG nodes. First node with enough idle GPUs for a whole-GPU member.
 * - `templates` (ablation): the same first-fit, but any idle GPU may switch mode, as in Haein. Positions follow the hardware: held slices stay put, and a new
 *   geometry's instances are created largest first at the lowest free legal start (the driver's pick).
 */
import { findProfile, modelForProduct, slotMask, type GpuModel, type MigProfile } from '../src/placement/catalog.js';
import type { PlacementRequest } from '../src/placement/types.js';

/** A scheduler under test. */
export interface Simulator {
  readonly name: string;
  /** Places the whole request or nothing; true when placed. */
  place(request: PlacementRequest): boolean;
  /** Frees what `request` holds. */
  release(request: PlacementRequest): void;
  /** GPUs holding at least one allocation. */
  gpusUsed(): number;
}

/** Cluster shape shared by the baselines. */
export interface Shape {
  nodes: number;
  gpusPerNode: number;
  /** Consecutive nodes per NVLink clique (the last clique may have fewer). */
  nodesPerClique: number;
}

const ALL_BALANCED = ['2g.45gb', '1g.23gb', '1g.23gb', '3g.90gb'];

/** Static layouts: nothing is ever re-partitioned. */
export class StaticLayoutSim implements Simulator {
  readonly name = 'static';
  private readonly gpus: Array<Array<{ profile: string; holder?: string }>>;
  private readonly held = new Map<string, Array<{ gpu: number; slot: number }>>();
  private used = 0;

  /** Pre-cuts every GPU. */
  constructor(shape: Shape) {
    this.gpus = Array.from({ length: shape.nodes * shape.gpusPerNode }, () => ALL_BALANCED.map((profile) => ({ profile })));
  }

  place(request: PlacementRequest): boolean {
    const taken: Array<{ key: string; gpu: number; slot: number }> = [];
    for (const m of request.members) {
      const found = m.kind === 'slice' ? this.findFree(m.profile ?? '') : undefined;
      if (!found) {
        for (const t of taken) this.free(t.gpu, t.slot);
        return false;
      }
      this.take(found.gpu, found.slot, m.key);
      taken.push({ key: m.key, ...found });
    }
    for (const t of taken) this.held.set(t.key, [...(this.held.get(t.key) ?? []), { gpu: t.gpu, slot: t.slot }]);
    return true;
  }

  private findFree(profile: string): { gpu: number; slot: number } | undefined {
    for (let g = 0; g < this.gpus.length; g++) {
      const slot = this.gpus[g].findIndex((s) => s.profile === profile && !s.holder);
      if (slot >= 0) return { gpu: g, slot };
    }
    return undefined;
  }

  private take(gpu: number, slot: number, key: string): void {
    if (this.gpus[gpu].every((s) => !s.holder)) this.used++;
    this.gpus[gpu][slot].holder = key;
  }

  private free(gpu: number, slot: number): void {
    this.gpus[gpu][slot].holder = undefined;
    if (this.gpus[gpu].every((s) => !s.holder)) this.used--;
  }

  release(request: PlacementRequest): void {
    for (const m of request.members) {
      for (const h of this.held.get(m.key) ?? []) this.free(h.gpu, h.slot);
      this.held.delete(m.key);
    }
  }

  gpusUsed(): number {
    return this.used;
  }
}

/** nos-style geometry templates for 7-slice boards (B200 names), in the order first-fit tries them. */
export const TEMPLATES: Array<Record<string, number>> = [
  { '1g.23gb': 7 },
  { '1g.23gb': 5, '2g.45gb': 1 },
  { '1g.23gb': 3, '2g.45gb': 2 },
  { '1g.23gb': 1, '2g.45gb': 3 },
  { '1g.23gb': 4, '3g.90gb': 1 },
  { '1g.23gb': 2, '2g.45gb': 1, '3g.90gb': 1 },
  { '2g.45gb': 2, '3g.90gb': 1 },
  { '3g.90gb': 2 },
  { '1g.23gb': 3, '4g.90gb': 1 },
  { '1g.23gb': 1, '2g.45gb': 1, '4g.90gb': 1 },
  { '3g.90gb': 1, '4g.90gb': 1 },
  { '1g.45gb': 4 },
  { '1g.45gb': 2, '3g.90gb': 1 },
  { '1g.45gb': 2, '2g.45gb': 2 },
  { '7g.180gb': 1 },
];

interface TemplateSlice {
  profile: string;
  start: number;
  holder?: string;
}

interface TemplateGpu {
  mode: 'mig' | 'whole';
  slices: TemplateSlice[];
  holder?: string;
}

/** First-fit over geometry templates. */
export class TemplateFirstFitSim implements Simulator {
  readonly name: string;
  /** Nodes fixed in whole-GPU mode (nos only partitions nodes labelled for MIG); undefined: any idle GPU may switch. */
  private readonly wholeNodes: number | undefined;
  private readonly gpus: TemplateGpu[];
  private readonly held = new Map<string, Array<{ gpu: number; slice?: TemplateSlice }>>();
  private readonly shape: Shape;
  private readonly model = modelForProduct('NVIDIA-B200') as GpuModel;

  /** Starts with every GPU in MIG mode and no slices (idle). */
  constructor(shape: Shape, options: { name?: string; wholeNodes?: number } = {}) {
    this.shape = shape;
    this.name = options.name ?? 'templates';
    this.wholeNodes = options.wholeNodes;
    this.gpus = Array.from({ length: shape.nodes * shape.gpusPerNode }, (_, g) => ({
      mode: this.isWholeNode(Math.floor(g / shape.gpusPerNode)) ? ('whole' as const) : ('mig' as const),
      slices: [],
    }));
  }

  // With a fixed split, the first `wholeNodes` nodes serve whole GPUs and the rest are MIG nodes.
  private isWholeNode(node: number): boolean {
    return this.wholeNodes !== undefined && node < this.wholeNodes;
  }

  private idle(g: TemplateGpu): boolean {
    return !g.holder && g.slices.every((s) => !s.holder);
  }

  place(request: PlacementRequest): boolean {
    const perClique = this.shape.nodesPerClique;
    const groups: number[][] =
      request.topology === 'sameClique'
        ? Array.from({ length: Math.ceil(this.shape.nodes / perClique) }, (_, c) => Array.from({ length: perClique }, (_, i) => c * perClique + i).filter((n) => n < this.shape.nodes))
        : [Array.from({ length: this.shape.nodes }, (_, n) => n)];
    for (const nodes of groups) {
      const undo: Array<() => void> = [];
      let ok = true;
      for (const m of request.members) {
        const step = m.kind === 'whole' ? this.takeWhole(nodes, m.gpus, m.key) : this.takeSlice(nodes, m.profile ?? '', m.key);
        if (!step) {
          ok = false;
          break;
        }
        undo.push(step);
      }
      if (ok) return true;
      for (const u of undo.reverse()) u();
    }
    return false;
  }

  private gpusOf(nodes: number[]): number[] {
    const out: number[] = [];
    for (const n of nodes) for (let i = 0; i < this.shape.gpusPerNode; i++) out.push(n * this.shape.gpusPerNode + i);
    return out;
  }

  /**
   * Re-partitions around the held slices to `template`: held slices stay where they are, free ones are
   * destroyed, and the template's missing instances are created largest first, each at the lowest free
   * legal start (the driver's choice when no placement is given). Undefined when that does not work out.
   */
  private realise(gpu: TemplateGpu, template: Record<string, number>): TemplateSlice[] | undefined {
    const keep = gpu.slices.filter((s) => s.holder);
    let used = 0;
    for (const s of keep) used |= slotMask(findProfile(this.model, s.profile) as MigProfile, s.start);
    const out = [...keep];
    const names = Object.keys(template).sort((a, b) => (findProfile(this.model, b)?.memorySlots ?? 0) - (findProfile(this.model, a)?.memorySlots ?? 0));
    for (const name of names) {
      const p = findProfile(this.model, name) as MigProfile;
      let missing = template[name] - keep.filter((s) => s.profile === name).length;
      if (missing < 0) return undefined;
      while (missing-- > 0) {
        const start = p.starts.find((st) => (slotMask(p, st) & used) === 0);
        if (start === undefined) return undefined;
        used |= slotMask(p, start);
        out.push({ profile: name, start });
      }
    }
    return out;
  }

  private takeSlice(nodes: number[], profile: string, key: string): (() => void) | undefined {
    const candidates = this.gpusOf(nodes.filter((n) => !this.isWholeNode(n)));
    // Pass 1: a free slice of the profile in an existing geometry (no re-partitioning).
    for (const g of candidates) {
      const gpu = this.gpus[g];
      if (gpu.mode !== 'mig') continue;
      const slice = gpu.slices.find((s) => s.profile === profile && !s.holder);
      if (slice) return this.hold(g, slice, key, undefined);
    }
    // Pass 2: the first GPU that the first fitting template can re-partition around its held slices.
    for (const g of candidates) {
      const gpu = this.gpus[g];
      if (gpu.holder) continue;
      const counts = new Map<string, number>();
      for (const s of gpu.slices) if (s.holder) counts.set(s.profile, (counts.get(s.profile) ?? 0) + 1);
      for (const tpl of TEMPLATES) {
        if ((tpl[profile] ?? 0) < (counts.get(profile) ?? 0) + 1 || ![...counts].every(([p, n]) => (tpl[p] ?? 0) >= n)) continue;
        const slices = this.realise(gpu, tpl);
        if (!slices) continue;
        const before = { mode: gpu.mode, slices: gpu.slices };
        gpu.mode = 'mig';
        gpu.slices = slices;
        const slice = slices.find((s) => s.profile === profile && !s.holder) as TemplateSlice;
        return this.hold(g, slice, key, before);
      }
    }
    return undefined;
  }

  private hold(g: number, slice: TemplateSlice, key: string, before: { mode: 'mig' | 'whole'; slices: TemplateSlice[] } | undefined): () => void {
    const gpu = this.gpus[g];
    slice.holder = key;
    this.held.set(key, [{ gpu: g, slice }]);
    return () => {
      slice.holder = undefined;
      if (before) {
        gpu.mode = before.mode;
        gpu.slices = before.slices;
      }
      this.held.delete(key);
    };
  }

  private takeWhole(nodes: number[], count: number, key: string): (() => void) | undefined {
    for (const n of nodes) {
      if (this.wholeNodes !== undefined && !this.isWholeNode(n)) continue;
      const idle = this.gpusOf([n]).filter((g) => this.idle(this.gpus[g]));
      if (idle.length < count) continue;
      const chosen = idle.slice(0, count);
      const before = chosen.map((g) => ({ mode: this.gpus[g].mode, slices: this.gpus[g].slices }));
      for (const g of chosen) {
        this.gpus[g].mode = 'whole';
        this.gpus[g].slices = [];
        this.gpus[g].holder = key;
      }
      this.held.set(key, chosen.map((gpu) => ({ gpu })));
      return () => {
        chosen.forEach((g, i) => {
          this.gpus[g].holder = undefined;
          this.gpus[g].mode = before[i].mode;
          this.gpus[g].slices = before[i].slices;
        });
        this.held.delete(key);
      };
    }
    return undefined;
  }

  release(request: PlacementRequest): void {
    for (const m of request.members) {
      for (const h of this.held.get(m.key) ?? []) {
        if (h.slice) h.slice.holder = undefined;
        else this.gpus[h.gpu].holder = undefined;
      }
      this.held.delete(m.key);
    }
  }

  gpusUsed(): number {
    let n = 0;
    for (const g of this.gpus) if (!this.idle(g)) n++;
    return n;
  }
}
