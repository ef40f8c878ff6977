import type { TargetGpu } from '../../../src/api/types.js';
import { type CurrentGpu, planRealisation, type RealisationStep, realiseLayout } from '../../../src/node-agent/layout-realiser.js';
import { modelForProduct } from '../../../src/placement/catalog.js';

const b200 = modelForProduct('NVIDIA-B200')!;
const l40s = modelForProduct('NVIDIA-L40S')!;

function gpu(index: number, mode: 'mig' | 'whole', slices: Array<[string, number, boolean?]> = [], inUse = false): CurrentGpu {
  return { index, mode, inUse, slices: slices.map(([profile, start, used]) => ({ profile, start, inUse: used ?? false })) };
}

function mig(index: number, slices: Array<[string, number]>): TargetGpu {
  return { index, mode: 'mig', slices: slices.map(([profile, start]) => ({ profile, start })) };
}

describe('planRealisation', () => {
  it('creates and destroys only what differs, destroys before creates', () => {
    const current = [gpu(0, 'mig', [['3g.90gb', 0], ['1g.23gb', 4], ['1g.23gb', 5]])];
    const plan = planRealisation(b200, current, [mig(0, [['3g.90gb', 0], ['2g.45gb', 4], ['1g.23gb', 6]])]);
    expect(plan).toEqual({
      ok: true,
      steps: [
        { kind: 'destroy', gpu: 0, profile: '1g.23gb', start: 4 },
        { kind: 'destroy', gpu: 0, profile: '1g.23gb', start: 5 },
        { kind: 'create', gpu: 0, profile: '2g.45gb', start: 4 },
        { kind: 'create', gpu: 0, profile: '1g.23gb', start: 6 },
      ],
    });
  });

  it('leaves GPUs absent from the target alone and plans nothing for an already realised target', () => {
    const current = [gpu(0, 'mig', [['7g.180gb', 0, true]]), gpu(1, 'whole')];
    expect(planRealisation(b200, current, [{ index: 1, mode: 'whole', slices: [] }])).toEqual({ ok: true, steps: [] });
    expect(planRealisation(b200, current, undefined)).toEqual({ ok: true, steps: [] });
  });

  it('switches MIG mode after emptying an idle GPU', () => {
    const plan = planRealisation(b200, [gpu(0, 'mig', [['4g.90gb', 0]])], [{ index: 0, mode: 'whole', slices: [] }]);
    expect(plan).toEqual({
      ok: true,
      steps: [
        { kind: 'destroy', gpu: 0, profile: '4g.90gb', start: 0 },
        { kind: 'setMode', gpu: 0, mode: 'whole' },
      ],
    });
    const enable = planRealisation(b200, [gpu(0, 'whole')], [mig(0, [['1g.23gb', 0]])]);
    expect(enable.ok && enable.steps.map((s) => s.kind)).toEqual(['setMode', 'create']);
  });

  it('refuses the whole target when a slice to destroy is in use, naming it', () => {
    const current = [gpu(0, 'mig', [['1g.23gb', 0, true], ['1g.23gb', 1]]), gpu(1, 'whole')];
    const plan = planRealisation(b200, current, [mig(0, [['2g.45gb', 2]]), mig(1, [['7g.180gb', 0]])]);
    expect(plan.ok).toBe(false);
    expect(plan.ok === false && plan.reason).toBe('SliceInUse');
    expect(plan.ok === false && plan.message).toContain('GPU 0 slice 1g.23gb@0');
    expect(plan.ok === false && plan.message).not.toContain('1g.23gb@1');
  });

  it('refuses to switch the mode of a whole GPU a container holds', () => {
    const plan = planRealisation(b200, [gpu(0, 'whole', [], true)], [mig(0, [['7g.180gb', 0]])]);
    expect(plan).toEqual({ ok: false, reason: 'SliceInUse', message: 'target would destroy in-use device(s): GPU 0 (whole)' });
  });

  it.each([
    ['overlap', [mig(0, [['3g.90gb', 0], ['2g.45gb', 2]])]],
    ['bad start', [mig(0, [['3g.90gb', 2]])]],
    ['unknown profile', [mig(0, [['1g.10gb', 0]])]],
    ['missing GPU', [mig(8, [['1g.23gb', 0]])]],
    ['duplicate GPU', [mig(0, [['1g.23gb', 0]]), mig(0, [['1g.23gb', 1]])]],
    ['slices in whole mode', [{ index: 0, mode: 'whole', slices: [{ profile: '1g.23gb', start: 0 }] } as TargetGpu]],
  ])('rejects an illegal layout (%s) with IllegalLayout', (_name, target) => {
    const current = Array.from({ length: 8 }, (_, i) => gpu(i, 'mig'));
    expect(planRealisation(b200, current, target)).toMatchObject({ ok: false, reason: 'IllegalLayout' });
  });

  it.each([
    ['overlap', [mig(0, [['3g.90gb', 0], ['2g.45gb', 2]])], 'GPU 0: 2g.45gb@2 overlaps 3g.90gb@0 at memory slot 2'],
    ['missing GPU', [mig(8, [['1g.23gb', 0]])], 'GPU 8 does not exist (the node has 8)'],
    ['duplicate GPU', [mig(0, [['1g.23gb', 0]]), mig(0, [['1g.23gb', 1]])], 'GPU 0 appears more than once'],
    ['slices in whole mode', [{ index: 0, mode: 'whole', slices: [{ profile: '1g.23gb', start: 0 }] } as TargetGpu], 'GPU 0: whole mode cannot have MIG slices'],
  ])('names the problem of an illegal layout (%s)', (_name, target, problem) => {
    const current = Array.from({ length: 8 }, (_, i) => gpu(i, 'mig'));
    const plan = planRealisation(b200, current, target);
    expect(plan.ok === false && plan.message).toBe(`illegal target layout: ${problem}`);
  });

  it('rejects MIG mode on a model that is not MIG-capable, and accepts whole mode there', () => {
    const plan = planRealisation(l40s, [gpu(0, 'whole')], [mig(0, [])]);
    expect(plan).toMatchObject({ ok: false, reason: 'IllegalLayout', message: 'illegal target layout: GPU 0: NVIDIA-L40S is not MIG-capable' });
    expect(planRealisation(l40s, [gpu(0, 'whole'), gpu(1, 'whole')], [{ index: 1, mode: 'whole', slices: [] }])).toEqual({ ok: true, steps: [] });
  });

  it('takes a target GPU without a slice list (as the API may send it) as no slices', () => {
    const bare = (index: number, mode: 'mig' | 'whole') => ({ index, mode }) as TargetGpu;
    expect(planRealisation(b200, [gpu(0, 'mig', [['1g.23gb', 0]]), gpu(1, 'mig')], [bare(0, 'mig'), bare(1, 'whole')])).toEqual({
      ok: true,
      steps: [
        { kind: 'destroy', gpu: 0, profile: '1g.23gb', start: 0 },
        { kind: 'setMode', gpu: 1, mode: 'whole' },
      ],
    });
  });

  it('an illegal GPU blocks legal changes on other GPUs too', () => {
    const plan = planRealisation(b200, [gpu(0, 'mig'), gpu(1, 'mig')], [mig(0, [['1g.23gb', 0]]), mig(1, [['3g.90gb', 1]])]);
    expect(plan).toMatchObject({ ok: false, reason: 'IllegalLayout' });
  });
});

