/**
 * The quota book for tenants outside any cohort and tenants the directory no longer has (a GpuTenant being
 * deleted whose claims are still in the ledger): tenants without a cohort are not a cohort of their own, so
 * they neither lend, borrow from each other, nor reclaim from each other; a tenant that is gone is never within
 * quota and its share is its usage at weight 1. Also: a cohort with nothing unused lends 0 (not NaN), a charge
 * of several slices of one profile counts each of them, and the refusal message of a namespace in no tenant.
 * Found by mutation testing (docs/reliability.md, "Ledger part, narrowed runs").
 */
import type { GpuTenant } from '../../../src/api/types.js';
import { book, gpus, tenant, whole } from './quota-book-fixtures.js';

describe('QuotaBook: tenants without a cohort', () => {
  // Two tenants outside any cohort: `busy` holds 5 of its 2, `idle` holds nothing of its 3.
  const tenants = [tenant('busy', { nominal: 2 }), tenant('idle', { nominal: 3 }), tenant('member', { nominal: 1, cohort: 'c' })];
  const b = () => book(tenants, [...whole('busy', 5)]);

  test('have nothing lent to them, even when other tenants without a cohort are idle', () => {
    // `part` uses 1 of its 2, `idle` none of its 3: together they would have 4 idle, yet neither lends to the other.
    const quiet = book([tenant('part', { nominal: 2 }), tenant('idle', { nominal: 3 })], whole('part', 1));
    expect(quiet.lendableToTenant('part')).toBe(0);
    expect(quiet.lendableToTenant('idle')).toBe(0);
    expect(quiet.admit('part', gpus(2))).toMatchObject({ ok: false, reason: 'QuotaExceeded' });
    expect(b().lendableToTenant('busy')).toBe(0);
  });

  test('have no peers to reclaim from, even when another tenant without a cohort is over its nominal quota', () => {
    expect(b().overNominalPeers('idle')).toEqual([]);
  });

  test('lend nothing to tenants without a cohort that are over their nominal quota', () => {
    expect(b().borrowedAndLent('idle')).toEqual({ borrowed: 0, lent: 0 });
    expect(b().borrowedAndLent('busy')).toEqual({ borrowed: 3, lent: 0 });
  });
});

describe('QuotaBook: a tenant the directory no longer has', () => {
  // `gone` is being deleted: the directory ignores it, but the ledger still has its claims.
  const gone: GpuTenant = { ...tenant('gone', { nominal: 4, weight: 4, cohort: 'c' }), metadata: { name: 'gone', deletionTimestamp: '2026-12-01T00:00:00Z' } };
  const b = () => book([gone, tenant('lender', { nominal: 4, cohort: 'c' })], whole('gone', 2));

  test('is never within its nominal quota, and has nothing to borrow', () => {
    expect(b().withinNominal('gone', gpus(1))).toBe(false);
    expect(b().withinNominal('ghost', gpus(0))).toBe(false);
    expect(b().lendableToTenant('gone')).toBe(0);
    expect(b().lendableToTenant('ghost')).toBe(0);
  });

  test('keeps its usage, and its share is that usage at weight 1', () => {
    expect(b().usage('gone').used).toBe(2);
    expect(b().share('gone')).toBe(2);
    expect(b().share('ghost')).toBe(0);
  });
});

describe('QuotaBook: accounting corners', () => {
  test('a cohort whose members use all their lendable quota lends 0, whoever borrows', () => {
    const tenants = [tenant('a', { nominal: 2, cohort: 'c' }), tenant('b', { nominal: 2, cohort: 'c' })];
    const b = book(tenants, [...whole('a', 3), ...whole('b', 2)]);
    expect(b.borrowedAndLent('b')).toEqual({ borrowed: 0, lent: 0 });
    expect(b.borrowedAndLent('a')).toEqual({ borrowed: 1, lent: 0 });
  });

  test('a charge of several slices of one profile counts every slice and its GPU-equivalents', () => {
    const b = book([tenant('acme', { nominal: 8 })]);
    b.charge('acme', { gpuEq: 6 / 7, byProfile: new Map([['3g.90gb', 2]]) });
    b.charge('acme', gpus(3));
    const u = b.usage('acme');
    expect(Object.fromEntries(u.byProfile)).toEqual({ '3g.90gb': 2, whole: 3 });
    expect(u.eqByProfile.get('3g.90gb')).toBeCloseTo(6 / 7, 12);
    expect(u.eqByProfile.get('whole')).toBe(3);
    expect(u.used).toBeCloseTo(3 + 6 / 7, 12);
  });

  test('a namespace in no tenant, refused by policy, is told why', () => {
    expect(book([tenant('a', { nominal: 1 })], [], 'refuse').admit('elsewhere', gpus(1))).toEqual({
      ok: false,
      tenant: undefined,
      reason: 'NoTenant',
      message: 'namespace elsewhere belongs to no GpuTenant, and namespaces without a tenant get no GPUs on this cluster',
    });
  });
});
