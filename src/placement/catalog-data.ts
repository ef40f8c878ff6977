/**
 * GPU model data for the catalog, kept apart from the code so a board's profile names or sizes can be
 * corrected without touching logic. Facts: `/work/shared/reference/blackwell-mig.md`.
 *
 * Every MIG-capable board below shares the 7-compute / 8-memory-slot geometry; a board only contributes
 * its per-slot memory and its profile names.
 */

/** One MIG profile kind of the shared 7/8-slice geometry. */
export interface GeometryKind {
  /** Compute slices of the instance. */
  computeSlices: number;
  /** Memory slots of the instance. */
  memorySlots: number;
  /** Legal start memory slots. */
  starts: number[];
  /** Maximum instances of this kind on one GPU. */
  maxPerGpu: number;
  /** Media-extension (`+me`) variant. */
  mediaExtensions: boolean;
}

/** The legal placements of the shared geometry (NVML GPU instance profiles). */
export const GEOMETRY: Record<'1g' | '1gme' | '1g2' | '2g' | '3g' | '4g' | '7g', GeometryKind> = {
  // slot 7 is never a 1-slot start, so seven 1g instances leave slot 7 empty.
  '1g': { computeSlices: 1, memorySlots: 1, starts: [0, 1, 2, 3, 4, 5, 6], maxPerGpu: 7, mediaExtensions: false },
  '1gme': { computeSlices: 1, memorySlots: 1, starts: [0, 1, 2, 3, 4, 5, 6], maxPerGpu: 1, mediaExtensions: true },
  '1g2': { computeSlices: 1, memorySlots: 2, starts: [0, 2, 4, 6], maxPerGpu: 4, mediaExtensions: false },
  '2g': { computeSlices: 2, memorySlots: 2, starts: [0, 2, 4], maxPerGpu: 3, mediaExtensions: false },
  '3g': { computeSlices: 3, memorySlots: 4, starts: [0, 4], maxPerGpu: 2, mediaExtensions: false },
  '4g': { computeSlices: 4, memorySlots: 4, starts: [0], maxPerGpu: 1, mediaExtensions: false },
  '7g': { computeSlices: 7, memorySlots: 8, starts: [0], maxPerGpu: 1, mediaExtensions: false },
};

/** Data of one board: labels it is known by, memory per slot, and the profile name of each kind. */
export interface BoardData {
  product: string;
  aliases: string[];
  displayName: string;
  /** Whole-GPU memory in MiB. */
  memoryMiB: number;
  /** MiB per memory slot (a profile's memory is slots × this); absent for boards without MIG. */
  slotMiB?: number;
  /** Profile names by geometry kind; absent for boards without MIG. */
  names?: Record<keyof typeof GEOMETRY, string>;
}

/** Boards Haein knows. Order is the order `listModels` returns. */
export const BOARDS: BoardData[] = [
  {
    product: 'NVIDIA-B200',
    aliases: ['NVIDIA B200'],
    displayName: 'NVIDIA B200 180GB HBM3e',
    memoryMiB: 184320,
    slotMiB: 23040,
    names: { '1g': '1g.23gb', '1gme': '1g.23gb+me', '1g2': '1g.45gb', '2g': '2g.45gb', '3g': '3g.90gb', '4g': '4g.90gb', '7g': '7g.180gb' },
  },
  {
    product: 'NVIDIA-GB200',
    aliases: ['NVIDIA GB200'],
    displayName: 'NVIDIA GB200 186GB',
    memoryMiB: 190464,
    slotMiB: 23808,
    names: { '1g': '1g.23gb', '1gme': '1g.23gb+me', '1g2': '1g.47gb', '2g': '2g.47gb', '3g': '3g.93gb', '4g': '4g.93gb', '7g': '7g.186gb' },
  },
  {
    // Names follow mig-parted and the NVML mock; AWS P6-B300 documents the same geometry as
    // 1g.34gb … 7g.269gb (~269 GB usable). Memory is derived from the 7g name read as GiB, the way the
    // B200's 7g.180gb is exactly 184320 MiB: 278 GiB = 284672 MiB, 35584 MiB per slot; each smaller name
    // is that slot size × slots, rounded to whole GiB (1g 34.75 → 35, 2g 69.5 → 70, 3g/4g 139).
    product: 'NVIDIA-B300',
    aliases: ['NVIDIA-GB300', 'NVIDIA B300', 'NVIDIA GB300'],
    displayName: 'NVIDIA B300/GB300 (Blackwell Ultra) 288GB',
    memoryMiB: 284672,
    slotMiB: 35584,
    names: { '1g': '1g.35gb', '1gme': '1g.35gb+me', '1g2': '1g.70gb', '2g': '2g.70gb', '3g': '3g.139gb', '4g': '4g.139gb', '7g': '7g.278gb' },
  },
  {
    product: 'NVIDIA-H100-80GB-HBM3',
    aliases: ['NVIDIA H100 80GB HBM3'],
    displayName: 'NVIDIA H100 80GB HBM3',
    memoryMiB: 81920,
    slotMiB: 10240,
    names: { '1g': '1g.10gb', '1gme': '1g.10gb+me', '1g2': '1g.20gb', '2g': '2g.20gb', '3g': '3g.40gb', '4g': '4g.40gb', '7g': '7g.80gb' },
  },
  {
    // Derived like the B300: 7g.141gb read as 141 GiB = 144384 MiB, 18048 MiB per slot; the smaller names
    // round to whole GiB (1g 17.6 → 18, 2g 35.25 → 35, 3g/4g 70.5 → 71), matching the published names.
    product: 'NVIDIA-H200',
    aliases: ['NVIDIA-H200-141GB-HBM3', 'NVIDIA H200'],
    displayName: 'NVIDIA H200 141GB HBM3e',
    memoryMiB: 144384,
    slotMiB: 18048,
    names: { '1g': '1g.18gb', '1gme': '1g.18gb+me', '1g2': '1g.35gb', '2g': '2g.35gb', '3g': '3g.71gb', '4g': '4g.71gb', '7g': '7g.141gb' },
  },
  {
    // Not MIG-capable: only whole-GPU requests land here (used by tests and mixed fleets).
    product: 'NVIDIA-L40S',
    aliases: ['NVIDIA L40S'],
    displayName: 'NVIDIA L40S 48GB',
    memoryMiB: 46068,
  },
];
