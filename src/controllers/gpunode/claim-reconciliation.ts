/**
 * Reconciles a node's ledger with what the kubelet actually did. The device plugin cannot tell which pod a
 * device goes to, so with several same-profile slices on a node the kubelet may hand partition A's pod the
 * slice the ledger records for B. Before use such slices are interchangeable, so the ledger follows the
 * kubelet: the claim of the slice a pod uses is swapped with an idle slice its own claimant holds (or with the
 * slice the other claimant's pod uses, when the two crossed). Nothing in use ever loses the claim of the pod
 * using it. A pod on a device the target dropped (planned from a report that still said idle) keeps it: the
 * device is put back into the target (`restoreDevice`) and takes the claim of an idle device its claimant holds,
 * when there is one; a pod whose claimant holds none there is being preempted, or misuses the device, and the
 * target stands. Pure: no Kubernetes calls.
 */
import { JOB_LABEL, PARTITION_LABEL } from '../../api/constants.js';
import type { ClaimRef, GpuNode, ObjectMeta, PodRef, TargetGpu } from '../../api/types.js';
import { claimNames, type ClaimantId } from '../../ledger/claims.js';
import { restoreDevice } from './in-use-restoration.js';

/**
 * Who a pod belongs to: its claimant, `null` for a pod of no claimant, `undefined` when the pod is not known
 * (gone, or not visible yet): such a slice is left for a later pass.
 */
export type PodOwner = (pod: PodRef) => ClaimantId | null | undefined;

/** One device a claim can sit on: a slice (`start` set) or a whole GPU. */
export interface DevicePlace {
  gpuIndex: number;
  /** Slice start; absent for a whole GPU. */
  start?: number;
  /** MIG device or GPU UUID as realised. */
  uuid: string;
}

/** A swap of two claims on one node. */
export interface ClaimSwap {
  node: string;
  /** MIG profile of both slices, or `whole`. */
  profile: string;
  /** The device the pod uses; it now carries `claim` (the pod's claimant's). */
  used: DevicePlace & { claim: ClaimRef; pod: PodRef };
  /** The device the pod's claimant held; it now carries `displaced` (the used device's former claim, if any). */
  freed: DevicePlace & { displaced?: ClaimRef };
  /**
   * Set when the target had dropped the used device: it was put back, and these claims of target entries that
   * overlapped it were taken out of the ledger (the admission cycle places them again).
   */
  restored?: { displaced: ClaimRef[] };
}

/** A pod on a device its claimant does not hold, that no swap could fix. */
export interface SliceMisuse {
  node: string;
  profile: string;
  device: DevicePlace;
  pod: PodRef;
  /** The ledger's holder of the device, if any. */
  holder?: ClaimRef;
  /** `NoClaimant`: the pod belongs to no partition or job; `NoSwappableSlice`: its claimant holds no idle device to trade. */
  cause: 'NoClaimant' | 'NoSwappableSlice';
  /** The pod's claimant, when it has one. */
  claimant?: ClaimantId;
}

/** Outcome of one pass over a node. */
export interface ClaimReconciliation {
  swaps: ClaimSwap[];
  misuses: SliceMisuse[];
  /** The node with the swapped claims (a copy), when any swap was made. */
  updated?: GpuNode;
}

/** A device of the node: the target entry (where the claim lives) and what the agent reports. */
interface Unit {
  gpuIndex: number;
  start?: number;
  profile: string;
  uuid: string;
  inUse: boolean;
  pod?: PodRef;
  /** The target entry carrying the claim; absent when the target does not list this device. */
  target?: { claim?: ClaimRef };
}

/**
 * Plans the claim swaps that make the ledger of `gn` match the pods its agent reports on realised devices.
 * Swaps are applied in order to a copy of the node, so each decision sees the earlier ones; passes repeat
 * until one swaps nothing (a swap can free a slice an earlier decision lacked), so the result is a fixpoint.
 * `owns` limits the work to claims and pods of namespaces this operator manages.
 */
export function reconcileClaims(gn: GpuNode, podOwner: PodOwner, owns: (namespace: string) => boolean = () => true): ClaimReconciliation {
  const copy = structuredClone(gn);
  const units = deviceUnits(copy);
  const swaps: ClaimSwap[] = [];
  for (;;) {
    const pass = swapPass(copy, units, podOwner, owns);
    swaps.push(...pass.swaps);
    // Every swap gives one more in-use device its user's claim, so this ends.
    if (pass.swaps.length === 0) return { swaps, misuses: pass.misuses, ...(swaps.length > 0 ? { updated: copy } : {}) };
  }
}

