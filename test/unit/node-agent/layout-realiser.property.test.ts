import fc from 'fast-check';
import type { TargetGpu } from '../../../src/api/types.js';
import { type CurrentGpu, planRealisation } from '../../../src/node-agent/layout-realiser.js';
import { modelForProduct, validateLayout } from '../../../src/placement/catalog.js';
import { runs } from '../../support/property-runs.js';

const b200 = modelForProduct('NVIDIA-B200')!;
const candidates = b200.profiles.flatMap((p) => p.starts.map((start) => ({ profile: p.name, start })));

/** A legal MIG layout: random candidate slices, each kept only if the layout stays legal. */
const legalSlices = fc.array(fc.nat(candidates.length - 1), { maxLength: 10 }).map((picks) => {
  const out: Array<{ profile: string; start: number }> = [];
  for (const i of picks) {
    const next = [...out, candidates[i]];
    if (validateLayout(b200, next).length === 0) out.push(candidates[i]);
  }
  return out;
});

const gpuState = fc.record({
  mode: fc.constantFrom<'mig' | 'whole'>('mig', 'whole'),
  slices: legalSlices,
  inUseBits: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
  wholeInUse: fc.boolean(),
  inTarget: fc.boolean(),
  targetMode: fc.constantFrom<'mig' | 'whole'>('mig', 'whole'),
  targetSlices: legalSlices,
});

/** Applies steps to a copy of the layout, checking each step's precondition as the hardware would. */
function apply(current: CurrentGpu[], steps: ReturnType<typeof planRealisation> & { ok: true }): CurrentGpu[] {
  const gpus = structuredClone(current);
  for (const s of steps.steps) {
    const g = gpus[s.gpu];
    if (s.kind === 'destroy') {
      const i = g.slices.findIndex((x) => x.profile === s.profile && x.start === s.start);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(g.slices[i].inUse).toBe(false);
      g.slices.splice(i, 1);
    } else if (s.kind === 'setMode') {
      expect(g.slices).toEqual([]);
      expect(g.inUse).toBe(false);
      g.mode = s.mode;
    } else {
      expect(g.mode).toBe('mig');
      g.slices.push({ profile: s.profile, start: s.start, inUse: false });
      expect(validateLayout(b200, g.slices)).toEqual([]);
    }
  }
  return gpus;
}

const key = (s: { profile: string; start: number }) => `${s.profile}@${s.start}`;

describe('planRealisation (properties)', () => {
  it('either reaches exactly the target without touching held devices, or refuses naming a held one', () => {
    fc.assert(
      fc.property(fc.array(gpuState, { minLength: 1, maxLength: 4 }), (states) => {
        const current: CurrentGpu[] = states.map((st, index) => ({
          index,
          mode: st.mode,
          inUse: st.mode === 'whole' && st.wholeInUse,
          slices: st.mode === 'mig' ? st.slices.map((s, i) => ({ ...s, inUse: st.inUseBits[i] })) : [],
        }));
        const target: TargetGpu[] = states
          .map((st, index) => ({ st, index }))
          .filter(({ st }) => st.inTarget)
          .map(({ st, index }) => ({ index, mode: st.targetMode, slices: st.targetMode === 'mig' ? st.targetSlices : [] }));
        const plan = planRealisation(b200, current, target);
        if (!plan.ok) {
          expect(plan.reason).toBe('SliceInUse');
          // The refusal is justified: some targeted GPU would lose a held device.
          const wouldLoseHeld = target.some((t) => {
            const g = current[t.index];
            if (g.mode !== t.mode) return g.inUse || g.slices.some((x) => x.inUse);
            return g.slices.some((x) => x.inUse && !t.slices.map(key).includes(key(x)));
          });
          expect(wouldLoseHeld).toBe(true);
          return;
        }
        const after = apply(current, plan);
        for (const t of target) {
          expect(after[t.index].mode).toBe(t.mode);
          expect(after[t.index].slices.map(key).sort()).toEqual(t.slices.map(key).sort());
        }
        for (const g of current) {
          if (!target.some((t) => t.index === g.index)) expect(after[g.index]).toEqual(g);
          // Held slices survive untouched.
          for (const s of g.slices.filter((x) => x.inUse)) expect(after[g.index].slices.map(key)).toContain(key(s));
        }
        // Nothing is destroyed that the target keeps (no needless churn) unless the mode changes.
        for (const t of target) {
          if (current[t.index].mode !== t.mode) continue;
          const destroyed = plan.steps.flatMap((s) => (s.kind === 'destroy' && s.gpu === t.index ? [key(s)] : []));
          for (const k of destroyed) expect(t.slices.map(key)).not.toContain(k);
        }
      }),
      { numRuns: runs(300) },
    );
  });
});
