import { findProfile, listModels, modelForProduct, resolveProfile, validateLayout, type GpuModel } from '../../../src/placement/catalog.js';

function b200(): GpuModel {
  const m = modelForProduct('NVIDIA-B200');
  if (!m) throw new Error('B200 missing from the catalog');
  return m;
}

describe('catalog', () => {
  it('matches products and aliases from the gpu.product label', () => {
    expect(modelForProduct('NVIDIA-B200')?.product).toBe('NVIDIA-B200');
    expect(modelForProduct('NVIDIA-GB300')?.product).toBe('NVIDIA-B300');
    expect(modelForProduct('NVIDIA-H200-141GB-HBM3')?.product).toBe('NVIDIA-H200');
    expect(modelForProduct('NVIDIA H100 80GB HBM3')?.product).toBe('NVIDIA-H100-80GB-HBM3');
    expect(modelForProduct('NVIDIA-A10')).toBeUndefined();
    expect(modelForProduct('NVIDIA-L40S')?.migCapable).toBe(false);
  });

  it('carries the reference memory sizes for B200 and GB200', () => {
    const m = b200();
    expect(findProfile(m, '1g.23gb')?.memoryMiB).toBe(23040);
    expect(findProfile(m, '1g.45gb')?.memoryMiB).toBe(46080);
    expect(findProfile(m, '3g.90gb')?.memoryMiB).toBe(92160);
    expect(findProfile(m, '7g.180gb')?.memoryMiB).toBe(m.memoryMiB);
    const gb = modelForProduct('NVIDIA-GB200');
    expect(gb && findProfile(gb, '2g.47gb')?.memoryMiB).toBe(47616);
    expect(gb && findProfile(gb, '7g.186gb')?.memoryMiB).toBe(190464);
  });

  it('gives every MIG model the shared geometry with consistent names', () => {
    for (const model of listModels().filter((m) => m.migCapable)) {
      expect(model.profiles.map((p) => p.computeSlices).sort()).toEqual([1, 1, 1, 2, 3, 4, 7]);
      for (const p of model.profiles) {
        // The name's memory (GiB) rounds from the profile's MiB.
        const gb = Number(/\.(\d+)gb/.exec(p.name)?.[1]);
        expect(Math.abs(gb - p.memoryMiB / 1024)).toBeLessThanOrEqual(0.5);
        expect(p.name.startsWith(`${p.computeSlices}g.`)).toBe(true);
        for (const s of p.starts) expect(s + p.memorySlots).toBeLessThanOrEqual(8);
      }
    }
  });

  it('accepts the layouts the reference calls legal', () => {
    const m = b200();
    expect(validateLayout(m, [{ profile: '4g.90gb', start: 0 }, { profile: '3g.90gb', start: 4 }])).toEqual([]);
    expect(validateLayout(m, [0, 2, 4].map((start) => ({ profile: '2g.45gb', start })).concat({ profile: '1g.23gb', start: 6 }))).toEqual([]);
    expect(validateLayout(m, [0, 1, 2, 3, 4, 5, 6].map((start) => ({ profile: '1g.23gb', start })))).toEqual([]);
    expect(validateLayout(m, [{ profile: '7g.180gb', start: 0 }])).toEqual([]);
  });

  it('reports each problem of an illegal layout', () => {
    const m = b200();
    expect(validateLayout(m, [{ profile: '5g.100gb', start: 0 }])[0]).toMatch(/unknown profile 5g.100gb/);
    expect(validateLayout(m, [{ profile: '1g.23gb', start: 7 }])[0]).toMatch(/illegal start 7/);
    expect(validateLayout(m, [{ profile: '3g.90gb', start: 2 }])[0]).toMatch(/illegal start 2/);
    expect(validateLayout(m, [{ profile: '3g.90gb', start: 0 }, { profile: '1g.23gb', start: 1 }])[0]).toMatch(/overlaps/);
    expect(validateLayout(m, [{ profile: '1g.23gb+me', start: 0 }, { profile: '1g.23gb+me', start: 1 }])).toEqual([
      '2 × 1g.23gb+me exceeds the maximum of 1 per GPU',
      '2 media-extension (+me) instances; at most one per GPU',
    ]);
    expect(validateLayout(m, [{ profile: '3g.90gb', start: 2 }])).toEqual(['3g.90gb@2: illegal start 2 (legal: 0, 4)']);
    const crowded = validateLayout(m, [{ profile: '4g.90gb', start: 0 }, { profile: '4g.90gb', start: 0 }]);
    expect(crowded.join('\n')).toMatch(/exceeds the maximum of 1/);
    expect(crowded.join('\n')).toMatch(/compute slices/);
    const l40s = modelForProduct('NVIDIA-L40S');
    expect(l40s && validateLayout(l40s, [{ profile: '1g.23gb', start: 0 }])[0]).toMatch(/not MIG-capable/);
  });
});

describe('resolveProfile', () => {
  const m = b200();
  it.each([
    [{ memoryMiB: 1 }, '1g.23gb'],
    [{ memoryMiB: 23040 }, '1g.23gb'],
    [{ memoryMiB: 23041 }, '1g.45gb'],
    [{ memoryMiB: 30000, computeSlices: 2 }, '2g.45gb'],
    [{ computeSlices: 3 }, '3g.90gb'],
    [{ computeSlices: 4 }, '4g.90gb'],
    [{ memoryMiB: 100000 }, '7g.180gb'],
    [{ computeSlices: 5 }, '7g.180gb'],
    [{}, '1g.23gb'],
  ])('resolves %j to %s', (needs, expected) => {
    expect(resolveProfile(m, needs)?.name).toBe(expected);
  });
  it('returns undefined when nothing fits or the model has no MIG', () => {
    expect(resolveProfile(m, { memoryMiB: 200000 })).toBeUndefined();
    const l40s = modelForProduct('NVIDIA-L40S');
    expect(l40s && resolveProfile(l40s, { memoryMiB: 1 })).toBeUndefined();
  });
});

