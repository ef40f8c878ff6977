/**
 * Layout realisation: the difference between a node's target layout (GpuNode spec) and what its GPUs hold,
 * as an ordered list of hardware steps, with the refusals the node agent must make. Pure: no I/O, no
 * Kubernetes; the steps are carried out through an injected executor.
 */
import type { TargetGpu } from '../api/types.js';
import { type GpuModel, validateLayout } from '../placement/catalog.js';

/** A slice as realisation sees it. */
export interface CurrentSlice {
  profile: string;
  start: number;
  inUse: boolean;
}

/** A GPU as realisation sees it. */
export interface CurrentGpu {
  index: number;
  mode: 'mig' | 'whole';
  slices: CurrentSlice[];
  /** Whole mode: a container holds the GPU. */
  inUse: boolean;
}

/** One hardware step, applied in order. */
export type RealisationStep =
  | { kind: 'destroy'; gpu: number; profile: string; start: number }
  | { kind: 'setMode'; gpu: number; mode: 'mig' | 'whole' }
  | { kind: 'create'; gpu: number; profile: string; start: number };

/** Why a target was refused. */
export type RefusalReason = 'IllegalLayout' | 'SliceInUse';

/** A plan, or a refusal that changes nothing. */
export type RealisationPlan =
  | { ok: true; steps: RealisationStep[] }
  | { ok: false; reason: RefusalReason; message: string };

/** Outcome of realising a target. */
export interface RealisationResult {
  /** `Realised` when every step ran; `Failed` when a step threw part-way. */
  outcome: 'Realised' | RefusalReason | 'Failed';
  message: string;
  steps: RealisationStep[];
  /** Steps that completed. */
  applied: number;
  durationMs: number;
}

const key = (s: { profile: string; start: number }): string => `${s.profile}@${s.start}`;

/**
 * Plans the steps that turn `current` into `target`. GPUs absent from the target keep their layout. Refuses
 * the whole target, changing nothing, when any GPU's target is illegal for the model (`IllegalLayout`) or
 * when reaching it would destroy a slice or switch the mode of a GPU that a container holds (`SliceInUse`).
 * Steps: all destroys first, then mode switches (only on GPUs left idle), then creates, so creates never
 * collide with slices still present.
 */
export function planRealisation(model: GpuModel, current: readonly CurrentGpu[], target: readonly TargetGpu[] | undefined): RealisationPlan {
  const illegal: string[] = [];
  const inUse: string[] = [];
  const destroys: RealisationStep[] = [];
  const modes: RealisationStep[] = [];
  const creates: RealisationStep[] = [];
  const seen = new Set<number>();
  const byIndex = new Map(current.map((g) => [g.index, g]));

  for (const t of target ?? []) {
    if (seen.has(t.index)) {
      illegal.push(`GPU ${t.index} appears more than once`);
      continue;
    }
    seen.add(t.index);
    const gpu = byIndex.get(t.index);
    if (!gpu) {
      illegal.push(`GPU ${t.index} does not exist (the node has ${current.length})`);
      continue;
    }
    const slices = t.mode === 'mig' ? (t.slices ?? []) : [];
    if (t.mode === 'mig' && !model.migCapable) {
      illegal.push(`GPU ${t.index}: ${model.product} is not MIG-capable`);
      continue;
    }
    if (t.mode === 'whole' && (t.slices ?? []).length > 0) {
      illegal.push(`GPU ${t.index}: whole mode cannot have MIG slices`);
      continue;
    }
    const problems = validateLayout(model, slices);
    if (problems.length > 0) {
      illegal.push(...problems.map((p) => `GPU ${t.index}: ${p}`));
      continue;
    }

    const modeChange = gpu.mode !== t.mode;
    const wanted = new Set(slices.map(key));
    const have = new Set(gpu.slices.map(key));
    for (const s of gpu.slices) {
      if (!modeChange && wanted.has(key(s))) continue;
      if (s.inUse) inUse.push(`GPU ${t.index} slice ${key(s)}`);
      destroys.push({ kind: 'destroy', gpu: t.index, profile: s.profile, start: s.start });
    }
    if (modeChange) {
      if (gpu.mode === 'whole' && gpu.inUse) inUse.push(`GPU ${t.index} (whole)`);
      modes.push({ kind: 'setMode', gpu: t.index, mode: t.mode });
    }
    for (const s of slices) {
      if (modeChange || !have.has(key(s))) creates.push({ kind: 'create', gpu: t.index, profile: s.profile, start: s.start });
    }
  }

  if (illegal.length > 0) return { ok: false, reason: 'IllegalLayout', message: `illegal target layout: ${illegal.join('; ')}` };
  if (inUse.length > 0) {
    return { ok: false, reason: 'SliceInUse', message: `target would destroy in-use device(s): ${inUse.join(', ')}` };
  }
  return { ok: true, steps: [...destroys, ...modes, ...creates] };
}

/** Carries out one step on the hardware. */
export type StepExecutor = (step: RealisationStep) => Promise<void>;

/**
 * Plans and applies a target, timing the whole reconfiguration. A refused plan applies nothing. A step that
 * throws stops the run and is reported as `Failed` with the number of steps that did complete.
 */
export async function realiseLayout(
  model: GpuModel,
  current: readonly CurrentGpu[],
  target: readonly TargetGpu[] | undefined,
  execute: StepExecutor,
  now: () => number = Date.now,
): Promise<RealisationResult> {
  const started = now();
  const plan = planRealisation(model, current, target);
  if (!plan.ok) return { outcome: plan.reason, message: plan.message, steps: [], applied: 0, durationMs: now() - started };
  let applied = 0;
  try {
    for (const step of plan.steps) {
      await execute(step);
      applied++;
    }
  } catch (err) {
    return {
      outcome: 'Failed',
      message: `step ${applied + 1} of ${plan.steps.length} failed: ${(err as Error).message}`,
      steps: plan.steps,
      applied,
      durationMs: now() - started,
    };
  }
  const message = plan.steps.length === 0 ? 'layout already realised' : `applied ${plan.steps.length} change(s)`;
  return { outcome: 'Realised', message, steps: plan.steps, applied, durationMs: now() - started };
}
