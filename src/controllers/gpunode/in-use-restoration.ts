/**
 * Puts a device in use back into the target layout. The operator never drops a device it knows is in use, but
 * it plans from the agent's last report: a pod can take a spare slice (the kubelet picks any free device of the
 * resource) moments before the cycle re-carves that GPU from a report that still says idle. The agent then
 * refuses the layout (`SliceInUse`) for as long as the pod runs — for a notebook, indefinitely — and the claims
 * carved over the busy device can never be realised.
 *
 * The running pod wins: the device goes back into the target, and the target entries that overlap it are taken
 * out. Those were never realised (they overlap a device that exists), so no pod uses them; their claims are
 * displaced and the admission cycle places them again. Pure; mutates the node it is given.
 */
import type { ClaimRef, GpuNode, TargetGpu, TargetSlice } from '../../api/types.js';
import { memorySlotsOf } from '../../placement/catalog.js';

/** A realised device: a MIG slice (`start` set) or a whole GPU (`profile` = `whole`). */
export interface BusyDevice {
  gpuIndex: number;
  profile: string;
  start?: number;
}

/** The target entry now standing for the device (its claim is the caller's to set) and the claims taken out. */
export interface Restoration {
  entry: TargetSlice | TargetGpu;
  displaced: ClaimRef[];
}

/**
 * Restores `device` into `gn`'s target (which must not list it), removing the entries that overlap it.
 * `undefined` when the GPU is not in the target (a GPU the target does not list keeps its realised layout) or
 * when a claim in the way is not `owns`'s to move (namespace-scoped installs): nothing is changed then.
 */
export function restoreDevice(gn: GpuNode, device: BusyDevice, owns: (namespace: string) => boolean = () => true): Restoration | undefined {
  const gpus = gn.spec?.gpus ?? [];
  const i = gpus.findIndex((g) => g.index === device.gpuIndex);
  if (i < 0) return undefined;
  const t = gpus[i]!;
  let next: TargetGpu;
  let entry: TargetSlice | TargetGpu;
  let displaced: ClaimRef[];
  if (device.start === undefined) {
    // A whole GPU in use whose target went MIG: back to whole.
    displaced = t.mode === 'whole' ? [] : claimsOf(t.slices);
    next = { index: t.index, mode: 'whole', slices: [] };
    entry = next;
  } else {
    const slotsOf = memorySlotsOf(gn.status?.inventory?.product);
    const start = device.start;
    const overlaps = (x: TargetSlice): boolean => x.start < start + slotsOf(device.profile) && start < x.start + slotsOf(x.profile);
    // A whole-GPU target cannot coexist with a busy slice: the GPU goes back to MIG.
    const kept = t.mode === 'whole' ? [] : t.slices.filter((x) => !overlaps(x));
    displaced = t.mode === 'whole' ? (t.claim ? [t.claim] : []) : claimsOf(t.slices.filter(overlaps));
    const slice: TargetSlice = { profile: device.profile, start };
    next = { index: t.index, mode: 'mig', slices: [...kept, slice].sort((a, b) => a.start - b.start) };
    entry = slice;
  }
  if (!displaced.every((c) => owns(c.namespace))) return undefined;
  gpus[i] = next;
  return { entry, displaced };
}

function claimsOf(slices: TargetSlice[]): ClaimRef[] {
  return slices.flatMap((s) => (s.claim ? [s.claim] : []));
}
