/**
 * Reads the kube-apiserver audit log of the chaos run (hack/chaos.sh logs every write of the operator replicas,
 * each replica under a client identity of its own) to prove the fencing of stale leaders:
 * - the Lease holder at any moment is the replica whose Lease write succeeded last (replicas only write the
 *   Lease to acquire or renew it; a SIGKILLed one never releases it);
 * - every accepted write of a replica must come from the holder at the moment the API server received it
 *   (`stale-ledger-write` for a GpuNode spec, `stale-write` for anything else);
 * - for a replica woken from SIGSTOP, the writes it attempted, the ones refused (409) and the ones accepted.
 * Pure.
 */
import type { Found } from './invariants.js';

/** One audited request (ResponseComplete stage). */
export interface AuditWrite {
  /** When the API server received the request (ms since the epoch). */
  at: number;
  user: string;
  verb: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  code: number;
}

/** Parses audit log lines (JSON, one event each); other stages and unparsable lines are skipped. */
export function parseAudit(lines: Iterable<string>): AuditWrite[] {
  const out: AuditWrite[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    let e: {
      stage?: string;
      requestReceivedTimestamp?: string;
      user?: { username?: string };
      verb?: string;
      objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
      responseStatus?: { code?: number };
    };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue; // a line cut by a kube-apiserver SIGKILL
    }
    if (e.stage !== 'ResponseComplete' || !e.requestReceivedTimestamp) continue;
    out.push({
      at: Date.parse(e.requestReceivedTimestamp),
      user: e.user?.username ?? '',
      verb: e.verb ?? '',
      resource: e.objectRef?.resource ?? '',
      subresource: e.objectRef?.subresource ?? '',
      namespace: e.objectRef?.namespace ?? '',
      name: e.objectRef?.name ?? '',
      code: e.responseStatus?.code ?? 0,
    });
  }
  return out.sort((a, b) => a.at - b.at);
}

const ok = (w: AuditWrite): boolean => w.code >= 200 && w.code < 300;
const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** A write of the allocation ledger: a GpuNode changed other than through its status. */
export function isLedgerWrite(w: AuditWrite): boolean {
  return w.resource === 'gpunodes' && w.subresource === '' && (w.verb === 'update' || w.verb === 'patch');
}

/** A write of the operators' Lease. */
function isLeaseWrite(w: AuditWrite, lease: { namespace: string; name: string }): boolean {
  return w.resource === 'leases' && w.namespace === lease.namespace && w.name === lease.name && (w.verb === 'create' || w.verb === 'update');
}

/**
 * Accepted writes of an operator replica (one of `replicas`) that did not hold the Lease when the API server
 * received them: `stale-ledger-write` for the ledger, `stale-write` for anything else (status, pods, Services,
 * Events). Lease writes themselves are how a holder is made and are not counted.
 */
export function staleWrites(writes: readonly AuditWrite[], lease: { namespace: string; name: string }, replicas: ReadonlySet<string>): Found[] {
  const out: Found[] = [];
  let holder = '';
  for (const w of writes) {
    if (!ok(w)) continue;
    if (isLeaseWrite(w, lease)) {
      holder = w.user;
      continue;
    }
    if (!MUTATING.has(w.verb) || !replicas.has(w.user) || w.user === holder) continue;
    const kind = isLedgerWrite(w) ? 'stale-ledger-write' : 'stale-write';
    const what = `${w.resource}${w.subresource ? `/${w.subresource}` : ''} ${w.namespace ? `${w.namespace}/` : ''}${w.name}`;
    out.push({
      kind,
      key: `${kind}:${w.user}:${w.at}:${what}`,
      detail: `${w.user} wrote ${what} (${w.verb} ${w.code}) at ${new Date(w.at).toISOString()} while ${holder || 'nobody'} held the Lease`,
    });
  }
  return out;
}

/** What one replica tried to write in a window, e.g. after it woke from SIGSTOP. */
export interface WindowWrites {
  attempted: number;
  /** Refused with 409 (a stale resourceVersion: the fencing at work). */
  refused: number;
  /** Refused otherwise (4xx/5xx other than 409). */
  failed: number;
  acceptedLedger: number;
  /** Accepted writes of anything else, per resource[/subresource]. */
  acceptedOther: Record<string, number>;
  /** Refused ledger writes (409 on GpuNodes). */
  refusedLedger: number;
  /** The accepted writes other than Events, as `HH:MM:SS.mmm verb resource[/sub] namespace/name` (at most 20). */
  accepted: string[];
}

/** The writes `user` made with `from` ≤ received < `to`. */
export function writesInWindow(writes: readonly AuditWrite[], user: string, from: number, to: number): WindowWrites {
  const out: WindowWrites = { attempted: 0, refused: 0, failed: 0, acceptedLedger: 0, acceptedOther: {}, refusedLedger: 0, accepted: [] };
  for (const w of writes) {
    if (w.user !== user || w.at < from || w.at >= to || !MUTATING.has(w.verb)) continue;
    out.attempted++;
    if (ok(w)) {
      if (w.resource !== 'events' && out.accepted.length < 20) {
        out.accepted.push(`${new Date(w.at).toISOString().slice(11, 23)} ${w.verb} ${w.resource}${w.subresource ? `/${w.subresource}` : ''} ${w.namespace ? `${w.namespace}/` : ''}${w.name}`);
      }
      if (isLedgerWrite(w)) out.acceptedLedger++;
      else {
        const k = `${w.verb} ${w.resource}${w.subresource ? `/${w.subresource}` : ''}`;
        out.acceptedOther[k] = (out.acceptedOther[k] ?? 0) + 1;
      }
    } else if (w.code === 409) {
      out.refused++;
      if (isLedgerWrite(w)) out.refusedLedger++;
    } else out.failed++;
  }
  return out;
}

/** Moments a replica other than `user` took the Lease (successful Lease writes by others), in `from`…`to`. */
export function takeoversBy(writes: readonly AuditWrite[], lease: { namespace: string; name: string }, notUser: string, from: number, to: number): number[] {
  return writes.filter((w) => ok(w) && isLeaseWrite(w, lease) && w.user !== notUser && w.at >= from && w.at < to).map((w) => w.at);
}
