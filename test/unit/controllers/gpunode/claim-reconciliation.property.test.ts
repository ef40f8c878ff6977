import fc from 'fast-check';
import { API_VERSION } from '../../../../src/api/constants.js';
import type { ClaimRef, GpuNode, PodRef } from '../../../../src/api/types.js';
import { reconcileClaims, type PodOwner } from '../../../../src/controllers/gpunode/claim-reconciliation.js';
import { claimKey, claimNames, type ClaimantId } from '../../../../src/ledger/claims.js';

const PARTITIONS = ['a', 'b', 'c'] as const;
const PROFILES = ['1g.23gb', '2g.45gb'] as const;

interface SliceGen {
  start: number;
  profile: string;
  holder: string | null;
  inUse: boolean;
  /** Pod owner: a partition, `stray` (no partition), `ghost` (unknown pod) or none. */
  pod: string | null;
}

const sliceGen = fc.record({
  start: fc.integer({ min: 0, max: 7 }),
  profile: fc.constantFrom(...PROFILES),
  holder: fc.option(fc.constantFrom(...PARTITIONS), { nil: null }),
  inUse: fc.boolean(),
  pod: fc.option(fc.constantFrom(...PARTITIONS, 'stray', 'ghost'), { nil: null }),
});
const gpuGen = fc.uniqueArray(sliceGen, { selector: (s) => s.start, maxLength: 8 });
const nodeGen = fc.array(gpuGen, { minLength: 1, maxLength: 3 });

/** Builds the node; every claim gets its own slot so claims are distinct. */
function build(gpus: SliceGen[][]): GpuNode {
  const slots = new Map<string, number>();
  const claim = (name: string): ClaimRef => {
    const slot = slots.get(name) ?? 0;
    slots.set(name, slot + 1);
    return { kind: 'GpuPartition', namespace: 'ns', name, uid: `uid-${name}`, slot, priority: 0, preemptible: false };
  };
  let podSeq = 0;
  return {
    apiVersion: API_VERSION,
    kind: 'GpuNode',
    metadata: { name: 'n1' },
    spec: { gpus: gpus.map((slices, index) => ({ index, mode: 'mig', slices: slices.map((s) => ({ profile: s.profile, start: s.start, ...(s.holder ? { claim: claim(s.holder) } : {}) })) })) },
    status: {
      gpus: gpus.map((slices, index) => ({
        index,
        uuid: `GPU-${index}`,
        mode: 'mig',
        health: 'Healthy',
        slices: slices.map((s) => ({
          profile: s.profile,
          start: s.start,
          uuid: `MIG-${index}-${s.start}`,
          deviceId: `MIG-${index}-${s.start}`,
          inUse: s.inUse,
          ...(s.pod ? { pod: { namespace: 'ns', name: `${s.pod}-${podSeq++}` } } : {}),
        })),
      })),
    },
  };
}

const owners: PodOwner = (p: PodRef) => {
  const base = p.name.replace(/-\d+$/, '');
  if (base === 'stray') return null;
  if (base === 'ghost') return undefined;
  return { kind: 'GpuPartition', namespace: p.namespace, name: base };
};

interface Device {
  key: string;
  profile: string;
  inUse: boolean;
  pod?: PodRef;
  claim?: ClaimRef;
}

function devices(gn: GpuNode): Device[] {
  return (gn.status?.gpus ?? []).flatMap((g) =>
    g.slices.map((s) => ({
      key: `${g.index}@${s.start}`,
      profile: s.profile,
      inUse: s.inUse,
      ...(s.pod ? { pod: s.pod } : {}),
      ...((c) => (c ? { claim: c } : {}))(gn.spec?.gpus?.find((t) => t.index === g.index)?.slices.find((t) => t.start === s.start)?.claim),
    })),
  );
}

const userOf = (d: Device): ClaimantId | null | undefined => (d.inUse && d.pod ? owners(d.pod) : undefined);
const mismatched = (ds: Device[]) => ds.filter((d) => {
  const u = userOf(d);
  return u && !(d.claim && claimNames(d.claim, u));
}).length;

describe('reconcileClaims (property)', () => {
  test('keeps every claim, never takes a claim from its user, only trades within a profile, and reaches a fixpoint', () => {
    fc.assert(
      fc.property(nodeGen, (gpus) => {
        const gn = build(gpus);
        const before = devices(gn);
        const r = reconcileClaims(gn, owners);
        const after = r.updated ? devices(r.updated) : before;
        // The same claims, each exactly once.
        const keys = (ds: Device[]) => ds.flatMap((d) => (d.claim ? [claimKey(d.claim)] : [])).sort();
        expect(keys(after)).toEqual(keys(before));
        for (const [i, d] of before.entries()) {
          const a = after[i]!;
          // A device used by its own claimant keeps that claim.
          const u = userOf(d);
          if (u && d.claim && claimNames(d.claim, u)) expect(a.claim).toEqual(d.claim);
          // A claim only moves between devices of the same profile.
          if (a.claim) expect(before.find((x) => x.claim && claimKey(x.claim) === claimKey(a.claim!))?.profile).toBe(a.profile);
          // A device in use by a pod of no claimant, an unknown pod or no reported pod is never traded.
          if (d.inUse && !u) expect(a.claim).toEqual(d.claim);
        }
        for (const s of r.swaps) {
          const used = after.find((d) => d.key === `${s.used.gpuIndex}@${s.used.start}`)!;
          expect(claimNames(used.claim!, owners(s.used.pod)!)).toBe(true);
        }
        // Each swap fixes at least one device and breaks none.
        expect(mismatched(after)).toBeLessThanOrEqual(mismatched(before) - r.swaps.length);
        // Fixpoint: nothing left to swap, and the misuses are exactly the devices still mismatched or used by strays.
        if (r.updated) expect(reconcileClaims(r.updated, owners).swaps).toEqual([]);
        const strays = after.filter((d) => userOf(d) === null).length;
        expect(r.misuses).toHaveLength(mismatched(after) + strays);
      }),
      { numRuns: 400 },
    );
  });
});
