/**
 * The entries a cycle releases, which metering settles before the release is written (`beforeRelease`). Found by
 * `npm run bench:tenancy`: a reclaim that takes some GPUs of a borrowed multi-GPU worker removed them without
 * settling, so up to one settlement interval of their use was never metered.
 */
import type { ClaimRef, GpuNode, GpuTenant, TrainingJob } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { LedgerDraft } from '../../../src/ledger/ledger-draft.js';
import { releasedClaims } from '../../../src/scheduler/admission-cycle.js';
import { planCycle } from '../../../src/scheduler/cycle-planner.js';
import { jobDemand } from '../../../src/scheduler/demand.js';
import { QuotaBook } from '../../../src/tenancy/quota-book.js';
import { TenantDirectory } from '../../../src/tenancy/tenant-resolution.js';
import { makeGpuNode, makeJob, makeNode } from '../support/builders.js';

const T0 = '2026-03-02T10:00:00.000Z';
const worker = (name: string, ns: string, extra: Partial<ClaimRef> = {}): ClaimRef => ({ kind: 'TrainingJob', namespace: ns, name, uid: `uid-${name}`, slot: 0, priority: 0, preemptible: false, allocatedAt: T0, ...extra });

/** One node whose first `gpus` GPUs are held, whole, by `claim`. */
function nodeWith(claim: ClaimRef, gpus: number, total = 4): GpuNode {
  const gn = makeGpuNode('n1', { gpus: total });
  gn.spec = { gpus: [...Array(gpus).keys()].map((index) => ({ index, mode: 'whole' as const, slices: [], claim })) };
  return gn;
}

const places = (entries: ReturnType<typeof ledgerEntries>) => entries.map((e) => `${e.claim.name}@${e.node}/${e.gpuIndex}`).sort();

describe('releasedClaims', () => {
  test('some GPUs of a multi-GPU worker taken away are released, though its claim stays on the others', () => {
    const claim = worker('big', 'b');
    const draft = new LedgerDraft([nodeWith(claim, 4)]);
    draft.releaseVictims([0, 1].map((gpuIndex) => ({ holderKey: 'TrainingJob/b/big/0', node: 'n1', gpuIndex, priority: 0 })));
    expect(places(releasedClaims(draft))).toEqual(['big@n1/0', 'big@n1/1']);
  });

  test('a gang given back and placed again in the same cycle under the same names: its old entries are released', () => {
    const draft = new LedgerDraft([nodeWith(worker('g', 'b'), 2)]);
    draft.release(() => true);
    draft.applyLayouts(
      [2, 3].map((gpuIndex) => ({ node: 'n1', gpuIndex, mode: 'whole' as const, slices: [], holder: { key: 'TrainingJob/b/g/0', priority: 0, preemptible: false } })),
      () => worker('g', 'b', { allocatedAt: '2026-03-02T11:00:00.000Z' }),
    );
    expect(places(releasedClaims(draft))).toEqual(['g@n1/0', 'g@n1/1']);
  });

  test('a claim that moves keeps its allocation: not released; untouched claims neither', () => {
    const claim = worker('m', 'b');
    const draft = new LedgerDraft([nodeWith(claim, 2)]);
    draft.release((_c, _n, gpu) => gpu === 1);
    draft.applyLayouts([{ node: 'n1', gpuIndex: 3, mode: 'whole', slices: [], holder: { key: 'TrainingJob/b/m/0', priority: 0, preemptible: false } }], () => claim);
    expect(releasedClaims(draft)).toEqual([]);
  });

  test('a lender reclaiming two GPUs of a borrower\'s 4-GPU worker: the cycle releases exactly those two entries', () => {
    const tenants: GpuTenant[] = ['a', 'b'].map((name) => ({ apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuTenant', metadata: { name }, spec: { nominal: 2, cohort: 'c', namespaces: [name] } }));
    const ledger = [nodeWith(worker('big', 'b', { tenant: 'b', borrowed: true }), 4)];
    const quota = new QuotaBook(new TenantDirectory(tenants, []), ledgerEntries(ledger), 'allow');
    const job: TrainingJob = { ...makeJob('lender', 'a', { replicas: 1, gpusPerWorker: 2 }), metadata: { name: 'lender', namespace: 'a', uid: 'uid-lender', creationTimestamp: T0 } };
    const plan = planCycle(ledger, [jobDemand(job, { release: false })], { nodeOf: (n) => makeNode(n), quota }, { seq: 0, now: new Date('2026-03-02T10:30:00.000Z'), outOfTime: () => false });
    const outcome = plan.results[0]?.outcome;
    expect(outcome).toMatchObject({ kind: 'placed', reclaimed: true });
    const victims = outcome?.kind === 'placed' ? outcome.victims.map((v) => `${v.claim.name}@${v.node}/${v.gpuIndex}`).sort() : [];
    expect(victims).toHaveLength(2);
    expect(places(releasedClaims(plan.draft))).toEqual(victims);
  });
});
