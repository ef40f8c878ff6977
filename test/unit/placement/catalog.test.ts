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
    expect(validateLayout(m, [{ profile: '1g.23gb+me', start: 0 }, { profile: '1g.23gb+me', start: 1 }]).join('\n')).toMatch(/\+me/);
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
