/**
 * Tenants against the real API server, with the operator watching every namespace (tenants span namespaces) and
 * one simulated node of 8 B200s: admission within nominal quota and refusal with the cycle's exact numbers;
 * borrowing from the cohort, then the lender's request reclaiming exactly the borrower's most recent borrowed
 * partition; weighted fair order between three tenants waiting for capacity; per-profile caps; a namespace that
 * moves between tenants, and one that two tenants claim.
 */
import type { ClaimRef, GpuNode, GpuPartition, GpuTenant, GpuTenantSpec } from '../../../src/api/types.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { createTestNamespace, eventually, type TestNamespace, type EventLike } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';

const h = new OperatorHarness();
let client: KubeClient;
let selector: Record<string, string>;
const namespaces: TestNamespace[] = [];
const tenants: string[] = [];


beforeAll(async () => {
  await h.setUp('ten', { count: 1, gpus: 8 });
  ({ client, selector } = h);
  h.startAgent();
  await h.addOperator({}, { clusterWide: true }).start();
});

afterAll(async () => {
  for (const t of tenants) await client.delete(RESOURCES.gpuTenant, t).catch(() => undefined);
  await h.stop();
  for (const n of namespaces) await n.cleanup();
});

async function namespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const n = await createTestNamespace(prefix);
  namespaces.push(n);
  if (Object.keys(labels).length > 0) await client.mergePatch(RESOURCES.namespace, n.name, { metadata: { labels } });
  return n.name;
}

/**
 * A tenant named after the suite (tenants and cohorts are cluster-wide). Returns once the operator has seen it:
 * its status is written for its generation and names the namespaces it owns (`spec.namespaces`, or `owns` for
 * a selector), so a request created next is admitted against it.
 */