/**
 * The reference tables (/work/shared/reference/blackwell-mig.md), written out here independently of the
 * catalog's own data: per board, the whole-GPU memory and each profile's name, and per kind, the compute slices,
 * memory slots, maximum count and legal starts (the same on every board).
 */
const KINDS = {
  '1g': { compute: 1, slots: 1, max: 7, starts: [0, 1, 2, 3, 4, 5, 6], media: false },
  '1g+me': { compute: 1, slots: 1, max: 1, starts: [0, 1, 2, 3, 4, 5, 6], media: true },
  '1g double': { compute: 1, slots: 2, max: 4, starts: [0, 2, 4, 6], media: false },
  '2g': { compute: 2, slots: 2, max: 3, starts: [0, 2, 4], media: false },
  '3g': { compute: 3, slots: 4, max: 2, starts: [0, 4], media: false },
  '4g': { compute: 4, slots: 4, max: 1, starts: [0], media: false },
  '7g': { compute: 7, slots: 8, max: 1, starts: [0], media: false },
} as const;
type Kind = keyof typeof KINDS;
const BOARDS: Array<{ product: string; memoryMiB: number; names: Record<Kind, string> }> = [
  { product: 'NVIDIA-B200', memoryMiB: 184320, names: { '1g': '1g.23gb', '1g+me': '1g.23gb+me', '1g double': '1g.45gb', '2g': '2g.45gb', '3g': '3g.90gb', '4g': '4g.90gb', '7g': '7g.180gb' } },
  { product: 'NVIDIA-GB200', memoryMiB: 190464, names: { '1g': '1g.23gb', '1g+me': '1g.23gb+me', '1g double': '1g.47gb', '2g': '2g.47gb', '3g': '3g.93gb', '4g': '4g.93gb', '7g': '7g.186gb' } },
  { product: 'NVIDIA-B300', memoryMiB: 284672, names: { '1g': '1g.35gb', '1g+me': '1g.35gb+me', '1g double': '1g.70gb', '2g': '2g.70gb', '3g': '3g.139gb', '4g': '4g.139gb', '7g': '7g.278gb' } },
  { product: 'NVIDIA-H100-80GB-HBM3', memoryMiB: 81920, names: { '1g': '1g.10gb', '1g+me': '1g.10gb+me', '1g double': '1g.20gb', '2g': '2g.20gb', '3g': '3g.40gb', '4g': '4g.40gb', '7g': '7g.80gb' } },
  { product: 'NVIDIA-H200', memoryMiB: 144384, names: { '1g': '1g.18gb', '1g+me': '1g.18gb+me', '1g double': '1g.35gb', '2g': '2g.35gb', '3g': '3g.71gb', '4g': '4g.71gb', '7g': '7g.141gb' } },
];

describe.each(BOARDS)('catalog against the reference: $product', ({ product, memoryMiB, names }) => {
  const model = modelForProduct(product)!;

  it('has the board memory, and its largest profile has all of it', () => {
    expect(model.memoryMiB).toBe(memoryMiB);
    const largest = [...model.profiles].sort((a, b) => b.memoryMiB - a.memoryMiB)[0];
    expect(largest.name).toBe(names['7g']);
    expect(largest.memoryMiB).toBe(memoryMiB);
    // Every profile's memory is its share of the 8 memory slots.
    for (const p of model.profiles) expect(p.memoryMiB).toBe((memoryMiB / 8) * p.memorySlots);
  });

  it.each(Object.keys(KINDS) as Kind[])('%s: name, size, maximum and every legal and illegal start', (kind) => {
    const want = KINDS[kind];
    const p = findProfile(model, names[kind]);
    expect(p).toMatchObject({ computeSlices: want.compute, memorySlots: want.slots, maxPerGpu: want.max, mediaExtensions: want.media });
    expect(p?.starts).toEqual(want.starts);
    for (let start = 0; start < 8; start++) {
      const problems = validateLayout(model, [{ profile: names[kind], start }]);
      if ((want.starts as readonly number[]).includes(start)) expect(problems).toEqual([]);
      else expect(problems.join('; ')).toMatch(new RegExp(`illegal start ${start}`));
    }
    // The maximum count fits when there is room; one more never does, even where its slots are free.
    const fill = want.starts.slice(0, want.max).map((start) => ({ profile: names[kind], start }));
    if (fill.every((s, i) => i === 0 || s.start >= fill[i - 1].start + want.slots)) expect(validateLayout(model, fill)).toEqual([]);
    const slotsOf = (start: number) => Array.from({ length: want.slots }, (_, i) => start + i);
    const used = new Set(fill.flatMap((s) => slotsOf(s.start)));
    const spare = want.starts.find((start) => slotsOf(start).every((x) => !used.has(x)));
    expect(validateLayout(model, [...fill, { profile: names[kind], start: spare ?? want.starts[0] }])).not.toEqual([]);
  });

  it('knows no profile beyond the seven of the reference', () => {
    expect(model.profiles.map((p) => p.name).sort()).toEqual(Object.values(names).sort());
  });
});
