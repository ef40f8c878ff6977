/**
 * The `QuotaReserved` condition of a partition or job, where tenant quotas apply: True while it holds claims
 * charged to a tenant (reason Nominal or Borrowed) or waits only for capacity (QuotaAvailable); False with the
 * cycle's numbers when its tenant's quota does not cover it. Absent where no quota applies. Pure.
 */
import { QUOTA_REASONS, removeCondition, setCondition, type DesiredCondition } from '../../api/conditions.js';
import type { Condition } from '../../api/types.js';
import type { LedgerEntry } from '../../ledger/claims.js';
import { gpuEquivalentsOf, roundGpuEq } from '../../tenancy/gpu-equivalents.js';
import type { VerdictView } from './admission-port.js';

/** The QuotaReserved condition the object should carry, or undefined for none. */
export function quotaCondition(type: string, held: LedgerEntry[], verdict: VerdictView | undefined): DesiredCondition | undefined {
  const tenant = held.find((e) => e.claim.tenant)?.claim.tenant;
  if (tenant) {
    const eq = roundGpuEq(held.reduce((s, e) => s + gpuEquivalentsOf(e.profile), 0));
    const borrowed = held.some((e) => e.claim.borrowed);
    return {
      type,
      status: 'True',
      reason: borrowed ? QUOTA_REASONS.borrowed : QUOTA_REASONS.nominal,
      message: `${eq} GPU-eq charged to tenant ${tenant}${borrowed ? ', partly borrowed from its cohort (reclaimed first when a lender needs it back)' : ', within its nominal quota'}`,
    };
  }
  const q = verdict?.quota;
  if (!q) return undefined;
  return { type, status: q.reserved ? 'True' : 'False', reason: q.reason, message: q.message };
}

/** `conditions` with the QuotaReserved condition set as wanted, or removed when none applies. */
export function withQuotaCondition(conditions: Condition[] | undefined, type: string, want: DesiredCondition | undefined, generation: number | undefined, now: Date): Condition[] {
  return want ? setCondition(conditions, want, generation, now) : removeCondition(conditions, type);
}