async function tenant(name: string, spec: GpuTenantSpec, owns: string[] = spec.namespaces ?? []): Promise<string> {
  const full = `${h.ns.name}-${name}`;
  const created = await client.create<GpuTenant>(RESOURCES.gpuTenant, { apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuTenant', metadata: { name: full }, spec });
  tenants.push(full);
  await eventually(async () => {
    const st = await tenantStatus(full);
    return (st?.observedGeneration ?? 0) >= (created.metadata.generation ?? 1) && owns.every((n) => st?.namespaces?.includes(n));
  }, { what: `the operator to report tenant ${full} owning ${owns.join(', ') || 'no namespace'}` });
  return full;
}

async function partition(namespace: string, name: string, profile: string, count = 1, extra: Partial<GpuPartition['spec']> = {}): Promise<void> {
  await client.create(RESOURCES.gpuPartition, {
    apiVersion: 'gpu.haein.dev/v1alpha1',
    kind: 'GpuPartition',
    metadata: { name, namespace },
    spec: { profile, count, nodeSelector: selector, ...extra },
  });
}

const get = (namespace: string, name: string) => client.get<GpuPartition>(RESOURCES.gpuPartition, name, namespace);
const quotaOf = (p: GpuPartition | undefined) => p?.status?.conditions?.find((c) => c.type === 'QuotaReserved');
const tenantStatus = async (name: string) => (await client.get<GpuTenant>(RESOURCES.gpuTenant, name))?.status;

async function ready(namespace: string, name: string): Promise<GpuPartition> {
  return eventually(async () => {
    const p = await get(namespace, name);
    return p?.status?.phase === 'Ready' ? p : undefined;
  }, { what: `${namespace}/${name} Ready` });
}

/** Waits until the partition's QuotaReserved condition has `reason`, and returns it. */
async function quotaReason(namespace: string, name: string, reason: string) {
  return eventually(async () => {
    const c = quotaOf(await get(namespace, name));
    return c?.reason === reason ? c : undefined;
  }, { what: `${namespace}/${name} QuotaReserved reason ${reason}` });
}

/** The claims on the suite's node of one partition. */
async function claimsOf(namespace: string, name: string): Promise<ClaimRef[]> {
  const gn = await client.get<GpuNode>(RESOURCES.gpuNode, h.nodeNames[0] as string);
  return ledgerEntries(gn ? [gn] : [])
    .map((e) => e.claim)
    .filter((c) => c.namespace === namespace && c.name === name);
}

async function eventsOf(namespace: string, name: string, reason: string): Promise<EventLike[]> {
  return (await client.list<EventLike>(RESOURCES.event, { namespace })).items.filter((e) => e.involvedObject.name === name && e.reason === reason);
}

/** Deletes the partitions of `nss` and waits until the node holds no claim of theirs. */
async function clear(...nss: string[]): Promise<void> {
  for (const n of nss) {
    for (const p of (await client.list<GpuPartition>(RESOURCES.gpuPartition, { namespace: n })).items) {
      await client.delete(RESOURCES.gpuPartition, p.metadata.name as string, n);
    }
  }
  await eventually(async () => {
    const gn = await client.get<GpuNode>(RESOURCES.gpuNode, h.nodeNames[0] as string);
    return !ledgerEntries(gn ? [gn] : []).some((e) => nss.includes(e.claim.namespace));
  }, { what: 'claims released' });
}

test('within nominal quota a request is admitted; beyond it, it waits with the tenant’s numbers, and is admitted once quota frees', async () => {
  const ns = await namespace('ten-solo');
  const solo = await tenant('solo', { namespaces: [ns], nominal: 2 });
  await partition(ns, 'big', '7g.180gb', 2);
  const big = await ready(ns, 'big');
  expect(quotaOf(big)).toMatchObject({ status: 'True', reason: 'Nominal', message: `2 GPU-eq charged to tenant ${solo}, within its nominal quota` });
  expect((await claimsOf(ns, 'big')).map((c) => [c.tenant, c.borrowed ?? false])).toEqual([[solo, false], [solo, false]]);

  await partition(ns, 'urgent', '1g.23gb', 1, { priority: 10 });
  await partition(ns, 'small', '1g.23gb', 1);
  const small = await quotaReason(ns, 'small', 'QuotaExceeded');
  expect(small.status).toBe('False');
  expect(small.message).toBe(`tenant ${solo} uses 2.0 of nominal 2.0 GPU-eq; this request needs 0.1 more; it has no cohort to borrow from; 1 higher-priority request waits ahead`);
  expect((await quotaReason(ns, 'urgent', 'QuotaExceeded')).message).toMatch(/; 0 higher-priority requests wait ahead$/);
  expect((await get(ns, 'small'))?.status?.phase).toBe('Pending');
  const status = await eventually(async () => {
    const s = await tenantStatus(solo);
    return s?.used === 2 && s.waiting === 2 ? s : undefined;
  }, { what: 'tenant status used 2, waiting 2' });
  expect(status).toMatchObject({ borrowed: 0, namespaces: [ns] });

  await client.delete(RESOURCES.gpuPartition, 'big', ns);
  for (const name of ['urgent', 'small']) expect(quotaOf(await ready(ns, name))?.reason).toBe('Nominal');
  await clear(ns);
});

test('a tenant borrows its cohort’s idle quota; the lender’s request then reclaims exactly the borrower’s most recent borrowed partition', async () => {
  const nsL = await namespace('ten-lend');
  const nsB = await namespace('ten-borrow');
  const cohort = `${h.ns.name}-research`;
  const lender = await tenant('lender', { namespaces: [nsL], nominal: 4, cohort });
  const borrower = await tenant('borrower', { namespaces: [nsB], nominal: 4, cohort });

  await partition(nsB, 'b1', '7g.180gb', 4);
  expect(quotaOf(await ready(nsB, 'b1'))?.reason).toBe('Nominal');
  // Created one after the other: b3 is the most recently admitted.
  await partition(nsB, 'b2', '7g.180gb', 2);
  expect(quotaOf(await ready(nsB, 'b2'))?.reason).toBe('Borrowed');
  await partition(nsB, 'b3', '7g.180gb', 2);
  expect(quotaOf(await ready(nsB, 'b3'))?.reason).toBe('Borrowed');
  expect((await claimsOf(nsB, 'b3')).every((c) => c.borrowed === true && c.tenant === borrower)).toBe(true);
  expect((await claimsOf(nsB, 'b1')).some((c) => c.borrowed)).toBe(false);
  await eventually(async () => {
    const [b, l] = [await tenantStatus(borrower), await tenantStatus(lender)];
    return b?.used === 8 && b.borrowed === 4 && l?.lent === 4 ? true : undefined;
  }, { what: 'borrower uses 8 (4 borrowed), lender lends 4' });

  // The node is full; the lender asks for 2 of its nominal 4.
  await partition(nsL, 'l1', '7g.180gb', 2);
  const l1 = await ready(nsL, 'l1');
  expect(quotaOf(l1)?.reason).toBe('Nominal');
  expect(await claimsOf(nsB, 'b3')).toEqual([]);
  expect(await claimsOf(nsB, 'b2')).toHaveLength(2);
  expect(await claimsOf(nsB, 'b1')).toHaveLength(4);
  await eventually(async () => (await get(nsB, 'b3'))?.status?.phase === 'Pending', { what: 'b3 back to Pending' });

  const taker = await eventually(async () => (await eventsOf(nsL, 'l1', 'Reclaimed')).at(0), { what: 'Reclaimed on l1' });
  expect(taker.type).toBe('Normal');
  expect(taker.message).toContain(`for tenant ${lender}: tenant ${borrower} had borrowed it for GpuPartition ${nsB}/b3`);
  const taken = await eventually(async () => (await eventsOf(nsB, 'b3', 'Reclaimed')).at(0), { what: 'Reclaimed on b3' });
  expect(taken.type).toBe('Warning');
  expect(taken.message).toContain(`was borrowed by tenant ${borrower} and is reclaimed by tenant ${lender} for GpuPartition ${nsL}/l1`);
  expect(await eventsOf(nsB, 'b2', 'Reclaimed')).toEqual([]);
  await clear(nsL, nsB);
});

test('tenants waiting in one cohort are served by weighted share: the lowest used/weight goes first', async () => {
  const [nsX, nsY, nsZ, nsFill] = [await namespace('ten-x'), await namespace('ten-y'), await namespace('ten-z'), await namespace('ten-fill')];
  const cohort = `${h.ns.name}-fair`;
  // A pool that lends all of its quota; X, Y and Z own none and borrow everything they hold.
  await tenant('pool', { namespaces: [], nominal: 8, cohort });
  await tenant('x', { namespaces: [nsX], nominal: 0, cohort, weight: 1 });
  await tenant('y', { namespaces: [nsY], nominal: 0, cohort, weight: 2 });
  await tenant('z', { namespaces: [nsZ], nominal: 0, cohort, weight: 1 });

  // Shares before: X 2/1 = 2, Y 2/2 = 1, Z 0. A filler in a namespace of no tenant takes the other 4 GPUs.
  await partition(nsX, 'x0', '7g.180gb', 2);
  await partition(nsY, 'y0', '7g.180gb', 2);
  await partition(nsFill, 'filler', '7g.180gb', 4);
  for (const [n, p] of [[nsX, 'x0'], [nsY, 'y0'], [nsFill, 'filler']] as const) await ready(n, p);
  for (const i of [1, 2]) {
    await partition(nsX, `x${i}`, '7g.180gb');
    await partition(nsY, `y${i}`, '7g.180gb');
    await partition(nsZ, `z${i}`, '7g.180gb');
  }
  for (const [n, p] of [[nsX, 'x2'], [nsY, 'y2'], [nsZ, 'z2']] as const) await quotaReason(n, p, 'QuotaAvailable');

  // 4 GPUs free up at once. Greedy by share: Z (0) → Z (1) or Y (1) → … → Z +2, Y +2 (shares 2, 2), X +0.
  await client.delete(RESOURCES.gpuPartition, 'filler', nsFill);
  for (const [n, p] of [[nsZ, 'z1'], [nsZ, 'z2'], [nsY, 'y1'], [nsY, 'y2']] as const) await ready(n, p);
  for (const p of ['x1', 'x2']) {
    expect((await get(nsX, p))?.status?.phase).toBe('Pending');
    expect(await claimsOf(nsX, p)).toEqual([]);
  }
  await clear(nsX, nsY, nsZ, nsFill);
});

test('a per-profile cap refuses the slice beyond it and leaves other profiles alone', async () => {
  const ns = await namespace('ten-cap');
  const capped = await tenant('capped', { namespaces: [ns], nominal: 4, profileLimits: [{ profile: '1g.23gb', max: 2 }] });
  await partition(ns, 'c1', '1g.23gb', 2);
  await ready(ns, 'c1');
  await partition(ns, 'c2', '1g.23gb', 1);
  const c2 = await quotaReason(ns, 'c2', 'ProfileLimitExceeded');
  expect(c2).toMatchObject({ status: 'False', message: `tenant ${capped} holds 2 of at most 2 × 1g.23gb; this request needs 1 more` });
  await partition(ns, 'c3', '2g.45gb', 1);
  expect(quotaOf(await ready(ns, 'c3'))?.reason).toBe('Nominal');
  expect(await claimsOf(ns, 'c2')).toEqual([]);
  await clear(ns);
});

test('a namespace that moves to another tenant is charged there from then on; one that two tenants claim gets no quota and both are told', async () => {
  const key = `${h.ns.name}.test/team`;
  const ns = await namespace('ten-move', { [key]: 'p' });
  const p = await tenant('p', { namespaceSelector: { matchLabels: { [key]: 'p' } }, nominal: 1 }, [ns]);
  const q = await tenant('q', { namespaceSelector: { matchLabels: { [key]: 'q' } }, nominal: 4 });
  await partition(ns, 'm1', '7g.180gb');
  await ready(ns, 'm1');
  await partition(ns, 'm2', '7g.180gb');
  expect((await quotaReason(ns, 'm2', 'QuotaExceeded')).message).toContain(`tenant ${p} uses 1.0 of nominal 1.0 GPU-eq`);

  await client.mergePatch(RESOURCES.namespace, ns, { metadata: { labels: { [key]: 'q' } } });
  expect(quotaOf(await ready(ns, 'm2'))?.message).toBe(`1 GPU-eq charged to tenant ${q}, within its nominal quota`);
  // What was admitted stays charged to the tenant that admitted it until it is released.
  expect((await claimsOf(ns, 'm1'))[0]?.tenant).toBe(p);
  await eventually(async () => {
    const [sp, sq] = [await tenantStatus(p), await tenantStatus(q)];
    return sp?.used === 1 && (sp.namespaces ?? []).length === 0 && sq?.used === 1 && sq.namespaces?.includes(ns) ? true : undefined;
  }, { what: 'p keeps m1, q holds m2 and owns the namespace' });

  // A third tenant names the namespace too: neither gets it.
  // The tenants report it once the operator has seen r; a request created before that is admitted as before.
  const r = await tenant('r', { namespaces: [ns], nominal: 4 });
  for (const t of [q, r]) {
    const s = await eventually(async () => {
      const st = await tenantStatus(t);
      return st?.conflicts?.length ? st : undefined;
    }, { what: `${t} reports the conflict` });
    expect(s.conflicts).toEqual([{ namespace: ns, tenants: [q, r].sort() }]);
  }
  await partition(ns, 'm3', '7g.180gb');
  const m3 = await quotaReason(ns, 'm3', 'TenantConflict');
  expect(m3.message).toBe(`namespace ${ns} is claimed by tenants ${[q, r].sort().join(' and ')}; it gets no quota until only one claims it`);
  await clear(ns);
});
