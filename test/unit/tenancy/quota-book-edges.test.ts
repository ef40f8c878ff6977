/**
 * The quota book at its limits: exactly at nominal, at the borrowing and profile limits, a tenant's unlent part,
 * lending split between several lenders, refunds below zero. (The common cases: quota-book.test.ts.)
 */
import type { LedgerEntry } from '../../../src/ledger/claims.js';
import { addCosts, entryCost, type QuotaCost } from '../../../src/tenancy/quota-book.js';
import { book, gpus, tenant, whole } from './quota-book-fixtures.js';

const slices = (t: string | undefined, profile: string, n: number): LedgerEntry[] =>
  [...Array(n).keys()].map((i) => ({ node: 'n', gpuIndex: 0, profile, start: i, claim: { kind: 'GpuPartition', namespace: t ?? 'x', name: `s-${i}`, uid: 'u', slot: 0, priority: 0, preemptible: false, ...(t ? { tenant: t } : {}) } }));
const oneG = (n: number): QuotaCost => ({ gpuEq: n / 7, byProfile: new Map([['1g.23gb', n]]) });

describe('QuotaBook limits', () => {
  test('a request that fills the nominal quota exactly, in sevenths, is admitted without borrowing', () => {
    const b = book([tenant('acme', { nominal: 1 })], slices('acme', '1g.23gb', 6));
    expect(b.admit('acme', oneG(1))).toEqual({ ok: true, tenant: 'acme', borrowed: false });
    expect(b.withinNominal('acme', oneG(1))).toBe(true);
    expect(b.admit('acme', oneG(2))).toMatchObject({ ok: false, reason: 'QuotaExceeded' });
    expect(b.withinNominal('acme', oneG(2))).toBe(false);
  });

  test('borrowing up to exactly the borrowing limit is admitted, a seventh more is not', () => {
    const tenants = [tenant('acme', { nominal: 2, cohort: 'c', borrowingLimit: 1 }), tenant('lender', { nominal: 8, cohort: 'c' })];
    const b = book(tenants, whole('acme', 2));
    expect(b.admit('acme', gpus(1))).toEqual({ ok: true, tenant: 'acme', borrowed: true });
    expect(b.admit('acme', oneG(8))).toMatchObject({ ok: false, reason: 'QuotaExceeded' });
  });

  test('a lending limit above the nominal quota lends no more than the nominal quota', () => {
    const tenants = [tenant('b', { nominal: 0, cohort: 'c' }), tenant('lender', { nominal: 2, cohort: 'c', lendingLimit: 5 })];
    const b = book(tenants);
    expect(b.lendableToTenant('b')).toBe(2);
    expect(b.admit('b', gpus(2))).toMatchObject({ ok: true, borrowed: true });
    expect(b.admit('b', gpus(3))).toMatchObject({ ok: false, reason: 'QuotaExceeded' });
  });

  test("a borrower's use below its own unlent part takes nothing from the pool", () => {
    // t keeps 3 of its 4 for itself (lends 1); it uses 2. Going to 5 uses 2 beyond its unlent 3: its own 1 lendable
    // and the lender's 1. Going to 6 needs 3 of the pool's 2.
    const tenants = [tenant('t', { nominal: 4, lendingLimit: 1, cohort: 'c' }), tenant('lender', { nominal: 1, cohort: 'c' })];
    const b = book(tenants, whole('t', 2));
    expect(b.admit('t', gpus(3))).toEqual({ ok: true, tenant: 't', borrowed: true });
    expect(b.admit('t', gpus(4))).toMatchObject({ ok: false, reason: 'QuotaExceeded' });
    expect(b.lendableToTenant('t')).toBe(1);
  });

  test('what members use beyond their unlent part is taken from the pool, and what they use within it is not', () => {
    // The lender keeps 3 of 4 and uses 3: the pool (its 1 + the borrower's 0) is whole.
    const tenants = [tenant('b', { nominal: 0, cohort: 'c' }), tenant('lender', { nominal: 4, lendingLimit: 1, cohort: 'c' })];
    expect(book(tenants, whole('lender', 3)).lendableToTenant('b')).toBe(1);
    expect(book(tenants, whole('lender', 3)).admit('b', gpus(1))).toMatchObject({ ok: true, borrowed: true });
    // Using its 4th, it uses its lendable one itself.
    expect(book(tenants, whole('lender', 4)).lendableToTenant('b')).toBe(0);
    expect(book(tenants, whole('lender', 4)).admit('b', gpus(1))).toMatchObject({ ok: false });
  });

  test('per-profile caps: exactly at the cap is admitted; a cap given with +me counts the base profile; other profiles are not capped', () => {
    const b = book([tenant('acme', { nominal: 10, profileLimits: [{ profile: '1g.23gb+me', max: 3 }] })], slices('acme', '1g.23gb', 2));
    expect(b.admit('acme', oneG(1))).toMatchObject({ ok: true });
    expect(b.admit('acme', oneG(2))).toMatchObject({ ok: false, reason: 'ProfileLimitExceeded' });
    expect(b.admit('acme', { gpuEq: 3 / 7, byProfile: new Map([['3g.90gb', 5]]) })).toMatchObject({ ok: true });
    expect(b.admit('acme', gpus(3))).toMatchObject({ ok: true });
  });

  test('a tenant with a cohort and no borrowing limit borrows all the pool has, and its message names no limit', () => {
    const tenants = [tenant('acme', { nominal: 1, cohort: 'c' }), tenant('lender', { nominal: 3, cohort: 'c' })];
    const b = book(tenants, whole('acme', 1));
    expect(b.admit('acme', gpus(3))).toMatchObject({ ok: true, borrowed: true });
    expect(b.describe('acme', gpus(4))).toBe('tenant acme uses 1.0 of nominal 1.0 GPU-eq; this request needs 4.0 more; cohort c has 3.0 idle to lend');
    expect(b.describe('ghost', gpus(1))).toBe('tenant ghost is unknown');
  });
});

