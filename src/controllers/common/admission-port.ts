/** What a claimant reconciler needs of the admission cycle and of the ledger. */
import type { GpuNode } from '../../api/types.js';
import type { ClaimantId, ClaimantKind, LedgerEntry } from '../../ledger/claims.js';
import type { Demand } from '../../scheduler/demand.js';

/** The cycle's last word on a waiting claimant. */
export interface VerdictView {
  uid: string;
  generation: number;
  code: string;
  message: string;
  /** What tenancy said: reserved (only capacity lacks) or why not. Absent where no quota applies. */
  quota?: { reserved: boolean; tenant?: string; reason: string; message: string };
}

/** The admission cycle as a reconciler uses it (see `AdmissionCycle`). */
export interface AdmissionPort {
  submit(d: Demand): void;
  withdraw(kind: ClaimantKind, namespace: string, name: string): void;
  verdict(kind: ClaimantKind, namespace: string, name: string): VerdictView | undefined;
}

/** The ledger as a reconciler reads it: the assumed ledger (cache plus this replica's unobserved writes). */
export interface LedgerView {
  entriesOf(who: ClaimantId): LedgerEntry[];
  get(name: string): GpuNode | undefined;
  list(): GpuNode[];
}
