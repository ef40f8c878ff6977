import { describe, expect, it } from '@jest/globals';
import type { ClaimRef } from '../../src/api/types.js';
import type { LedgerEntry } from '../../src/ledger/claims.js';
import { allocationId, MeteringBook } from './metering.js';

const T0 = Date.parse('2026-03-02T23:00:00.000Z');
const entry = (name: string, at: number, extra: Partial<LedgerEntry> = {}): LedgerEntry => {
  const claim: ClaimRef = { kind: 'GpuPartition', namespace: 'ns', name, uid: `u-${name}`, slot: 0, priority: 0, preemptible: false, tenant: 't', allocatedAt: new Date(at).toISOString() };
  return { node: 'n1', gpuIndex: 0, claim, profile: '3g.90gb', start: 0, ...extra };
};

describe('MeteringBook', () => {
  it('an allocation settled until its release is metered exactly, across midnight, and the tenant record agrees', () => {
    const book = new MeteringBook();
    const a = entry('a', T0 + 1234);
    const b = entry('b', T0 + 5000, { gpuIndex: 1, profile: undefined, start: undefined });
    const live = [allocationId(a), allocationId(b)];
    for (let t = T0 + 60_000; t <= T0 + 2 * 3600_000; t += 60_000) book.settleTenant('t', [a, b], t, live);
    book.settleTenant('t', [a, b], T0 + 2 * 3600_000 + 789, live);
    const end = T0 + 2 * 3600_000 + 789;
    expect(book.close(allocationId(a))).toBe(end - (T0 + 1234));
    expect(book.close(allocationId(b))).toBe(end - (T0 + 5000));
    const rows = book.tenantTotals('t');
    expect(rows.get('ns\u00003g.90gb')).toBe(end - (T0 + 1234));
    expect(rows.get('ns\u0000whole')).toBe(end - (T0 + 5000));
  });

  it('a stretch during which the claim was missing from the ledger is not metered (the check can fail)', () => {
    const book = new MeteringBook();
    const a = entry('a', T0);
    const id = allocationId(a);
    book.settleTenant('t', [a], T0 + 60_000, [id]);
    // The claim left the ledger without a settlement through its release, then the tenant was settled again.
    book.settleTenant('t', [], T0 + 120_000, [id]);
    book.settleTenant('t', [a], T0 + 180_000, [id]);
    expect(book.close(id)).toBe(120_000);
    expect(book.tenantTotals('t').get('ns\u00003g.90gb')).toBe(120_000);
    expect(book.settlements).toBe(3);
  });

  it('an allocation never settled is metered 0; the entries of one claim on several GPUs are told apart', () => {
    const book = new MeteringBook();
    expect(book.close('nothing')).toBe(0);
    const w0 = entry('w', T0, { profile: undefined, start: undefined, gpuIndex: 0 });
    const w1 = { ...w0, gpuIndex: 1 };
    expect(allocationId(w0)).not.toBe(allocationId(w1));
    book.settleTenant('t', [w0, w1], T0 + 10_000, [allocationId(w0), allocationId(w1)]);
    expect(book.close(allocationId(w0)) + book.close(allocationId(w1))).toBe(20_000);
    expect(book.tenants()).toEqual(['t']);
  });
});