describe('realiseLayout', () => {
  it('applies the plan through the executor and reports the duration', async () => {
    const applied: RealisationStep[] = [];
    let t = 1000;
    const result = await realiseLayout(
      b200,
      [gpu(0, 'whole')],
      [mig(0, [['3g.90gb', 0], ['3g.90gb', 4]])],
      async (s) => {
        applied.push(s);
        t += 250;
      },
      () => t,
    );
    expect(result.outcome).toBe('Realised');
    expect(result.message).toBe('applied 3 change(s)');
    expect(applied).toHaveLength(3);
    expect(result.applied).toBe(3);
    expect(result.durationMs).toBe(750);
  });

  it('says so when there is nothing to do', async () => {
    const result = await realiseLayout(b200, [gpu(0, 'whole')], [{ index: 0, mode: 'whole', slices: [] }], async () => {
      throw new Error('no step expected');
    });
    expect(result).toMatchObject({ outcome: 'Realised', message: 'layout already realised', applied: 0, steps: [] });
  });

  it('changes nothing when refused', async () => {
    const applied: RealisationStep[] = [];
    const clock = [1000, 1007];
    const result = await realiseLayout(b200, [gpu(0, 'mig', [['7g.180gb', 0, true]])], [mig(0, [])], async (s) => {
      applied.push(s);
    }, () => clock.shift() ?? 2000);
    expect(result.durationMs).toBe(7);
    expect(result).toMatchObject({ outcome: 'SliceInUse', steps: [], applied: 0 });
    expect(result.message).toBe('target would destroy in-use device(s): GPU 0 slice 7g.180gb@0');
    expect(applied).toEqual([]);
  });

  it('reports a step failure with how far it got', async () => {
    let n = 0;
    let t = 500;
    const result = await realiseLayout(b200, [gpu(0, 'whole')], [mig(0, [['1g.23gb', 0], ['1g.23gb', 1]])], async () => {
      t += 40;
      if (++n === 2) throw new Error('boom');
    }, () => t);
    expect(result).toMatchObject({ outcome: 'Failed', applied: 1, durationMs: 80 });
    expect(result.message).toBe('step 2 of 3 failed: boom');
  });
});