/** One walk over the devices, swapping claims in `units` (and so in `gn`, whose target entries they point into). */
function swapPass(gn: GpuNode, units: Unit[], podOwner: PodOwner, owns: (namespace: string) => boolean): { swaps: ClaimSwap[]; misuses: SliceMisuse[] } {
  const node = gn.metadata.name ?? '';
  const swaps: ClaimSwap[] = [];
  const misuses: SliceMisuse[] = [];
  for (const u of units) {
    if (!u.inUse || !u.pod || !owns(u.pod.namespace)) continue;
    const owner = podOwner(u.pod);
    if (owner === undefined) continue;
    const holder = u.target?.claim;
    if (owner && holder && claimNames(holder, owner)) continue;
    const place = { gpuIndex: u.gpuIndex, ...(u.start !== undefined ? { start: u.start } : {}), uuid: u.uuid };
    const misuse = { node, profile: u.profile, device: place, pod: u.pod, ...(holder ? { holder } : {}) };
    if (!owner) {
      misuses.push({ ...misuse, cause: 'NoClaimant' });
      continue;
    }
    // Another operator's claim is not ours to trade.
    const partner = !holder || owns(holder.namespace) ? swapPartner(u, owner, holder, units, podOwner) : undefined;
    if (!partner?.target?.claim) {
      misuses.push({ ...misuse, cause: 'NoSwappableSlice', claimant: owner });
      continue;
    }
    let restored: { displaced: ClaimRef[] } | undefined;
    if (!u.target) {
      const r = restoreDevice(gn, u, owns);
      if (!r) {
        misuses.push({ ...misuse, cause: 'NoSwappableSlice', claimant: owner });
        continue;
      }
      u.target = r.entry;
      restored = { displaced: r.displaced };
      // Idle devices of the GPU that the new entry replaced are no longer listed either.
      for (const x of units) if (x !== u && x.gpuIndex === u.gpuIndex && x.target && !targetLists(gn, x)) delete x.target;
    }
    const mine = partner.target.claim;
    u.target.claim = mine;
    if (holder) partner.target.claim = holder;
    else delete partner.target.claim;
    swaps.push({
      node,
      profile: u.profile,
      used: { ...place, claim: mine, pod: u.pod },
      freed: { gpuIndex: partner.gpuIndex, ...(partner.start !== undefined ? { start: partner.start } : {}), uuid: partner.uuid, ...(holder ? { displaced: holder } : {}) },
      ...(restored ? { restored } : {}),
    });
  }
  return { swaps, misuses };
}

/**
 * The device whose claim `u`'s pod should take: first one of the owner's devices that the holder's own pod
 * uses (the two crossed: one swap fixes both), else an idle one of the owner's (not in use, no pod).
 * Same profile, same node; never a device whose user would lose its claim.
 */
function swapPartner(u: Unit, owner: ClaimantId, holder: ClaimRef | undefined, units: Unit[], podOwner: PodOwner): Unit | undefined {
  const owned = units.filter((x) => x !== u && x.profile === u.profile && x.target?.claim && claimNames(x.target.claim, owner));
  const crossed = holder
    ? owned.find((x) => {
        if (!x.inUse || !x.pod) return false;
        const user = podOwner(x.pod);
        return user != null && claimNames(holder, user);
      })
    : undefined;
  return crossed ?? owned.find((x) => !x.inUse && !x.pod);
}

/** True when `gn`'s target still holds the very entry `u` points at. */
function targetLists(gn: GpuNode, u: Unit): boolean {
  const t = gn.spec?.gpus?.find((g) => g.index === u.gpuIndex);
  if (!t) return false;
  return u.start === undefined ? t === u.target : t.slices.some((s) => s === u.target);
}

/** Realised devices of the node, each joined with its target entry, in GPU and start order. */
function deviceUnits(gn: GpuNode): Unit[] {
  const targets = new Map<number, TargetGpu>((gn.spec?.gpus ?? []).map((g) => [g.index, g]));
  const out: Unit[] = [];
  for (const r of [...(gn.status?.gpus ?? [])].sort((a, b) => a.index - b.index)) {
    const t = targets.get(r.index);
    if (r.mode === 'whole') {
      out.push({
        gpuIndex: r.index,
        profile: 'whole',
        uuid: r.uuid,
        inUse: r.inUse === true,
        ...(r.pod ? { pod: r.pod } : {}),
        ...(t?.mode === 'whole' ? { target: t } : {}),
      });
      continue;
    }
    for (const s of [...r.slices].sort((a, b) => a.start - b.start)) {
      const ts = t?.mode === 'mig' ? t.slices.find((x) => x.profile === s.profile && x.start === s.start) : undefined;
      out.push({
        gpuIndex: r.index,
        start: s.start,
        profile: s.profile,
        uuid: s.uuid,
        inUse: s.inUse,
        ...(s.pod ? { pod: s.pod } : {}),
        ...(ts ? { target: ts } : {}),
      });
    }
  }
  return out;
}

/** `node/gpuN@start` (or `node/gpuN` for a whole GPU), as in partition messages. */
export function describePlace(node: string, p: DevicePlace): string {
  return `${node}/gpu${p.gpuIndex}${p.start !== undefined ? `@${p.start}` : ''}`;
}

/** `Kind ns/name` of a claim. */
export function describeClaim(c: ClaimRef | ClaimantId): string {
  return `${c.kind} ${c.namespace}/${c.name}`;
}

/** The claimant a pod consumes devices for: its partition label, else its training-job label (same namespace); `null` for neither. */
export function podClaimant(pod: { metadata: ObjectMeta }): ClaimantId | null {
  const ns = pod.metadata.namespace;
  const labels = pod.metadata.labels ?? {};
  if (!ns) return null;
  if (labels[PARTITION_LABEL]) return { kind: 'GpuPartition', namespace: ns, name: labels[PARTITION_LABEL] };
  if (labels[JOB_LABEL]) return { kind: 'TrainingJob', namespace: ns, name: labels[JOB_LABEL] };
  return null;
}

/** Pods the node's agent reports on in-use devices, each once. */
export function reportedPods(gn: GpuNode): PodRef[] {
  const out = new Map<string, PodRef>();
  for (const g of gn.status?.gpus ?? []) {
    if (g.mode === 'whole' && g.inUse && g.pod) out.set(podKey(g.pod), g.pod);
    for (const s of g.slices) if (s.inUse && s.pod) out.set(podKey(s.pod), s.pod);
  }
  return [...out.values()];
}

/** `namespace/name` of a pod reference. */
export function podKey(p: PodRef): string {
  return `${p.namespace}/${p.name}`;
}
