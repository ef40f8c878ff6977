/**
 * Tenant quotas decided by the admission cycle (in-memory operator): admission within quota, borrowing from the
 * cohort, reclaim of borrowed capacity for a lender within its nominal quota, weighted fair order, per-profile
 * caps, namespaces without or with two tenants, and a namespace moving between tenants.
 */
import type { GpuNode, GpuPartition, GpuTenant } from '../../../src/api/types.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { makeGpuNode, makePartition, makePartitionPod } from '../support/builders.js';
import { OperatorSim } from '../support/operator-sim.js';

let sim: OperatorSim;
afterEach(() => sim?.stop());

const tenant = (name: string, spec: Partial<GpuTenant['spec']>): GpuTenant => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuTenant',
  metadata: { name },
  spec: { nominal: 0, namespaces: [name], ...spec },
});
const cond = (p: GpuPartition | undefined, type: string) => p?.status?.conditions?.find((c) => c.type === type);
/** A 7g (one whole GPU's worth) partition created at second `at`. */
const big = (name: string, ns: string, at: number, extra: Partial<GpuPartition['spec']> = {}): GpuPartition => ({
  ...makePartition(name, ns, { profile: '7g.180gb', ...extra }),
  metadata: { name, namespace: ns, creationTimestamp: `2026-01-01T00:00:${String(at).padStart(2, '0')}Z` },
});

function start(gpus: number, tenants: GpuTenant[], opts: ConstructorParameters<typeof OperatorSim>[1] = {}): OperatorSim {
  sim = new OperatorSim([makeGpuNode('n1', { gpus })], opts);
  for (const t of tenants) sim.client.seed(RESOURCES.gpuTenant, t);
  return sim.start();
}