describe('QuotaBook accounting', () => {
  test('lent quota is split between lenders in proportion to what each has unused', () => {
    const tenants = [tenant('b', { nominal: 0, cohort: 'c' }), tenant('l1', { nominal: 4, cohort: 'c' }), tenant('l2', { nominal: 2, cohort: 'c' }), tenant('l3', { nominal: 4, lendingLimit: 1, cohort: 'c' })];
    // l1 uses 1 (3 unused), l2 none (2), l3 uses 3 of its unlent 3 (its 1 lendable unused): 6 unused, b borrows 3.
    const b = book(tenants, [...whole('b', 3), ...whole('l1', 1), ...whole('l3', 3)]);
    expect(b.borrowedAndLent('b')).toEqual({ borrowed: 3, lent: 0 });
    expect(b.borrowedAndLent('l1')).toEqual({ borrowed: 0, lent: 1.5 });
    expect(b.borrowedAndLent('l2')).toEqual({ borrowed: 0, lent: 1 });
    expect(b.borrowedAndLent('l3')).toEqual({ borrowed: 0, lent: 0.5 });
    expect(b.borrowedAndLent('ghost')).toEqual({ borrowed: 0, lent: 0 });
  });

  test('a lender never lends more than it has unused, and a tenant without a cohort lends nothing', () => {
    const tenants = [tenant('b', { nominal: 0, cohort: 'c' }), tenant('l', { nominal: 2, cohort: 'c' }), tenant('solo', { nominal: 1 })];
    // Over-borrowed (admitted when the lender had more idle): b uses 5, the lender has 2 unused.
    const b = book(tenants, [...whole('b', 5), ...whole('solo', 3)]);
    expect(b.borrowedAndLent('l')).toEqual({ borrowed: 0, lent: 2 });
    expect(b.borrowedAndLent('solo')).toEqual({ borrowed: 2, lent: 0 });
    expect(b.lendableToTenant('solo')).toBe(0);
    expect(b.overNominalPeers('solo')).toEqual([]);
  });

  test('peers over nominal: the tenant itself and a peer exactly at nominal are not', () => {
    const tenants = [tenant('a', { nominal: 2, cohort: 'c' }), tenant('b', { nominal: 2, cohort: 'c' }), tenant('d', { nominal: 1, cohort: 'c' }), tenant('other', { nominal: 0, cohort: 'x' })];
    const b = book(tenants, [...whole('a', 3), ...whole('b', 2), ...whole('d', 2), ...whole('other', 1)]);
    expect(b.overNominalPeers('a')).toEqual(['d']);
    expect(b.overNominalPeers('b')).toEqual(['a', 'd']);
    expect(b.overNominalPeers('ghost')).toEqual([]);
  });

  test('usage counts slices by base profile and GPU-equivalents; refunds never go below zero; claims without a tenant are not charged', () => {
    const b = book([tenant('acme', { nominal: 4, weight: 4 })], [...slices('acme', '1g.23gb+me', 2), ...slices('acme', '3g.90gb', 1), ...whole('acme', 1), ...slices(undefined, '1g.23gb', 3)]);
    const u = b.usage('acme');
    expect(u.used).toBeCloseTo(2 / 7 + 3 / 7 + 1);
    expect(Object.fromEntries(u.byProfile)).toEqual({ '1g.23gb': 2, '3g.90gb': 1, whole: 1 });
    expect(u.eqByProfile.get('1g.23gb')).toBeCloseTo(2 / 7);
    expect(u.eqByProfile.get('3g.90gb')).toBeCloseTo(3 / 7);
    expect(u.eqByProfile.get('whole')).toBe(1);
    expect(b.share('acme')).toBeCloseTo(u.used / 4);
    expect(b.share(undefined)).toBe(0);
    b.refund([...whole('acme', 3), ...slices('acme', '3g.90gb', 2)]);
    expect(b.usage('acme').used).toBe(0);
    expect(Object.fromEntries(b.usage('acme').byProfile)).toEqual({ '1g.23gb': 2, '3g.90gb': 0, whole: 0 });
    expect(b.usage('acme').eqByProfile.get('whole')).toBe(0);
    b.charge(undefined, gpus(2));
    expect(b.usage('nobody')).toEqual({ used: 0, byProfile: new Map(), eqByProfile: new Map() });
  });

  test('a tenant with weight 0 is served as if it held a great deal; no weight counts as 1', () => {
    const b = book([tenant('zero', { nominal: 4, weight: 0 }), tenant('plain', { nominal: 4 })], [...whole('zero', 1), ...whole('plain', 3)]);
    expect(b.share('zero')).toBeGreaterThan(1e5);
    expect(b.share('plain')).toBe(3);
  });

  test('tenancy is active with a tenant, or when namespaces without one are refused', () => {
    expect(book([]).active()).toBe(false);
    expect(book([], [], 'refuse').active()).toBe(true);
    expect(book([tenant('a', { nominal: 1 })]).active()).toBe(true);
    expect(book([tenant('a', { nominal: 1 })]).tenantOf('a')).toEqual({ kind: 'tenant', tenant: 'a' });
  });

  test('costs add up by GPU-equivalents and profile', () => {
    const [slice] = slices('a', '3g.90gb+me', 1);
    const [gpu] = whole('a', 1);
    expect(entryCost(slice!)).toEqual({ gpuEq: 3 / 7, byProfile: new Map([['3g.90gb', 1]]) });
    const sum = addCosts(entryCost(slice!), entryCost(gpu!), entryCost(slice!));
    expect(sum.gpuEq).toBeCloseTo(6 / 7 + 1);
    expect(Object.fromEntries(sum.byProfile)).toEqual({ '3g.90gb': 2, whole: 1 });
    expect(addCosts()).toEqual({ gpuEq: 0, byProfile: new Map() });
  });
});
