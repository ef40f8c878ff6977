/**
 * The cycle planner with tenant quotas: the order hold demands are decided in (priority, then the lowest
 * weighted share as it moves within the cycle, then age; a tenant's own requests in queue order; requests beyond
 * nominal quota after the others), a refusal by quota (no engine call, its note, a partial holding given back),
 * the note of a request whose quota is reserved while it waits for capacity, the tenant and borrowed flag on new
 * claims and the usage charged for them, priority preemption kept within the tenant, and the reclaim of borrowed
 * capacity for a tenant within its nominal quota (lowest priority, then most recently admitted, first).
 * Found by mutation testing (docs/reliability.md, "Ledger part, narrowed runs").
 */
import type { ClaimRef, GpuNode, GpuPartition, GpuTenant } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { planCycle, type CyclePlan } from '../../../src/scheduler/cycle-planner.js';
import { jobDemand, partitionDemand, type Demand } from '../../../src/scheduler/demand.js';
import { QuotaBook } from '../../../src/tenancy/quota-book.js';
import { TenantDirectory } from '../../../src/tenancy/tenant-resolution.js';
import { makeGpuNode, makeJob, makeNode, makePartition } from '../support/builders.js';

const NOW = '2026-03-02T10:30:00.000Z';
const tenant = (name: string, spec: Partial<GpuTenant['spec']>): GpuTenant => ({ apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuTenant', metadata: { name }, spec: { nominal: 0, namespaces: [name], ...spec } });
const claim = (ns: string, name: string, extra: Partial<ClaimRef> = {}): ClaimRef => ({ kind: 'GpuPartition', namespace: ns, name, uid: `uid-${name}`, slot: 0, priority: 0, preemptible: false, tenant: ns, ...extra });

/** A partition of `count` 7g slices (a whole B200 each), created `at` seconds after the epoch of the test. */
function big(name: string, ns: string, opts: { priority?: number; at?: number; count?: number; mayPreempt?: boolean } = {}): GpuPartition {
  const p = makePartition(name, ns, { profile: '7g.180gb', priority: opts.priority ?? 0, count: opts.count ?? 1, ...(opts.mayPreempt ? { preemptionPolicy: 'PreemptLowerPriority' as const } : {}) });
  p.metadata = { name, namespace: ns, uid: `uid-${name}`, generation: 1, creationTimestamp: `2026-01-01T00:00:${String(opts.at ?? 0).padStart(2, '0')}Z` };
  return p;
}
const hold = (p: GpuPartition, inUse = false) => partitionDemand(p, { release: false, inUse });

/** One node of B200s: GPU i holds claims[i] in a 7g slice (none: free). */
function node(claims: Array<ClaimRef | undefined>): GpuNode {
  const gn = makeGpuNode('n1', { gpus: claims.length });
  gn.spec = { gpus: claims.flatMap((c, index) => (c ? [{ index, mode: 'mig' as const, slices: [{ profile: '7g.180gb', start: 0, claim: c }] }] : [])) };
  return gn;
}

function plan(tenants: GpuTenant[], ledger: GpuNode[], demands: Demand[], calls: string[] = []) {
  const quota = new QuotaBook(new TenantDirectory(tenants, []), ledgerEntries(ledger), 'allow');
  const p = planCycle(ledger, demands, { nodeOf: (n) => makeNode(n), quota, observePlacement: (_s, kind) => calls.push(kind) }, { seq: 0, now: new Date(NOW), outOfTime: () => false });
  return { p, quota };
}
const order = (p: CyclePlan) => p.results.map((r) => r.demand.who.name);
const outcome = (p: CyclePlan, name: string) => p.results.find((r) => r.demand.who.name === name)?.outcome;
const after = (ledger: GpuNode[], p: CyclePlan) => {
  const changed = new Map(p.draft.changed().map((n) => [n.metadata.name, n]));
  return ledgerEntries(ledger.map((n) => changed.get(n.metadata.name) ?? n));
};

describe('the order of decision', () => {
  const roomy = () => [makeGpuNode('n1', { gpus: 8 })];

  test('without tenancy: queue order, every hold decided', () => {
    const p = planCycle(roomy(), [hold(big('z', 'x', { at: 5 })), hold(big('y', 'x', { priority: 9, at: 1 }))], { nodeOf: (n) => makeNode(n) }, { seq: 0, outOfTime: () => false });
    expect(p.results.map((r) => [r.demand.who.name, r.outcome.kind])).toEqual([
      ['z', 'placed'],
      ['y', 'placed'],
    ]);
    expect(outcome(p, 'z')).not.toHaveProperty('tenant');
  });

  test('equal priorities: the lowest weighted share first, shares moving as the cycle places', () => {
    // a holds 2 at weight 4 (share 0.5), b holds 1 at weight 1 (share 1): a first; a's placement brings it to
    // 0.75, still below b, so a again; then b (1) before a (1, but b's request is older).
    const tenants = [tenant('a', { nominal: 8, weight: 4 }), tenant('b', { nominal: 8 })];
    const ledger = [node([claim('a', 'a0'), claim('a', 'a1'), claim('b', 'b0'), undefined, undefined, undefined, undefined, undefined])];
    const { p } = plan(tenants, ledger, [hold(big('b1', 'b', { at: 1 })), hold(big('b2', 'b', { at: 2 })), hold(big('a1x', 'a', { at: 3 })), hold(big('a2x', 'a', { at: 4 })), hold(big('a3x', 'a', { at: 5 }))]);
    expect(order(p)).toEqual(['a1x', 'a2x', 'b1', 'a3x', 'b2']);
    // Whichever tenant's requests come first in the queue.
    const { p: q } = plan(tenants, ledger, [hold(big('a1x', 'a', { at: 3 })), hold(big('a2x', 'a', { at: 4 })), hold(big('a3x', 'a', { at: 5 })), hold(big('b1', 'b', { at: 1 })), hold(big('b2', 'b', { at: 2 }))]);
    expect(order(q)).toEqual(['a1x', 'a2x', 'b1', 'a3x', 'b2']);
  });

  test('a higher priority goes first whatever the shares; equal shares and priorities: the older first', () => {
    const tenants = [tenant('a', { nominal: 8 }), tenant('b', { nominal: 8 })];
    const ledger = [node([claim('a', 'a0'), claim('a', 'a1'), undefined, undefined, undefined, undefined])];
    const { p } = plan(tenants, ledger, [hold(big('b1', 'b', { at: 1 })), hold(big('a1x', 'a', { priority: 3, at: 2 }))]);
    expect(order(p)).toEqual(['a1x', 'b1']);
    const { p: p2 } = plan(tenants, ledger, [hold(big('a1x', 'a', { priority: 3, at: 2 })), hold(big('b1', 'b', { at: 1 }))]);
    expect(order(p2)).toEqual(['a1x', 'b1']);
    const { p: q } = plan(tenants, [node([undefined, undefined, undefined])], [hold(big('b1', 'b', { at: 2 })), hold(big('a1', 'a', { at: 1 }))]);
    expect(order(q)).toEqual(['a1', 'b1']);
    // Same age too: by key.
    const { p: r } = plan(tenants, [node([undefined, undefined, undefined])], [hold(big('y', 'b', { at: 1 })), hold(big('x', 'a', { at: 1 }))]);
    expect(order(r)).toEqual(['x', 'y']);
    const { p: r2 } = plan(tenants, [node([undefined, undefined, undefined])], [hold(big('x', 'a', { at: 1 })), hold(big('y', 'b', { at: 1 }))]);
    expect(order(r2)).toEqual(['x', 'y']);
  });

  test("a tenant's own requests keep their queue order, whatever their priorities", () => {
    const tenants = [tenant('a', { nominal: 8 })];
    const { p } = plan(tenants, [node([undefined, undefined, undefined])], [hold(big('low', 'a', { at: 1 })), hold(big('high', 'a', { priority: 5, at: 2 }))]);
    expect(order(p)).toEqual(['low', 'high']);
  });

  test('requests beyond nominal quota come after the others, namespaces of no tenant counting as within quota', () => {
    const tenants = [tenant('a', { nominal: 1, cohort: 'c' }), tenant('b', { nominal: 4, cohort: 'c' })];
    const { p } = plan(tenants, [node([undefined, undefined, undefined, undefined, undefined])], [
      hold(big('a1', 'a', { priority: 9, at: 1 })),
      hold(big('a2', 'a', { priority: 9, at: 2 })),
      hold(big('a3', 'a', { priority: 9, at: 3 })),
      hold(big('free', 'other', { at: 4 })),
      hold(big('b1', 'b', { at: 5 })),
    ]);
    expect(order(p)).toEqual(['a1', 'free', 'b1', 'a2', 'a3']);
    expect(outcome(p, 'a2')).toMatchObject({ kind: 'placed', tenant: 'a', borrowed: true });
    expect(outcome(p, 'a3')).toMatchObject({ kind: 'placed', tenant: 'a', borrowed: true });
  });

  test('what a request already holds does not count against its quota when its turn comes', () => {
    // a (nominal 2) holds slot 0 of p; p asks for 2: one more is within nominal, so p is not pushed behind b's
    // request, which would borrow.
    const tenants = [tenant('a', { nominal: 2, cohort: 'c' }), tenant('b', { nominal: 0, cohort: 'c' })];
    const ledger = [node([claim('a', 'p'), undefined, undefined])];
    const { p } = plan(tenants, ledger, [hold(big('b1', 'b', { priority: 5, at: 1 })), hold(big('p', 'a', { count: 2, at: 2 }))]);
    expect(order(p)).toEqual(['p', 'b1']);
    expect(outcome(p, 'p')).toMatchObject({ kind: 'placed', slots: [1], borrowed: false });
  });

  test('a gang holding only part of itself is costed whole when its turn comes', () => {
    // a (nominal 4) holds a 2-rank gang of 2 GPUs per worker, all but one GPU of rank 0 (say a reclaim took it):
    // every rank is there, but the holding is incomplete, so the gang gives it back and is placed again whole.
    // It is costed as 4 GPUs on top of a's current 3: beyond nominal, decided in the second round, after b's
    // request (b borrows too, but holds the lower share).
    const tenants = [tenant('a', { nominal: 4, cohort: 'c' }), tenant('b', { nominal: 0, cohort: 'c' })];
    const rank = (slot: number): ClaimRef => ({ kind: 'TrainingJob', namespace: 'a', name: 'g', uid: 'uid-g', slot, priority: 0, preemptible: false, tenant: 'a' });
    const gn = makeGpuNode('n1', { gpus: 4, mode: 'whole' });
    gn.spec = { gpus: [0, 1, 1].map((slot, index) => ({ index, mode: 'whole' as const, slices: [], claim: rank(slot) })) };
    const job = makeJob('g', 'a', { replicas: 2, gpusPerWorker: 2 });
    job.metadata = { name: 'g', namespace: 'a', uid: 'uid-g', generation: 1, creationTimestamp: '2026-01-01T00:00:01Z' };
    const ledger = [gn, makeGpuNode('n2', { gpus: 1 })];
    const { p } = plan(tenants, ledger, [jobDemand(job, { release: false }), hold(big('b1', 'b', { at: 3 }))]);
    expect(order(p)).toEqual(['b1', 'g']);
    expect(p.results.find((r) => r.demand.who.name === 'g')).toMatchObject({ outcome: { kind: 'placed', slots: [0, 1], tenant: 'a', borrowed: false }, gaveBack: 3 });
  });
});

describe('quota refusals and notes', () => {
  const tenants = [tenant('a', { nominal: 1 })];

  test('a request over quota waits without an engine call; its partial holding goes back unless pods use it', () => {
    const calls: string[] = [];
    const ledger = [node([claim('a', 'x'), undefined, undefined])];
    const { p, quota } = plan(tenants, ledger, [hold(big('x', 'a', { count: 3 }))], calls);
    expect(p.results[0]).toMatchObject({ gaveBack: 1 });
    expect(p.results[0]?.outcome).toEqual({
      kind: 'waiting',
      code: 'QuotaExceeded',
      permanent: false,
      message: 'tenant a uses 1.0 of nominal 1.0 GPU-eq; this request needs 2.0 more; it has no cohort to borrow from',
      quota: { reserved: false, tenant: 'a', reason: 'QuotaExceeded', message: 'tenant a uses 1.0 of nominal 1.0 GPU-eq; this request needs 2.0 more; it has no cohort to borrow from' },
    });
    expect(calls).toEqual([]);
    expect(after(ledger, p)).toEqual([]);
    expect(quota.usage('a').used).toBe(0);
    const kept = plan(tenants, ledger, [hold(big('x', 'a', { count: 3 }), true)]);
    expect(kept.p.results[0]).toMatchObject({ gaveBack: 0, outcome: { kind: 'waiting', code: 'QuotaExceeded' } });
    expect(kept.quota.usage('a').used).toBe(1);
  });

  test('a namespace of no tenant refused by policy: its note names no tenant', () => {
    const quota = new QuotaBook(new TenantDirectory(tenants, []), [], 'refuse');
    const p = planCycle([node([undefined])], [hold(big('x', 'other'))], { nodeOf: (n) => makeNode(n), quota }, { seq: 0, outOfTime: () => false });
    const o = p.results[0]?.outcome;
    expect(o).toMatchObject({ kind: 'waiting', code: 'NoTenant', quota: { reserved: false, reason: 'NoTenant' } });
    expect(o?.kind === 'waiting' ? o.quota : undefined).not.toHaveProperty('tenant');
  });

  test('a request within quota waiting for capacity has its quota reserved, with or without a tenant', () => {
    const full = () => [node([claim('other', 'z', { tenant: undefined })])];
    const { p } = plan(tenants, full(), [hold(big('x', 'a')), hold(big('y', 'other', { at: 1 }))]);
    expect(outcome(p, 'x')).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity', quota: { reserved: true, tenant: 'a', reason: 'QuotaAvailable', message: 'within the quota of tenant a; waiting for capacity' } });
    const y = outcome(p, 'y');
    expect(y).toMatchObject({ kind: 'waiting', quota: { reserved: true, reason: 'QuotaAvailable', message: 'namespace other belongs to no tenant; waiting for capacity' } });
    expect(y?.kind === 'waiting' ? y.quota : undefined).not.toHaveProperty('tenant');
    // Without tenancy (no tenant, namespaces allowed) a waiting request carries no quota note.
    const none = planCycle(full(), [hold(big('x', 'a'))], { nodeOf: (n) => makeNode(n), quota: new QuotaBook(new TenantDirectory([], []), [], 'allow') }, { seq: 0, outOfTime: () => false });
    expect(none.results[0]?.outcome).not.toHaveProperty('quota');
  });
});

describe('placements under quota', () => {
  test('new claims carry their tenant, the allocation time and the borrowed flag; usage is charged by profile', () => {
    const tenants = [tenant('a', { nominal: 2, cohort: 'c' }), tenant('b', { nominal: 4, cohort: 'c' })];
    const gn = makeGpuNode('n1', { gpus: 4, mode: 'whole' });
    const job = makeJob('g', 'a', { replicas: 1, gpusPerWorker: 2 });
    job.metadata = { name: 'g', namespace: 'a', uid: 'uid-g', generation: 1, creationTimestamp: '2026-01-01T00:00:01Z' };
    const slice = makePartition('s', 'a', { profile: '3g.90gb' });
    slice.metadata = { name: 's', namespace: 'a', uid: 'uid-s', generation: 1, creationTimestamp: '2026-01-01T00:00:02Z' };
    const { p, quota } = plan(tenants, [gn, { ...makeGpuNode('n2', { gpus: 1 }) }], [jobDemand(job, { release: false }), hold(slice), hold(big('free', 'other', { at: 3 }))]);
    expect(outcome(p, 'g')).toMatchObject({ kind: 'placed', tenant: 'a', borrowed: false });
    expect(outcome(p, 's')).toMatchObject({ kind: 'placed', tenant: 'a', borrowed: true });
    expect(outcome(p, 'free')).toMatchObject({ kind: 'placed' });
    expect(outcome(p, 'free')).not.toHaveProperty('tenant');
    const claims = new Map(after([gn, makeGpuNode('n2', { gpus: 1 })], p).map((e) => [e.claim.name, e.claim]));
    expect(claims.get('g')).toMatchObject({ tenant: 'a', allocatedAt: NOW });
    expect(claims.get('g')).not.toHaveProperty('borrowed');
    expect(claims.get('s')).toMatchObject({ tenant: 'a', borrowed: true, allocatedAt: NOW });
    expect(claims.get('free')).not.toHaveProperty('tenant');
    const u = quota.usage('a');
    expect(Object.fromEntries(u.byProfile)).toEqual({ whole: 2, '3g.90gb': 1 });
    expect(u.used).toBeCloseTo(2 + 3 / 7, 12);
    // A borrowed placement moves the capacity sequence (borrowed capacity may be reclaimed by parked requests).
    expect(p.seq).toBe(1);
  });

  test('priority preemption stays within the tenant', () => {
    const tenants = [tenant('a', { nominal: 4 }), tenant('b', { nominal: 4 })];
    const mine = () => [node([claim('b', 'b0', { preemptible: true }), claim('a', 'a0', { preemptible: true })])];
    const { p } = plan(tenants, mine(), [hold(big('hi', 'a', { priority: 5, mayPreempt: true }))]);
    const o = outcome(p, 'hi');
    expect(o).toMatchObject({ kind: 'placed', tenant: 'a' });
    expect(o?.kind === 'placed' ? o.victims.map((v) => v.claim.name) : []).toEqual(['a0']);
    expect(o).not.toHaveProperty('reclaimed');
    // Only another tenant's claim in the way: no preemption.
    const { p: q } = plan(tenants, [node([claim('b', 'b0', { preemptible: true })])], [hold(big('hi', 'a', { priority: 5, mayPreempt: true }))]);
    expect(outcome(q, 'hi')).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
    // Nor of its own claims of the same priority, or not preemptible.
    const { p: r } = plan(tenants, [node([claim('a', 'a0', { priority: 5, preemptible: true }), claim('a', 'a1', { priority: 0 })])], [hold(big('hi', 'a', { priority: 5, mayPreempt: true }))]);
    expect(outcome(r, 'hi')).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
    // A request that may not preempt takes nothing, not even its own tenant's lower-priority claims.
    const { p: t } = plan(tenants, [node([claim('a', 'a0', { preemptible: true })])], [hold(big('hi', 'a', { priority: 5 }))]);
    expect(outcome(t, 'hi')).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
  });

  test('a request that may preempt is placed without preempting when there is room', () => {
    const tenants = [tenant('a', { nominal: 4 })];
    const { p } = plan(tenants, [node([claim('a', 'a0', { preemptible: true }), undefined])], [hold(big('hi', 'a', { priority: 5, mayPreempt: true }))]);
    expect(outcome(p, 'hi')).toMatchObject({ kind: 'placed', victims: [] });
  });
});

describe('reclaim', () => {
  const tenants = [tenant('a', { nominal: 1, cohort: 'c' }), tenant('b', { nominal: 1, cohort: 'c' })];
  const borrowedAt = (name: string, at: string, priority = 0) => claim('b', name, { borrowed: true, allocatedAt: at, priority });

  test('the most recently admitted borrowed claim of a peer over its quota goes first', () => {
    const ledger = () => [node([claim('b', 'b0'), borrowedAt('old', '2026-03-02T10:00:00.000Z'), borrowedAt('new', '2026-03-02T10:20:00.000Z')])];
    const { p, quota } = plan(tenants, ledger(), [hold(big('x', 'a'))]);
    const o = outcome(p, 'x');
    expect(o).toMatchObject({ kind: 'placed', reclaimed: true, tenant: 'a', borrowed: false });
    expect(o?.kind === 'placed' ? o.victims.map((v) => v.claim.name) : []).toEqual(['new']);
    expect(quota.usage('b').used).toBe(2);
    expect(quota.usage('a').used).toBe(1);
  });

  test('a lower priority goes before a more recent admission; a claim without an admission time is the oldest', () => {
    const { p } = plan(tenants, [node([claim('b', 'b0'), borrowedAt('low', '2026-03-02T10:00:00.000Z', 0), borrowedAt('high', '2026-03-02T10:20:00.000Z', 3)])], [hold(big('x', 'a'))]);
    const o = outcome(p, 'x');
    expect(o?.kind === 'placed' ? o.victims.map((v) => v.claim.name) : []).toEqual(['low']);
    const { p: q } = plan(tenants, [node([claim('b', 'b0'), claim('b', 'ageless', { borrowed: true }), borrowedAt('dated', '2026-03-02T10:00:00.000Z')])], [hold(big('x', 'a'))]);
    const r = outcome(q, 'x');
    expect(r?.kind === 'placed' ? r.victims.map((v) => v.claim.name) : []).toEqual(['dated']);
  });

  test('a borrowed claim admitted before admission times were recorded is reclaimed too', () => {
    const { p } = plan(tenants, [node([claim('b', 'b0'), claim('b', 'ageless', { borrowed: true })])], [hold(big('x', 'a'))]);
    const o = outcome(p, 'x');
    expect(o).toMatchObject({ kind: 'placed', reclaimed: true });
    expect(o?.kind === 'placed' ? o.victims.map((v) => v.claim.name) : []).toEqual(['ageless']);
  });

  test('a request that borrows does not reclaim, even when its cohort lends it the quota', () => {
    // a (nominal 1) holds 1; the lender's idle quota admits a second GPU as borrowed, but no GPU is free, and b's
    // borrowed claim is not taken back for a request beyond a's nominal quota.
    const three = [...tenants, tenant('lender', { nominal: 2, cohort: 'c' })];
    const { p } = plan(three, [node([claim('a', 'a0'), claim('b', 'b0'), borrowedAt('b1', '2026-03-02T10:00:00.000Z')])], [hold(big('x', 'a'))]);
    expect(outcome(p, 'x')).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity', quota: { reserved: true, tenant: 'a' } });
  });

  test('a reclaimed whole GPU a pod uses is a busy victim without a slice', () => {
    const job = (name: string, extra: Partial<ClaimRef>): ClaimRef => ({ kind: 'TrainingJob', namespace: 'b', name, uid: `uid-${name}`, slot: 0, priority: 0, preemptible: false, tenant: 'b', ...extra });
    const gn = makeGpuNode('n1', { gpus: 2, mode: 'whole' });
    const lent = job('lent', { borrowed: true, allocatedAt: '2026-03-02T10:00:00.000Z' });
    gn.spec = { gpus: [{ index: 0, mode: 'whole', slices: [], claim: job('own', {}) }, { index: 1, mode: 'whole', slices: [], claim: lent }] };
    (gn.status?.gpus ?? [])[1]!.inUse = true;
    const worker = makeJob('w', 'a', { replicas: 1, gpusPerWorker: 1 });
    worker.metadata = { name: 'w', namespace: 'a', uid: 'uid-w', generation: 1, creationTimestamp: '2026-01-01T00:00:01Z' };
    const { p } = plan(tenants, [gn], [jobDemand(worker, { release: false })]);
    const o = outcome(p, 'w');
    expect(o).toMatchObject({ kind: 'placed', reclaimed: true });
    expect(o?.kind === 'placed' ? o.victims : []).toEqual([{ claim: lent, node: 'n1', gpuIndex: 1, busy: true }]);
  });

  test('after a reclaim the next request of the cycle sees the capacity it left', () => {
    // x (3g) takes back half of b's borrowed 7g GPU; y (3g, of a namespace of no tenant) fits in the other half.
    const ledger = [node([claim('b', 'b0'), borrowedAt('b1', '2026-03-02T10:00:00.000Z')])];
    const small = (name: string, ns: string, at: number) => {
      const p = makePartition(name, ns, { profile: '3g.90gb' });
      p.metadata = { name, namespace: ns, uid: `uid-${name}`, generation: 1, creationTimestamp: `2026-01-01T00:00:0${at}Z` };
      return hold(p);
    };
    const { p } = plan(tenants, ledger, [small('x', 'a', 1), small('y', 'other', 2)]);
    expect(outcome(p, 'x')).toMatchObject({ kind: 'placed', reclaimed: true });
    expect(outcome(p, 'y')).toMatchObject({ kind: 'placed' });
    expect(after(ledger, p).map((e) => `${e.claim.name}@${e.gpuIndex}/${e.profile}`).sort()).toEqual(['b0@0/7g.180gb', 'x@1/3g.90gb', 'y@1/3g.90gb']);
  });

  test('a shape that failed for one tenant is still tried for another that may reclaim', () => {
    // The request of a tenant outside the cohort fails first; b's request of the same shape is within b's
    // nominal quota and takes back a's borrowed GPU.
    const { p } = plan([...tenants, tenant('solo', { nominal: 1 })], [node([claim('a', 'a0'), claim('a', 'a1', { borrowed: true, allocatedAt: '2026-03-02T10:00:00.000Z' })])], [hold(big('s', 'solo', { at: 1 })), hold(big('y', 'b', { at: 2 }))]);
    expect(order(p)).toEqual(['s', 'y']);
    expect(outcome(p, 's')).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
    expect(outcome(p, 'y')).toMatchObject({ kind: 'placed', reclaimed: true, tenant: 'b' });
  });

  test('nothing is reclaimed from claims not marked borrowed, from a peer within its quota, or for a request beyond nominal', () => {
    const { p } = plan(tenants, [node([claim('b', 'b0'), claim('b', 'b1')])], [hold(big('x', 'a'))]);
    expect(outcome(p, 'x')).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
    const { p: q } = plan(tenants, [node([borrowedAt('b0', '2026-03-02T10:00:00.000Z'), claim('other', 'z', { tenant: undefined })])], [hold(big('x', 'a'))]);
    expect(outcome(q, 'x')).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
    const { p: r } = plan(tenants, [node([claim('a', 'a0'), claim('b', 'b0'), borrowedAt('b1', '2026-03-02T10:00:00.000Z')])], [hold(big('x', 'a'))]);
    expect(outcome(r, 'x')).toMatchObject({ kind: 'waiting' });
  });
});
