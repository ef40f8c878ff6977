/**
 * Turning a successful gang search into the engine's output: assignments, per-GPU target layouts of every
 * GPU that changes, and victims.
 */
import type { MemberPlacement } from './gang.js';
import { copySlice, type GpuContents, type GpuState, type PlacementState } from './state.js';
import type { Assignment, GpuLayout, Victim } from './types.js';

/** Assignments in the request's member order. */
export function assignmentsOf(placements: MemberPlacement[]): Assignment[] {
  return [...placements]
    .sort((a, b) => a.plan.order - b.plan.order)
    .map((p) => {
      const indices = p.gpus.map((g) => g.index).sort((a, b) => a - b);
      const a: Assignment = { key: p.plan.member.key, node: p.node.name, gpuIndex: indices[0], gpuIndices: indices };
      if (p.profile) {
        a.profile = p.profile.name;
        a.start = p.start;
      }
      return a;
    });
}

/** Full target layouts of the GPUs whose contents differ from what they were at `mark`. */
export function layoutsSince(state: PlacementState, mark: number): GpuLayout[] {
  const out: Array<{ gpu: GpuState; layout: GpuLayout }> = [];
  for (const [gpu, before] of state.originalsSince(mark)) {
    if (sameContents(before, gpu)) continue;
    const layout: GpuLayout = { node: gpu.node.name, gpuIndex: gpu.index, mode: gpu.mode, slices: gpu.slices.map(copySlice) };
    if (gpu.holder) layout.holder = { ...gpu.holder };
    out.push({ gpu, layout });
  }
  return out.sort((a, b) => a.gpu.id - b.gpu.id).map((x) => x.layout);
}

function sameContents(a: GpuContents, b: GpuContents): boolean {
  if (a.mode !== b.mode || a.inUse !== b.inUse || a.holder?.key !== b.holder?.key || a.slices.length !== b.slices.length) return false;
  return a.slices.every((s, i) => {
    const t = b.slices[i];
    return s.profile === t.profile && s.start === t.start && s.inUse === t.inUse && s.holder?.key === t.holder?.key;
  });
}

/** Victims de-duplicated and in a deterministic order. */
export function sortVictims(victims: Victim[]): Victim[] {
  const seen = new Set<string>();
  const out: Victim[] = [];
  for (const v of victims) {
    const id = `${v.node}/${v.gpuIndex}/${v.holderKey}/${v.start ?? 'whole'}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(v);
    }
  }
  return out.sort((a, b) => a.node.localeCompare(b.node) || a.gpuIndex - b.gpuIndex || (a.start ?? -1) - (b.start ?? -1));
}