describe('tenant quotas in the admission cycle', () => {
  test('within quota: placed and charged; over quota: waits with the exact numbers, no engine work, no claim', async () => {
    const t = start(4, [tenant('acme', { nominal: 2 })]);
    t.client.seed(RESOURCES.gpuPartition, big('a1', 'acme', 1));
    t.client.seed(RESOURCES.gpuPartition, big('a2', 'acme', 2));
    t.client.seed(RESOURCES.gpuPartition, big('a3', 'acme', 3));
    await t.settle();
    expect(t.entries().map((e) => [e.claim.name, e.claim.tenant, e.claim.borrowed ?? false])).toEqual([
      ['a1', 'acme', false],
      ['a2', 'acme', false],
    ]);
    expect(cond(t.partition('a1', 'acme'), 'QuotaReserved')).toMatchObject({ status: 'True', reason: 'Nominal' });
    const a3 = t.partition('a3', 'acme');
    expect(cond(a3, 'QuotaReserved')).toMatchObject({
      status: 'False',
      reason: 'QuotaExceeded',
      message: 'tenant acme uses 2.0 of nominal 2.0 GPU-eq; this request needs 1.0 more; it has no cohort to borrow from; 0 higher-priority requests wait ahead',
    });
    expect(cond(a3, 'Allocated')).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
    expect(a3?.status?.phase).toBe('Pending');
  });

  test('borrowing from the cohort, then reclaim: the lender takes back exactly the borrower\'s most recent borrowed partition', async () => {
    const t = start(4, [tenant('acme', { nominal: 2, cohort: 'research' }), tenant('globex', { nominal: 2, cohort: 'research' })]);
    for (const [i, name] of ['g1', 'g2', 'g3'].entries()) t.client.seed(RESOURCES.gpuPartition, big(name, 'globex', i));
    await t.settle();
    t.tick(1_000);
    t.client.seed(RESOURCES.gpuPartition, big('g4', 'globex', 3));
    await t.settle();
    const globex = t.entries().filter((e) => e.claim.tenant === 'globex');
    expect(globex.map((e) => [e.claim.name, e.claim.borrowed ?? false]).sort()).toEqual([
      ['g1', false],
      ['g2', false],
      ['g3', true],
      ['g4', true],
    ]);
    expect(cond(t.partition('g4', 'globex'), 'QuotaReserved')).toMatchObject({ status: 'True', reason: 'Borrowed' });
    // g4 was admitted after g3: it goes first.
    t.tick(5_000);
    t.client.seed(RESOURCES.gpuPartition, big('a1', 'acme', 30));
    await t.settle();
    expect(t.entries().map((e) => e.claim.name).sort()).toEqual(['a1', 'g1', 'g2', 'g3']);
    expect(t.partition('a1', 'acme')?.status?.phase).toBe('Ready');
    expect(cond(t.partition('g4', 'globex'), 'Allocated')?.status).toBe('False');
    // A preemption across tenants is a reclaim, and both sides are told who took what from whom.
    expect(t.recorder.events.filter((e) => e.reason === 'Preempted')).toEqual([]);
    const reclaimed = t.recorder.events.filter((e) => e.reason === 'Reclaimed');
    expect(reclaimed.map((e) => e.name).sort()).toEqual(['a1', 'g4']);
    expect(reclaimed.find((e) => e.name === 'a1')?.message).toContain('for tenant acme: tenant globex had borrowed it for GpuPartition');
    expect(reclaimed.find((e) => e.name === 'g4')?.message).toContain('was borrowed by tenant globex and is reclaimed by tenant acme for GpuPartition');
  });

  test('reclaiming a borrowed slice a pod uses evicts the pod; the lender is Ready once it is gone', async () => {
    const t = start(2, [tenant('acme', { nominal: 1, cohort: 'c' }), tenant('globex', { nominal: 1, cohort: 'c' })]);
    t.client.seed(RESOURCES.gpuPartition, big('g1', 'globex', 1));
    t.client.seed(RESOURCES.gpuPartition, big('g2', 'globex', 2));
    await t.settle();
    const borrowed = t.entries().find((e) => e.claim.borrowed)!;
    t.client.seed(RESOURCES.pod, makePartitionPod('g-pod', 'globex', borrowed.claim.name, 'nvidia.com/mig-7g.180gb', { gated: false, phase: 'Running', node: 'n1' }));
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      const s = gn.status!.gpus!.find((g) => g.index === borrowed.gpuIndex)!.slices[0]!;
      s.inUse = true;
      s.pod = { namespace: 'globex', name: 'g-pod' };
    });
    t.client.seed(RESOURCES.gpuPartition, big('a1', 'acme', 3));
    await t.settle();
    expect(t.client.evicted).toEqual(['globex/g-pod']);
    expect(cond(t.partition('a1', 'acme'), 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForEviction' });
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      const s = gn.status!.gpus!.find((g) => g.index === borrowed.gpuIndex)!.slices[0]!;
      s.inUse = false;
      delete s.pod;
    });
    await t.settle();
    expect(t.partition('a1', 'acme')?.status?.phase).toBe('Ready');
  });

  test('a tenant over its nominal quota cannot reclaim, and priority preemption stays within the tenant', async () => {
    const t = start(2, [tenant('acme', { nominal: 1, cohort: 'c' }), tenant('globex', { nominal: 2, cohort: 'c' })]);
    t.client.seed(RESOURCES.gpuPartition, big('g1', 'globex', 1, { preemptible: true }));
    t.client.seed(RESOURCES.gpuPartition, big('a1', 'acme', 2));
    await t.settle();
    t.client.seed(RESOURCES.gpuPartition, big('a2', 'acme', 3, { priority: 100, preemptionPolicy: 'PreemptLowerPriority' }));
    await t.settle();
    // Quota lets a2 borrow globex's idle GPU-equivalent, but the cluster is full: acme is beyond its nominal
    // quota (no reclaim), and globex's preemptible g1 is another tenant's (no priority preemption): nothing moves.
    expect(t.entries().map((e) => e.claim.name).sort()).toEqual(['a1', 'g1']);
    expect(cond(t.partition('a2', 'acme'), 'Allocated')?.reason).toBe('InsufficientCapacity');
    expect(cond(t.partition('a2', 'acme'), 'QuotaReserved')).toMatchObject({ status: 'True', reason: 'QuotaAvailable' });
  });

  test('between tenants waiting in a cohort, the one holding the lowest weighted share goes first', async () => {
    // Nominal quotas cover more than the 6 GPUs: who gets them is decided by weighted share, not by quota.
    const t = start(6, [tenant('a', { nominal: 4, cohort: 'c', weight: 1 }), tenant('b', { nominal: 4, cohort: 'c', weight: 2 }), tenant('z', { nominal: 4, cohort: 'c', weight: 1 })]);
    // a asks first (older), for more than its share; b and z ask later.
    for (let i = 0; i < 6; i++) t.client.seed(RESOURCES.gpuPartition, big(`a${i}`, 'a', i));
    for (let i = 0; i < 6; i++) t.client.seed(RESOURCES.gpuPartition, big(`b${i}`, 'b', 10 + i));
    for (let i = 0; i < 6; i++) t.client.seed(RESOURCES.gpuPartition, big(`z${i}`, 'z', 20 + i));
    await t.settle();
    const per = (ns: string) => t.entries().filter((e) => e.claim.namespace === ns).length;
    // Six GPUs by weight 1:2:1 (1.5 : 3 : 1.5; ties go to the older request) — not first come, first served,
    // which would give `a` four (its nominal) and `b` two.
    expect(per('b')).toBe(3);
    expect(per('a') + per('z')).toBe(3);
    expect(Math.abs(per('a') - per('z'))).toBeLessThanOrEqual(1);
  });

  test('a per-profile cap holds even within the quota', async () => {
    const t = start(2, [tenant('acme', { nominal: 2, profileLimits: [{ profile: '1g.23gb', max: 2 }] })]);
    for (let i = 0; i < 3; i++) t.client.seed(RESOURCES.gpuPartition, { ...makePartition(`s${i}`, 'acme', { profile: '1g.23gb' }), metadata: { name: `s${i}`, namespace: 'acme', creationTimestamp: `2026-01-01T00:00:0${i}Z` } });
    await t.settle();
    expect(t.entries().map((e) => e.claim.name).sort()).toEqual(['s0', 's1']);
    expect(cond(t.partition('s2', 'acme'), 'QuotaReserved')).toMatchObject({ status: 'False', reason: 'ProfileLimitExceeded', message: 'tenant acme holds 2 of at most 2 × 1g.23gb; this request needs 1 more' });
  });

  test('a namespace of no tenant is refused when the cluster says so; one of two tenants is never resolved silently', async () => {
    const t = start(2, [tenant('a', { nominal: 1, namespaces: ['shared'] }), tenant('b', { nominal: 1, namespaces: ['shared'] })], { unassigned: 'refuse' });
    t.client.seed(RESOURCES.gpuPartition, big('x', 'nowhere', 1));
    t.client.seed(RESOURCES.gpuPartition, big('y', 'shared', 2));
    await t.settle();
    expect(t.entries()).toEqual([]);
    expect(cond(t.partition('x', 'nowhere'), 'QuotaReserved')).toMatchObject({ status: 'False', reason: 'NoTenant' });
    expect(cond(t.partition('y', 'shared'), 'QuotaReserved')).toMatchObject({ status: 'False', reason: 'TenantConflict', message: expect.stringContaining('a and b') });
  });

  test('a namespace that moves to another tenant is charged to it from then on; what it held stays with the old one', async () => {
    const t = start(4, [tenant('old', { nominal: 1, namespaces: ['team'] }), tenant('new', { nominal: 3, namespaces: [] , namespaceSelector: { matchLabels: { owner: 'new' } } })]);
    t.client.seed(RESOURCES.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    t.client.seed(RESOURCES.gpuPartition, big('p1', 'team', 1));
    t.client.seed(RESOURCES.gpuPartition, big('p2', 'team', 2));
    await t.settle();
    expect(t.entries().map((e) => [e.claim.name, e.claim.tenant])).toEqual([['p1', 'old']]);
    // The namespace leaves `old` and joins `new` by its label.
    t.client.edit<GpuTenant>(RESOURCES.gpuTenant, 'old', undefined, (x) => (x.spec.namespaces = ['elsewhere']), true);
    t.client.edit<{ metadata: { labels?: Record<string, string> } }>(RESOURCES.namespace, 'team', undefined, (n) => (n.metadata.labels = { owner: 'new' }));
    t.cycle.capacityChanged('gpunode');
    await t.settle();
    expect(t.entries().map((e) => [e.claim.name, e.claim.tenant]).sort()).toEqual([
      ['p1', 'old'],
      ['p2', 'new'],
    ]);
  });
});
