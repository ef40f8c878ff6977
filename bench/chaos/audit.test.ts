import { describe, expect, it } from '@jest/globals';
import { parseAudit, staleWrites, takeoversBy, writesInWindow } from './audit.js';

const LEASE = { namespace: 'chaos', name: 'haein-chaos' };
const ev = (ms: number, user: string, verb: string, resource: string, code: number, extra: { subresource?: string; namespace?: string; name?: string } = {}): string =>
  JSON.stringify({
    stage: 'ResponseComplete',
    requestReceivedTimestamp: new Date(ms).toISOString(),
    user: { username: user },
    verb,
    objectRef: { resource, ...(extra.subresource ? { subresource: extra.subresource } : {}), namespace: extra.namespace ?? (resource === 'leases' ? 'chaos' : ''), name: extra.name ?? (resource === 'leases' ? 'haein-chaos' : 'n1') },
    responseStatus: { code },
  });

describe('audit log analysis', () => {
  it('parses ResponseComplete events in time order and skips other stages and torn lines', () => {
    const lines = [ev(2000, 'a', 'update', 'gpunodes', 200), JSON.stringify({ stage: 'RequestReceived' }), '{"stage":"Resp', ev(1000, 'b', 'update', 'leases', 200)];
    expect(parseAudit(lines).map((w) => [w.at, w.user])).toEqual([[1000, 'b'], [2000, 'a']]);
  });

  it('accepts writes of the Lease holder, and flags accepted ones from a replica that lost the Lease', () => {
    const writes = parseAudit([
      ev(1000, 'a', 'update', 'leases', 200),
      ev(1100, 'a', 'update', 'gpunodes', 200),
      ev(2000, 'b', 'update', 'leases', 200), // b takes over (a was stopped)
      ev(2100, 'b', 'update', 'gpunodes', 200),
      ev(3000, 'a', 'update', 'gpunodes', 409), // a wakes: refused by the precondition
      ev(3001, 'a', 'update', 'gpunodes', 200), // ...or not: a stale write that got through
      ev(3002, 'a', 'patch', 'gpupartitions', 200, { subresource: 'status', namespace: 'ns', name: 'p' }), // not the ledger
      ev(3003, 'a', 'create', 'events', 409), // refused: fine
      ev(3004, 'agent', 'patch', 'gpunodes', 200, { subresource: 'status' }), // not a replica
      ev(3005, 'b', 'get', 'gpunodes', 200), // a read
    ]);
    const found = staleWrites(writes, LEASE, new Set(['a', 'b']));
    expect(found.map((f) => f.kind)).toEqual(['stale-ledger-write', 'stale-write']);
    expect(found[0]!.detail).toContain('while b held the Lease');
    expect(found[1]!.detail).toContain('gpupartitions/status ns/p');
  });

  it('a failed Lease write does not make a holder', () => {
    const writes = parseAudit([ev(1000, 'a', 'update', 'leases', 200), ev(2000, 'b', 'update', 'leases', 409), ev(2100, 'a', 'update', 'gpunodes', 200)]);
    expect(staleWrites(writes, LEASE, new Set(['a', 'b']))).toEqual([]);
  });

  it('counts the writes a woken replica attempted, refused and accepted in its window', () => {
    const writes = parseAudit([
      ev(900, 'a', 'update', 'gpunodes', 200),
      ev(2000, 'b', 'update', 'leases', 200),
      ev(3000, 'a', 'update', 'gpunodes', 409),
      ev(3100, 'a', 'patch', 'gpupartitions', 200, { subresource: 'status', namespace: 'chaos', name: 'p' }),
      ev(3200, 'a', 'create', 'events', 201),
      ev(3300, 'a', 'update', 'gpupartitions', 422),
      ev(3400, 'b', 'update', 'gpunodes', 200),
      ev(9000, 'a', 'update', 'gpunodes', 200),
    ]);
    expect(writesInWindow(writes, 'a', 3000, 5000)).toEqual({
      attempted: 4,
      refused: 1,
      refusedLedger: 1,
      failed: 1,
      acceptedLedger: 0,
      acceptedOther: { 'patch gpupartitions/status': 1, 'create events': 1 },
      accepted: ['00:00:03.100 patch gpupartitions/status chaos/p'],
    });
    expect(takeoversBy(writes, LEASE, 'a', 1000, 3000)).toEqual([2000]);
  });
});
