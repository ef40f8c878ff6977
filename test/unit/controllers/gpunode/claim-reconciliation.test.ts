import { API_VERSION, JOB_LABEL, PARTITION_LABEL } from '../../../../src/api/constants.js';
import type { ClaimRef, GpuNode, PodRef, TargetGpu } from '../../../../src/api/types.js';
import { podClaimant, reconcileClaims, reportedPods, type PodOwner } from '../../../../src/controllers/gpunode/claim-reconciliation.js';
import { ledgerEntries, type ClaimantId } from '../../../../src/ledger/claims.js';

const claim = (name: string, slot = 0, ns = 'ns'): ClaimRef => ({ kind: 'GpuPartition', namespace: ns, name, uid: `uid-${name}`, slot, priority: 0, preemptible: false });
const part = (name: string, ns = 'ns'): ClaimantId => ({ kind: 'GpuPartition', namespace: ns, name });

interface SliceSpec {
  start: number;
  holder?: ClaimRef;
  pod?: string;
  inUse?: boolean;
  profile?: string;
}

/** One MIG GPU (index 0) with 1g.23gb slices: ledger claims in spec, use and pods in status. */
function node(slices: SliceSpec[], extraGpu?: SliceSpec[]): GpuNode {
  const gpu = (index: number, list: SliceSpec[]) => ({
    t: { index, mode: 'mig' as const, slices: list.map((s) => ({ profile: s.profile ?? '1g.23gb', start: s.start, ...(s.holder ? { claim: s.holder } : {}) })) },
    r: {
      index,
      uuid: `GPU-${index}`,
      mode: 'mig' as const,
      health: 'Healthy' as const,
      slices: list.map((s) => ({
        profile: s.profile ?? '1g.23gb',
        start: s.start,
        uuid: `MIG-${index}-${s.start}`,
        deviceId: `MIG-${index}-${s.start}`,
        inUse: s.inUse ?? s.pod !== undefined,
        ...(s.pod ? { pod: { namespace: 'ns', name: s.pod } } : {}),
      })),
    },
  });
  const gpus = [gpu(0, slices), ...(extraGpu ? [gpu(1, extraGpu)] : [])];
  return { apiVersion: API_VERSION, kind: 'GpuNode', metadata: { name: 'n1', resourceVersion: '7' }, spec: { gpus: gpus.map((g) => g.t) }, status: { gpus: gpus.map((g) => g.r) } };
}

/** Pods named `<partition>-<n>` belong to that partition; `stray-*` to nobody; anything else is unknown. */
const owners: PodOwner = (p: PodRef) => {
  if (p.name.startsWith('stray')) return null;
  const m = /^(\w+)-\d+$/.exec(p.name);
  return m ? part(m[1] as string, p.namespace) : undefined;
};

const holderAt = (gn: GpuNode | undefined, start: number, gpu = 0) => gn?.spec?.gpus?.find((g) => g.index === gpu)?.slices.find((s) => s.start === start)?.claim?.name;

