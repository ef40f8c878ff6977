import type { GpuTenant } from '../../../src/api/types.js';
import type { LedgerEntry } from '../../../src/ledger/claims.js';
import { QuotaBook, type QuotaCost } from '../../../src/tenancy/quota-book.js';
import { TenantDirectory } from '../../../src/tenancy/tenant-resolution.js';

const tenant = (name: string, spec: Partial<GpuTenant['spec']>): GpuTenant => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuTenant',
  metadata: { name },
  spec: { nominal: 0, namespaces: [name], ...spec },
});

/** `n` whole GPUs held by tenant `t` (namespace = tenant name). */
const whole = (t: string, n: number, borrowed = false): LedgerEntry[] =>
  [...Array(n).keys()].map((i) => ({ node: 'n', gpuIndex: i, claim: { kind: 'TrainingJob', namespace: t, name: `${t}-${i}`, uid: 'u', slot: 0, priority: 0, preemptible: false, tenant: t, ...(borrowed ? { borrowed } : {}) } }));
const slices = (t: string, profile: string, n: number): LedgerEntry[] =>
  [...Array(n).keys()].map((i) => ({ node: 'n', gpuIndex: 0, profile, start: i, claim: { kind: 'GpuPartition', namespace: t, name: `${t}-${i}`, uid: 'u', slot: 0, priority: 0, preemptible: false, tenant: t } }));
const gpus = (n: number): QuotaCost => ({ gpuEq: n, byProfile: new Map([['whole', n]]) });
const book = (tenants: GpuTenant[], entries: LedgerEntry[] = [], policy: 'allow' | 'refuse' = 'allow') =>
  new QuotaBook(new TenantDirectory(tenants, tenants.map((t) => ({ name: t.metadata.name as string }))), entries, policy);

