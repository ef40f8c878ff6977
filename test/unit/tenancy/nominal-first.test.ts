/**
 * Within one cycle, a request inside its tenant's nominal quota is decided before requests that would borrow,
 * whatever their priorities. Found by `npm run bench:tenancy`: a tenant outside any cohort, asking within its
 * nominal quota at a low priority, waited cycle after cycle while higher-priority requests of borrowing tenants
 * took each whole GPU that came free — it cannot reclaim from them, so nothing ever gave its capacity back.
 */
import type { ClaimRef, GpuNode, GpuPartition, GpuTenant } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { planCycle } from '../../../src/scheduler/cycle-planner.js';
import { jobDemand, partitionDemand } from '../../../src/scheduler/demand.js';
import { QuotaBook } from '../../../src/tenancy/quota-book.js';
import { TenantDirectory } from '../../../src/tenancy/tenant-resolution.js';
import { makeGpuNode, makeJob, makeNode, makePartition } from '../support/builders.js';

const tenant = (name: string, spec: Partial<GpuTenant['spec']>): GpuTenant => ({ apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuTenant', metadata: { name }, spec: { nominal: 0, namespaces: [name], ...spec } });
const claim = (ns: string, name: string, tenantName?: string): ClaimRef => ({ kind: 'GpuPartition', namespace: ns, name, uid: `uid-${name}`, slot: 0, priority: 0, preemptible: false, ...(tenantName ? { tenant: tenantName } : {}) });
const big = (name: string, ns: string, priority: number, at: number): GpuPartition => {
  const p = makePartition(name, ns, { profile: '7g.180gb', priority });
  p.metadata = { name, namespace: ns, uid: `uid-${name}`, generation: 1, creationTimestamp: `2026-01-01T00:00:0${at}Z` };
  return p;
};

function plan(tenants: GpuTenant[], ledger: GpuNode[], demands: GpuPartition[]) {
  const quota = new QuotaBook(new TenantDirectory(tenants, []), ledgerEntries(ledger), 'allow');
  return planCycle(ledger, demands.map((p) => partitionDemand(p, { release: false, inUse: false })), { nodeOf: (n) => makeNode(n), quota }, { seq: 0, outOfTime: () => false });
}

test('the last free GPU goes to the tenant owed it, not to a higher-priority request that would borrow', () => {
  const tenants = [tenant('lyra', { nominal: 1 }), tenant('a', { nominal: 1, cohort: 'c' }), tenant('b', { nominal: 1, cohort: 'c' })];
  // GPU 0: a within its nominal quota; GPU 1: a namespace of no tenant; GPU 2 is free. b lends its idle quota.
  const gn = makeGpuNode('n1', { gpus: 3 });
  gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0, claim: claim('a', 'a0', 'a') }] }, { index: 1, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0, claim: claim('other', 'x') }] }] };
  const p = plan(tenants, [gn], [big('borrow', 'a', 50, 1), big('owed', 'lyra', 0, 2)]);
  const outcome = (name: string) => p.results.find((r) => r.demand.who.name === name)?.outcome;
  expect(outcome('owed')).toMatchObject({ kind: 'placed', tenant: 'lyra', borrowed: false });
  expect(outcome('borrow')).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
  // The order among requests of the same class is unchanged: priority first.
  const q = plan(tenants, [gn], [big('high', 'lyra', 50, 1), big('low', 'lyra', 0, 2)]);
  expect(q.results.map((r) => [r.demand.who.name, r.outcome.kind])).toEqual([
    ['high', 'placed'],
    ['low', 'waiting'],
  ]);
});

test('a request beyond its nominal quota waits for the second round, then borrows by priority and share', () => {
  const tenants = [tenant('a', { nominal: 1, cohort: 'c' }), tenant('b', { nominal: 2, cohort: 'c' })];
  const p = plan(tenants, [makeGpuNode('n1', { gpus: 3 })], [big('a1', 'a', 50, 1), big('a2', 'a', 50, 2), big('b1', 'b', 0, 3)]);
  // a1 is within a's quota; a2 would borrow, so b1 (within b's quota, lower priority) is decided before it.
  expect(p.results.map((r) => [r.demand.who.name, r.outcome.kind, r.outcome.kind === 'placed' ? r.outcome.borrowed : undefined])).toEqual([
    ['a1', 'placed', false],
    ['b1', 'placed', false],
    ['a2', 'placed', true],
  ]);
});

test('a borrowed placement moves the capacity sequence: a request within nominal that failed before it is woken', () => {
  const tenants = [tenant('a', { nominal: 3, cohort: 'c' }), tenant('b', { nominal: 1, cohort: 'c' })];
  // GPU 0: b at its nominal quota, on a claim admitted as borrowed long ago; GPU 1: a; GPU 2: a namespace of no
  // tenant; GPU 3 is free. a asks for 2 GPUs on one node: free 1, reclaimable 0 (b is not above its quota).
  const gn = makeGpuNode('n1', { gpus: 4, mode: 'whole' });
  gn.spec = {
    gpus: [
      { index: 0, mode: 'whole', slices: [], claim: { ...claim('b', 'b0', 'b'), borrowed: true } },
      { index: 1, mode: 'whole', slices: [], claim: claim('a', 'a0', 'a') },
      { index: 2, mode: 'whole', slices: [], claim: claim('other', 'x') },
    ],
  };
  const quota = new QuotaBook(new TenantDirectory(tenants, []), ledgerEntries([gn]), 'allow');
  const job = { ...makeJob('pair', 'a', { replicas: 1, gpusPerWorker: 2 }), metadata: { name: 'pair', namespace: 'a', uid: 'uid-pair', creationTimestamp: '2026-01-01T00:00:01Z' } };
  const p = planCycle([gn], [jobDemand(job, { release: false }), partitionDemand(big('b1', 'b', 0, 2), { release: false, inUse: false })], { nodeOf: (n) => makeNode(n), quota }, { seq: 7, outOfTime: () => false });
  const pair = p.results.find((r) => r.demand.who.name === 'pair');
  expect(pair?.outcome.kind).toBe('waiting');
  // b's borrowed placement on GPU 3 puts b above its quota: both its GPUs are reclaimable now, and a's request
  // (parked at sequence 7) is planned again next cycle.
  expect(p.results.find((r) => r.demand.who.name === 'b1')?.outcome).toMatchObject({ kind: 'placed', borrowed: true });
  expect(pair?.seq).toBe(7);
  expect(p.seq).toBeGreaterThan(7);
});