describe('reconcileClaims', () => {
  test('a pod of A on B’s slice takes A’s idle slice of the same profile: the two claims swap', () => {
    const gn = node([
      { start: 0, holder: claim('b') },
      { start: 1, holder: claim('a') },
    ]);
    gn.status!.gpus![0]!.slices[0]!.pod = { namespace: 'ns', name: 'a-0' };
    gn.status!.gpus![0]!.slices[0]!.inUse = true;
    const r = reconcileClaims(gn, owners);
    expect(r.misuses).toEqual([]);
    expect(r.swaps).toHaveLength(1);
    expect(r.swaps[0]).toMatchObject({ profile: '1g.23gb', used: { start: 0, uuid: 'MIG-0-0', claim: { name: 'a' } }, freed: { start: 1, displaced: { name: 'b' } } });
    expect(holderAt(r.updated, 0)).toBe('a');
    expect(holderAt(r.updated, 1)).toBe('b');
    // Slots and uids travel with their claims.
    expect(ledgerEntries([r.updated!]).map((e) => `${e.claim.name}:${e.claim.uid}:${e.claim.slot}@${e.start}`)).toEqual(['a:uid-a:0@0', 'b:uid-b:0@1']);
    // The input is not touched, and the write carries the node's resourceVersion.
    expect(holderAt(gn, 0)).toBe('b');
    expect(r.updated?.metadata.resourceVersion).toBe('7');
  });

  test('a slice nobody holds: A’s claim moves onto it and A’s idle slice becomes free', () => {
    const r = reconcileClaims(node([{ start: 0, pod: 'a-0' }, { start: 1, holder: claim('a', 3) }]), owners);
    expect(r.swaps).toHaveLength(1);
    expect(r.swaps[0]?.freed.displaced).toBeUndefined();
    expect(ledgerEntries([r.updated!]).map((e) => `${e.claim.name}/${e.claim.slot}@${e.start}`)).toEqual(['a/3@0']);
  });

  test('two pods that crossed (A on B’s slice, B on A’s) are fixed with one swap, even though both are in use', () => {
    const r = reconcileClaims(
      node([
        { start: 0, holder: claim('b'), pod: 'a-0' },
        { start: 1, holder: claim('a'), pod: 'b-0' },
        { start: 2, holder: claim('a', 1) },
      ]),
      owners,
    );
    expect(r.swaps).toHaveLength(1);
    expect(holderAt(r.updated, 0)).toBe('a');
    expect(holderAt(r.updated, 1)).toBe('b');
    // A's idle slice keeps A's other claim.
    expect(holderAt(r.updated, 2)).toBe('a');
    expect(r.misuses).toEqual([]);
  });

  test('never takes a slice that is in use or that carries a pod, nor one of another profile', () => {
    const gn = node([
      { start: 0, holder: claim('b'), pod: 'a-0' },
      { start: 1, holder: claim('a', 1), pod: 'c-0' },
      { start: 2, holder: claim('a', 2), inUse: true },
      { start: 4, holder: claim('a', 3), profile: '1g.23gb+me' },
    ]);
    // A pod reported without the in-use flag yet still counts as a user.
    gn.status!.gpus![0]!.slices.push({ profile: '1g.23gb', start: 5, uuid: 'MIG-0-5', deviceId: 'MIG-0-5', inUse: false, pod: { namespace: 'ns', name: 'x-1' } });
    gn.spec!.gpus![0]!.slices.push({ profile: '1g.23gb', start: 5, claim: claim('a', 4) });
    const r = reconcileClaims(gn, owners);
    expect(r.swaps).toEqual([]);
    expect(r.updated).toBeUndefined();
    expect(r.misuses.map((m) => `${m.pod.name}:${m.cause}:${m.holder?.name}`)).toEqual(['a-0:NoSwappableSlice:b', 'c-0:NoSwappableSlice:a']);
  });

  test('a pod of no partition is reported, a pod not known yet is left alone, and matching pods need nothing', () => {
    const r = reconcileClaims(
      node([
        { start: 0, holder: claim('a'), pod: 'stray-pod' },
        { start: 1, holder: claim('a', 1), pod: 'unknown' },
        { start: 2, holder: claim('b'), pod: 'b-7' },
        { start: 3, holder: claim('c') },
      ]),
      owners,
    );
    expect(r.swaps).toEqual([]);
    expect(r.misuses).toHaveLength(1);
    expect(r.misuses[0]).toMatchObject({ cause: 'NoClaimant', pod: { name: 'stray-pod' }, holder: { name: 'a' }, device: { gpuIndex: 0, start: 0, uuid: 'MIG-0-0' } });
  });

  test('swaps across GPUs of the same node, and is idempotent: planning again on the result changes nothing', () => {
    const gn = node([{ start: 0, holder: claim('b'), pod: 'a-0' }], [{ start: 6, holder: claim('a') }]);
    const first = reconcileClaims(gn, owners);
    expect(holderAt(first.updated, 0, 0)).toBe('a');
    expect(holderAt(first.updated, 6, 1)).toBe('b');
    const again = reconcileClaims(first.updated!, owners);
    expect(again.swaps).toEqual([]);
    expect(again.misuses).toEqual([]);
    expect(again.updated).toBeUndefined();
  });

  test('several pods of A on B’s slices each take a different idle slice of A', () => {
    const r = reconcileClaims(
      node([
        { start: 0, holder: claim('b', 0), pod: 'a-0' },
        { start: 1, holder: claim('b', 1), pod: 'a-1' },
        { start: 2, holder: claim('a', 0) },
        { start: 3, holder: claim('a', 1) },
      ]),
      owners,
    );
    expect(r.swaps.map((s) => `${s.used.start}<-${s.freed.start}`)).toEqual(['0<-2', '1<-3']);
    expect([0, 1, 2, 3].map((s) => holderAt(r.updated, s))).toEqual(['a', 'a', 'b', 'b']);
  });

  test('claims and pods of namespaces the operator does not manage are left alone', () => {
    const gn = node([
      { start: 0, holder: claim('b', 0, 'other'), pod: 'a-0' },
      { start: 1, holder: claim('a') },
    ]);
    const r = reconcileClaims(gn, owners, (ns) => ns === 'ns');
    expect(r.swaps).toEqual([]);
    expect(r.misuses.map((m) => m.cause)).toEqual(['NoSwappableSlice']);
    const foreign = node([{ start: 0, holder: claim('b'), pod: 'a-0' }, { start: 1, holder: claim('a') }]);
    expect(reconcileClaims(foreign, owners, (ns) => ns === 'elsewhere')).toEqual({ swaps: [], misuses: [] });
  });

  test('whole GPUs of jobs swap like slices', () => {
    const job = (name: string, slot: number): ClaimRef => ({ ...claim(name, slot), kind: 'TrainingJob' });
    const gn: GpuNode = {
      apiVersion: API_VERSION,
      kind: 'GpuNode',
      metadata: { name: 'n1' },
      spec: { gpus: [{ index: 0, mode: 'whole', slices: [], claim: job('j', 0) }, { index: 1, mode: 'whole', slices: [], claim: job('k', 0) }] },
      status: {
        gpus: [
          { index: 0, uuid: 'GPU-0', mode: 'whole', health: 'Healthy', slices: [], deviceId: 'GPU-0', inUse: true, pod: { namespace: 'ns', name: 'k-0' } },
          { index: 1, uuid: 'GPU-1', mode: 'whole', health: 'Healthy', slices: [], deviceId: 'GPU-1', inUse: false },
        ],
      },
    };
    const jobs: PodOwner = (p) => ({ kind: 'TrainingJob', namespace: p.namespace, name: p.name.split('-')[0] as string });
    const r = reconcileClaims(gn, jobs);
    expect(r.swaps).toHaveLength(1);
    expect(r.updated?.spec?.gpus?.map((g) => g.claim?.name)).toEqual(['k', 'j']);
  });
});