describe('QuotaBook admission', () => {
  test('within nominal: admitted, not borrowed; beyond it without a cohort: refused with the numbers', () => {
    const b = book([tenant('acme', { nominal: 6 })], whole('acme', 5));
    expect(b.admit('acme', gpus(1))).toEqual({ ok: true, tenant: 'acme', borrowed: false });
    const no = b.admit('acme', gpus(2));
    expect(no).toMatchObject({ ok: false, reason: 'QuotaExceeded' });
    expect(no.ok ? '' : no.message).toBe('tenant acme uses 5.0 of nominal 6.0 GPU-eq; this request needs 2.0 more; it has no cohort to borrow from');
  });

  test('borrowing takes idle quota of the cohort, up to the borrowing limit; the message says what the cohort has idle', () => {
    const tenants = [tenant('acme', { nominal: 6, cohort: 'research', borrowingLimit: 3 }), tenant('globex', { nominal: 10, cohort: 'research' })];
    const b = book(tenants, [...whole('acme', 6), ...whole('globex', 4)]);
    expect(b.admit('acme', gpus(3))).toEqual({ ok: true, tenant: 'acme', borrowed: true });
    const over = b.admit('acme', gpus(4));
    expect(over).toMatchObject({ ok: false, reason: 'QuotaExceeded' });
    expect(over.ok ? '' : over.message).toBe('tenant acme uses 6.0 of nominal 6.0 GPU-eq; this request needs 4.0 more; cohort research has 6.0 idle to lend (borrowing limit 3.0)');
  });

  test('the cohort pool is shared: what one member borrowed is not lent again', () => {
    const tenants = [tenant('a', { nominal: 4, cohort: 'c' }), tenant('b', { nominal: 4, cohort: 'c' }), tenant('lender', { nominal: 4, cohort: 'c' })];
    const b = book(tenants, [...whole('a', 7), ...whole('b', 4)]);
    // The lender's 4 idle: a borrowed 3 of them, 1 is left.
    expect(b.lendableToTenant('b')).toBeCloseTo(1);
    expect(b.admit('b', gpus(1))).toMatchObject({ ok: true, borrowed: true });
    expect(b.admit('b', gpus(2))).toMatchObject({ ok: false });
    // Within its nominal the lender is always admitted (its borrowed quota is reclaimed if the cluster is short).
    expect(b.admit('lender', gpus(4))).toMatchObject({ ok: true, borrowed: false });
    expect(b.overNominalPeers('lender')).toEqual(['a']);
  });

  test('a lending limit keeps part of the nominal quota for its owner', () => {
    const tenants = [tenant('a', { nominal: 2, cohort: 'c' }), tenant('lender', { nominal: 8, cohort: 'c', lendingLimit: 3 })];
    const b = book(tenants, whole('a', 2));
    expect(b.admit('a', gpus(3))).toMatchObject({ ok: true, borrowed: true });
    expect(b.admit('a', gpus(4))).toMatchObject({ ok: false, reason: 'QuotaExceeded' });
  });

  test('per-profile caps count slices of the base profile', () => {
    const b = book([tenant('acme', { nominal: 10, profileLimits: [{ profile: '1g.23gb', max: 3 }] })], slices('acme', '1g.23gb+me', 2));
    expect(b.admit('acme', { gpuEq: 1 / 7, byProfile: new Map([['1g.23gb', 1]]) })).toMatchObject({ ok: true });
    const no = b.admit('acme', { gpuEq: 2 / 7, byProfile: new Map([['1g.23gb', 2]]) });
    expect(no).toMatchObject({ ok: false, reason: 'ProfileLimitExceeded' });
    expect(no.ok ? '' : no.message).toBe('tenant acme holds 2 of at most 3 × 1g.23gb; this request needs 2 more');
  });

  test('namespaces in no tenant: allowed or refused by policy; a namespace of two tenants is refused', () => {
    const tenants = [tenant('a', { nominal: 1, namespaces: ['shared'] }), tenant('b', { nominal: 1, namespaces: ['shared'] })];
    expect(book(tenants).admit('elsewhere', gpus(1))).toEqual({ ok: true, tenant: undefined, borrowed: false });
    expect(book(tenants, [], 'refuse').admit('elsewhere', gpus(1))).toMatchObject({ ok: false, reason: 'NoTenant' });
    expect(book(tenants).admit('shared', gpus(1))).toMatchObject({ ok: false, reason: 'TenantConflict', message: expect.stringContaining('a and b') });
  });

  test('charge, refund, shares, borrowed and lent', () => {
    const tenants = [tenant('a', { nominal: 4, cohort: 'c', weight: 2 }), tenant('lender', { nominal: 4, cohort: 'c' })];
    const held = whole('a', 6, true);
    const b = book(tenants, held);
    expect(b.share('a')).toBe(3);
    expect(b.borrowedAndLent('a')).toEqual({ borrowed: 2, lent: 0 });
    expect(b.borrowedAndLent('lender')).toEqual({ borrowed: 0, lent: 2 });
    b.refund(held.slice(0, 2));
    expect(b.usage('a').used).toBe(4);
    b.charge('lender', gpus(1));
    expect(b.usage('lender').used).toBe(1);
    expect(b.borrowedAndLent('lender').lent).toBe(0);
  });

  test('a book built from the ledger holds what charging its claims one by one would', () => {
    const tenants = [tenant('a', { nominal: 4 }), tenant('b', { nominal: 4 })];
    const entries = [...whole('a', 2), ...slices('a', '3g.90gb', 1), ...slices('b', '1g.23gb+me', 2), ...slices('b', '1g.23gb', 1)];
    const built = book(tenants, entries);
    const charged = book(tenants);
    for (const e of entries) charged.charge(e.claim.tenant, { gpuEq: e.profile ? Number(/^(\d+)g/.exec(e.profile)?.[1]) / 7 : 1, byProfile: new Map([[e.profile?.replace(/\+me$/, '') ?? 'whole', 1]]) });
    for (const t of ['a', 'b']) expect(built.usage(t)).toEqual(charged.usage(t));
    expect(built.usage('b').byProfile).toEqual(new Map([['1g.23gb', 3]]));
    expect(built.usage('a').used).toBeCloseTo(2 + 3 / 7, 12);
  });
});
