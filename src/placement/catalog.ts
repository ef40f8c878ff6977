/**
 * GPU model catalog: the legal MIG profiles and placements of every board Haein knows, matched from the
 * `nvidia.com/gpu.product` node label.
 */
import { BOARDS, GEOMETRY, type BoardData } from './catalog-data.js';

/** One GPU-instance profile of a model. */
export interface MigProfile {
  name: string;
  computeSlices: number;
  memorySlots: number;
  memoryMiB: number;
  /** legal start memory slots */
  starts: number[];
  maxPerGpu: number;
  mediaExtensions: boolean;
}

/** A GPU model. */
export interface GpuModel {
  product: string;
  aliases: string[];
  displayName: string;
  memoryMiB: number;
  migCapable: boolean;
  profiles: MigProfile[];
}

/** Number of memory slots of every MIG-capable model. */
export const MEMORY_SLOTS = 8;
/** Number of compute slices of every MIG-capable model. */
export const COMPUTE_SLICES = 7;

function buildModel(board: BoardData): GpuModel {
  const profiles: MigProfile[] = [];
  if (board.names && board.slotMiB) {
    for (const [kind, geo] of Object.entries(GEOMETRY) as Array<[keyof typeof GEOMETRY, (typeof GEOMETRY)[keyof typeof GEOMETRY]]>) {
      profiles.push({
        name: board.names[kind],
        computeSlices: geo.computeSlices,
        memorySlots: geo.memorySlots,
        memoryMiB: geo.memorySlots * board.slotMiB,
        starts: [...geo.starts],
        maxPerGpu: geo.maxPerGpu,
        mediaExtensions: geo.mediaExtensions,
      });
    }
  }
  return {
    product: board.product,
    aliases: [...board.aliases],
    displayName: board.displayName,
    memoryMiB: board.memoryMiB,
    migCapable: profiles.length > 0,
    profiles,
  };
}

const MODELS: GpuModel[] = BOARDS.map(buildModel);
const BY_PRODUCT = new Map<string, GpuModel>();
for (const model of MODELS) {
  for (const name of [model.product, ...model.aliases]) BY_PRODUCT.set(normalize(name), model);
}

// GFD replaces spaces by dashes in label values; accept either spelling and any case.
function normalize(product: string): string {
  return product.trim().replace(/\s+/g, '-').toUpperCase();
}

/** The model a `nvidia.com/gpu.product` label value (or alias) denotes, e.g. `NVIDIA-B200`. */
export function modelForProduct(product: string): GpuModel | undefined {
  return BY_PRODUCT.get(normalize(product));
}

/** Every known model, in catalog order. */
export function listModels(): GpuModel[] {
  return [...MODELS];
}

/** The profile of `model` called `name`, if any. */
export function findProfile(model: GpuModel, name: string): MigProfile | undefined {
  return model.profiles.find((p) => p.name === name);
}

/**
 * Memory slots each profile of `product` spans; an unknown product or profile counts as the whole GPU (8), so an
 * overlap check made with it errs on the safe side.
 */
export function memorySlotsOf(product: string | undefined): (profile: string) => number {
  const model = product ? modelForProduct(product) : undefined;
  return (profile) => (model ? findProfile(model, profile)?.memorySlots : undefined) ?? 8;
}

/** Bit mask of the memory slots a profile occupies from `start`. */
export function slotMask(profile: Pick<MigProfile, 'memorySlots'>, start: number): number {
  return ((1 << profile.memorySlots) - 1) << start;
}

/**
 * [] when the layout is legal for the model; otherwise one human-readable message per problem
 * (unknown profile, illegal start, overlap, too many instances, more than one +me, compute > 7).
 */
export function validateLayout(model: GpuModel, slices: Array<{ profile: string; start: number }>): string[] {
  const problems: string[] = [];
  if (!model.migCapable) {
    if (slices.length > 0) problems.push(`${model.product} is not MIG-capable but the layout has ${slices.length} slice(s)`);
    return problems;
  }
  const counts = new Map<string, number>();
  const owners: Array<string | undefined> = new Array(MEMORY_SLOTS).fill(undefined);
  let compute = 0;
  let media = 0;
  for (const slice of slices) {
    const profile = findProfile(model, slice.profile);
    const label = `${slice.profile}@${slice.start}`;
    if (!profile) {
      problems.push(`unknown profile ${slice.profile} for ${model.product}`);
      continue;
    }
    if (!profile.starts.includes(slice.start)) {
      problems.push(`${label}: illegal start ${slice.start} (legal: ${profile.starts.join(', ')})`);
      continue;
    }
    counts.set(profile.name, (counts.get(profile.name) ?? 0) + 1);
    compute += profile.computeSlices;
    if (profile.mediaExtensions) media++;
    for (let s = slice.start; s < slice.start + profile.memorySlots; s++) {
      const owner = owners[s];
      if (owner !== undefined) {
        problems.push(`${label} overlaps ${owner} at memory slot ${s}`);
        break;
      }
      owners[s] = label;
    }
  }
  for (const [name, count] of counts) {
    const max = findProfile(model, name)?.maxPerGpu ?? 0;
    if (count > max) problems.push(`${count} × ${name} exceeds the maximum of ${max} per GPU`);
  }
  if (media > 1) problems.push(`${media} media-extension (+me) instances; at most one per GPU`);
  if (compute > COMPUTE_SLICES) problems.push(`layout uses ${compute} compute slices; a GPU has ${COMPUTE_SLICES}`);
  return problems;
}

/** What a slice needs when it names no profile. */
export interface SliceNeeds {
  /** Minimum memory in MiB. */
  memoryMiB?: number;
  /** Minimum compute slices. */
  computeSlices?: number;
}

/**
 * The smallest profile of `model` that satisfies `needs`: fewest memory slots, then fewest compute slices,
 * then a profile without media extensions. `undefined` when nothing fits or the model has no MIG.
 */
export function resolveProfile(model: GpuModel, needs: SliceNeeds): MigProfile | undefined {
  const memory = needs.memoryMiB ?? 0;
  const compute = needs.computeSlices ?? 1;
  let best: MigProfile | undefined;
  for (const p of model.profiles) {
    if (p.memoryMiB < memory || p.computeSlices < compute) continue;
    if (!best || smaller(p, best)) best = p;
  }
  return best;
}

function smaller(a: MigProfile, b: MigProfile): boolean {
  if (a.memorySlots !== b.memorySlots) return a.memorySlots < b.memorySlots;
  if (a.computeSlices !== b.computeSlices) return a.computeSlices < b.computeSlices;
  return !a.mediaExtensions && b.mediaExtensions;
}