describe('reconcileClaims: a busy device the target dropped', () => {
  /** B200 node: GPU 0 realises `realised` (pods in use), the target of GPU 0 is `target`; GPU 1 holds A's idle 1g.23gb@0. */
  function dropped(target: TargetGpu[], realised: Array<{ profile: string; start: number; pod?: string }>): GpuNode {
    return {
      apiVersion: API_VERSION,
      kind: 'GpuNode',
      metadata: { name: 'n1' },
      spec: { gpus: [...(target ?? []), { index: 1, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('a', 2) }] }] },
      status: {
        inventory: { product: 'NVIDIA-B200', gpuCount: 2, memoryMiB: 183359, migCapable: true },
        gpus: [
          {
            index: 0,
            uuid: 'GPU-0',
            mode: 'mig',
            health: 'Healthy',
            slices: realised.map((x) => ({ profile: x.profile, start: x.start, uuid: `MIG-0-${x.start}`, deviceId: `MIG-0-${x.start}`, inUse: x.pod !== undefined, ...(x.pod ? { pod: { namespace: 'ns', name: x.pod } } : {}) })),
          },
          { index: 1, uuid: 'GPU-1', mode: 'mig', health: 'Healthy', slices: [{ profile: '1g.23gb', start: 0, uuid: 'MIG-1-0', deviceId: 'MIG-1-0', inUse: false }] },
        ],
      },
    };
  }
  const gpu0 = (gn: GpuNode | undefined) => gn?.spec?.gpus?.find((g) => g.index === 0);

  test('a pod on a spare slice the cycle re-carved keeps it: the slice is put back with its claimant’s claim, the claim planned over it is displaced', () => {
    // A's pod took the spare 1g.23gb@6 on GPU 0; the cycle, from a report that still said idle, carved C's 1g.45gb@6 over it.
    const gn = dropped([{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('x') }, { profile: '1g.45gb', start: 6, claim: claim('c') }] }], [
      { profile: '1g.23gb', start: 0 },
      { profile: '1g.23gb', start: 6, pod: 'a-0' },
    ]);
    const r = reconcileClaims(gn, owners);
    expect(r.misuses).toEqual([]);
    expect(r.swaps).toHaveLength(1);
    expect(r.swaps[0]).toMatchObject({ used: { gpuIndex: 0, start: 6, claim: { name: 'a', slot: 2 } }, freed: { gpuIndex: 1, start: 0 }, restored: { displaced: [{ name: 'c' }] } });
    expect(gpu0(r.updated)?.slices.map((x) => `${x.profile}@${x.start}:${x.claim?.name ?? '-'}`)).toEqual(['1g.23gb@0:x', '1g.23gb@6:a']);
    // A's former slice is spare now; C is no longer anywhere in the ledger (the cycle places it again).
    expect(ledgerEntries([r.updated!]).map((e) => `${e.claim.name}@${e.gpuIndex}/${e.start}`).sort()).toEqual(['a@0/6', 'x@0/0']);
  });

  test('a whole-GPU target over a busy slice goes back to MIG with that slice', () => {
    const gn = dropped([{ index: 0, mode: 'whole', slices: [], claim: { ...claim('j'), kind: 'TrainingJob' } }], [{ profile: '1g.23gb', start: 6, pod: 'a-0' }]);
    const r = reconcileClaims(gn, owners);
    expect(r.swaps[0]?.restored?.displaced.map((c) => c.name)).toEqual(['j']);
    expect(gpu0(r.updated)).toEqual({ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 6, claim: claim('a', 2) }] });
  });

  test('a pod whose claimant holds no idle slice to trade is being preempted (or misuses the device): the target stands', () => {
    const gn = dropped([{ index: 0, mode: 'mig', slices: [{ profile: '1g.45gb', start: 6, claim: claim('c') }] }], [{ profile: '1g.23gb', start: 6, pod: 'v-0' }]);
    const r = reconcileClaims(gn, owners);
    expect(r.updated).toBeUndefined();
    expect(r.misuses).toMatchObject([{ cause: 'NoSwappableSlice', claimant: { name: 'v' } }]);
  });

  test('a claim in the way that another operator manages is not moved', () => {
    const gn = dropped([{ index: 0, mode: 'mig', slices: [{ profile: '1g.45gb', start: 6, claim: claim('c', 0, 'other') }] }], [{ profile: '1g.23gb', start: 6, pod: 'a-0' }]);
    const r = reconcileClaims(gn, owners, (ns) => ns === 'ns');
    expect(r.updated).toBeUndefined();
    expect(r.misuses.map((m) => m.cause)).toEqual(['NoSwappableSlice']);
  });

  test('a GPU the target does not list keeps its realised layout: nothing to restore', () => {
    const gn = dropped([], [{ profile: '1g.23gb', start: 6, pod: 'a-0' }]);
    expect(reconcileClaims(gn, owners).updated).toBeUndefined();
  });
});

describe('pod helpers', () => {
  test('podClaimant reads the partition label, else the job label', () => {
    expect(podClaimant({ metadata: { namespace: 'ns', labels: { [PARTITION_LABEL]: 'p' } } })).toEqual(part('p'));
    expect(podClaimant({ metadata: { namespace: 'ns', labels: { [JOB_LABEL]: 'j' } } })).toEqual({ kind: 'TrainingJob', namespace: 'ns', name: 'j' });
    expect(podClaimant({ metadata: { namespace: 'ns', labels: { app: 'x' } } })).toBeNull();
  });

  test('reportedPods lists each pod on an in-use device once', () => {
    const gn = node([{ start: 0, pod: 'a-0' }, { start: 1, pod: 'a-0' }, { start: 2, pod: 'b-0', inUse: false }, { start: 3 }]);
    expect(reportedPods(gn)).toEqual([{ namespace: 'ns', name: 'a-0' }]);
  });
});
