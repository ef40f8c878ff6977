/**
 * Settlement arithmetic: hour and midnight splitting, units, opening balances, overflow rows, and the properties
 * metering's durability rests on — settling in many steps gives exactly what one settlement gives; with a
 * settlement at every release (as the admission cycle does), the records hold exactly each claim's interval,
 * hour by hour; and a crash anywhere in a sequence of writes, resumed from what was stored, loses or doubles
 * nothing.
 */
import fc from 'fast-check';
import type { ClaimRef } from '../../../../src/api/types.js';
import type { LedgerEntry } from '../../../../src/ledger/claims.js';
import { meteredClaim, planSettlement, type MeteredClaim, type SettlementWrite } from '../../../../src/tenancy/metering/settlement.js';
import {
  DAY_MS,
  HOUR_MS,
  OVERFLOW_NAMESPACE,
  cloneRecord,
  dayStart,
  gpuEquivalentSeconds,
  openingAfter,
  readRecord,
  recordObject,
  recordTotals,
  rowKey,
  sevenths,
  utcDate,
  type UsageRecord,
} from '../../../../src/tenancy/metering/usage-record.js';

const T0 = Date.parse('2026-03-10T00:00:00.000Z');
const OPTS = { pruneAfterDays: 30 };

/** A durable store of records as the API server would keep them. */
class Store {
  readonly records = new Map<string, UsageRecord>();

  latest(tenant: string): UsageRecord | undefined {
    const mine = [...this.records.values()].filter((r) => r.tenant === tenant).sort((a, b) => a.date.localeCompare(b.date));
    const last = mine.at(-1);
    return last ? cloneRecord(last) : undefined;
  }

  /** Applies a write; `createOnly` stores a created record without its status (a crash between the two calls). */
  apply(w: SettlementWrite, createOnly = false): void {
    const r = cloneRecord(w.record);
    if (createOnly) {
      r.rows.clear();
      r.settledThrough = r.openedAt;
    }
    this.records.set(r.date, r);
  }

  settle(tenant: string, claims: MeteredClaim[], through: number): void {
    for (const w of planSettlement(tenant, this.latest(tenant), claims, through, OPTS)) this.apply(w);
  }

  /** Slice-ms per `date|namespace|profile` and hour. */
  hours(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const r of this.records.values()) {
      for (const row of r.rows.values()) {
        if (row.hours.every((h) => h === 0)) continue;
        out.set(`${r.date}|${row.namespace}|${row.profile}`, [...row.hours]);
      }
    }
    return out;
  }
}

/** The exact use of closed intervals [alloc, release) up to `upTo`, per `date|namespace|profile` and hour (reference). */
function exactHours(intervals: Array<{ claim: MeteredClaim; release: number }>, upTo: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { claim, release } of intervals) {
    const a = claim.allocatedAt as number;
    const b = Math.min(release, upTo);
    for (let h = Math.floor(a / HOUR_MS) * HOUR_MS; h < b; h += HOUR_MS) {
      const ms = Math.min(b, h + HOUR_MS) - Math.max(a, h);
      if (ms <= 0) continue;
      const key = `${utcDate(h)}|${claim.namespace}|${claim.profile}`;
      const hours = out.get(key) ?? new Array<number>(24).fill(0);
      hours[(h - dayStart(utcDate(h))) / HOUR_MS] += ms;
      out.set(key, hours);
    }
  }
  return out;
}

const claim = (over: Partial<MeteredClaim> = {}): MeteredClaim => ({ tenant: 't', namespace: 'ns', profile: '1g.23gb', allocatedAt: T0, ...over });

describe('units', () => {
  test.each([
    ['1g.23gb', 1],
    ['2g.45gb', 2],
    ['3g.90gb', 3],
    ['4g.90gb', 4],
    ['7g.180gb', 7],
    ['whole', 7],
  ])('%s counts %d sevenths of a GPU', (profile, n) => {
    expect(sevenths(profile)).toBe(n);
  });

  test('GPU-equivalent-seconds follow from slice-milliseconds and the profile', () => {
    expect(gpuEquivalentSeconds('3g.90gb', 7000)).toBe(3);
    expect(gpuEquivalentSeconds('whole', 1500)).toBe(1.5);
  });

  test('a ledger entry is metered under its tenant (or `unassigned`), namespace and accounting profile', () => {
    const c: ClaimRef = { kind: 'GpuPartition', namespace: 'a', name: 'p', uid: 'u', slot: 0, priority: 0, preemptible: false, allocatedAt: '2026-03-10T01:02:03.456Z' };
    const slice: LedgerEntry = { node: 'n', gpuIndex: 0, claim: { ...c, tenant: 'acme' }, profile: '1g.23gb+me', start: 0 };
    expect(meteredClaim(slice)).toEqual({ tenant: 'acme', namespace: 'a', profile: '1g.23gb', allocatedAt: Date.parse('2026-03-10T01:02:03.456Z') });
    const whole: LedgerEntry = { node: 'n', gpuIndex: 1, claim: { ...c, allocatedAt: 'garbage' } };
    expect(meteredClaim(whole)).toEqual({ tenant: 'unassigned', namespace: 'a', profile: 'whole' });
  });
});

describe('planSettlement', () => {
  test('a new tenant starts at its earliest allocation; use is split by hour', () => {
    const c1 = claim({ allocatedAt: T0 + 30 * 60_000 });
    const c2 = claim({ allocatedAt: T0 + 90 * 60_000, profile: 'whole' });
    const writes = planSettlement('t', undefined, [c1, c2], T0 + 2 * HOUR_MS, OPTS);
    expect(writes).toHaveLength(1);
    const r = writes[0]!.record;
    expect(writes[0]!.create).toBe(true);
    expect(r.openedAt).toBe(T0 + 30 * 60_000);
    expect(r.opening.since).toBe('2026-03-10T00:30:00.000Z');
    expect(r.rows.get(rowKey('ns', '1g.23gb'))!.hours.slice(0, 3)).toEqual([30 * 60_000, HOUR_MS, 0]);
    expect(r.rows.get(rowKey('ns', 'whole'))!.hours.slice(0, 3)).toEqual([0, 30 * 60_000, 0]);
    expect(r.settledThrough).toBe(T0 + 2 * HOUR_MS);
  });

  test('nothing to settle: no claims and no record, or settled already', () => {
    expect(planSettlement('t', undefined, [], T0, OPTS)).toEqual([]);
    const [w] = planSettlement('t', undefined, [claim()], T0 + HOUR_MS, OPTS);
    expect(planSettlement('t', w!.record, [claim()], T0 + HOUR_MS, OPTS)).toEqual([]);
    expect(planSettlement('t', w!.record, [claim()], T0 + 10, OPTS)).toEqual([]);
  });

  test('crossing midnight closes the day at 24:00 and opens the next with the totals carried', () => {
    const store = new Store();
    const c = claim({ allocatedAt: T0 + 23 * HOUR_MS });
    store.settle('t', [c], T0 + 23.5 * HOUR_MS);
    const writes = planSettlement('t', store.latest('t'), [c], T0 + DAY_MS + 15 * 60_000, OPTS);
    expect(writes.map((w) => [w.record.date, w.create, w.record.settledThrough])).toEqual([
      ['2026-03-10', false, T0 + DAY_MS],
      ['2026-03-11', true, T0 + DAY_MS + 15 * 60_000],
    ]);
    const next = writes[1]!.record;
    expect(next.openedAt).toBe(T0 + DAY_MS);
    expect(next.opening).toEqual({
      since: '2026-03-10T23:00:00.000Z',
      namespaces: [{ namespace: 'ns', profile: '1g.23gb', sliceMilliseconds: HOUR_MS, lastUsed: '2026-03-10' }],
      profiles: [{ profile: '1g.23gb', sliceMilliseconds: HOUR_MS }],
    });
    expect(next.rows.get(rowKey('ns', '1g.23gb'))!.hours[0]).toBe(15 * 60_000);
    expect(recordTotals(next).profiles).toEqual([{ profile: '1g.23gb', sliceMilliseconds: HOUR_MS + 15 * 60_000 }]);
  });

  test('days with nothing in use still get a record each, so the chain of records has no gap', () => {
    const store = new Store();
    store.settle('t', [claim({ endedAt: T0 + HOUR_MS })], T0 + HOUR_MS);
    const writes = planSettlement('t', store.latest('t'), [], T0 + 3 * DAY_MS + 1, OPTS);
    expect(writes.map((w) => [w.record.date, w.create])).toEqual([
      ['2026-03-10', false],
      ['2026-03-11', true],
      ['2026-03-12', true],
      ['2026-03-13', true],
    ]);
  });

  test('a claim older than metering counts from the checkpoint; a claim that left the ledger counts until it left', () => {
    const store = new Store();
    store.settle('t', [claim(), claim({ namespace: 'gone' })], T0 + HOUR_MS);
    store.settle('t', [claim(), claim({ allocatedAt: undefined, namespace: 'old' }), claim({ namespace: 'gone', endedAt: T0 + 90 * 60_000 })], T0 + 2 * HOUR_MS);
    const r = store.latest('t')!;
    expect(r.rows.get(rowKey('old', '1g.23gb'))!.hours.slice(0, 2)).toEqual([0, HOUR_MS]);
    expect(r.rows.get(rowKey('gone', '1g.23gb'))!.hours.slice(0, 2)).toEqual([HOUR_MS, 30 * 60_000]);
  });

  test('a claim allocated after `through` (another replica\'s clock) adds nothing yet', () => {
    const [w] = planSettlement('t', undefined, [claim(), claim({ namespace: 'later', allocatedAt: T0 + 2 * HOUR_MS })], T0 + HOUR_MS, OPTS);
    expect(w!.record.rows.has(rowKey('later', '1g.23gb'))).toBe(false);
  });

  test('namespaces beyond the row limit are counted under the overflow namespace, nothing lost', () => {
    const claims = [...Array(5).keys()].map((i) => claim({ namespace: `ns${i}` }));
    const [w] = planSettlement('t', undefined, claims, T0 + HOUR_MS, { ...OPTS, maxRows: 3 });
    const rows = [...w!.record.rows.values()];
    expect(rows.map((r) => r.namespace).sort()).toEqual([OVERFLOW_NAMESPACE, 'ns0', 'ns1', 'ns2']);
    expect(rows.find((r) => r.namespace === OVERFLOW_NAMESPACE)!.hours[0]).toBe(2 * HOUR_MS);
    expect(rows.reduce((s, r) => s + r.hours[0]!, 0)).toBe(5 * HOUR_MS);
  });
});

describe('records', () => {
  test('round-trip through the stored shape, with the day\'s display totals', () => {
    const [w] = planSettlement('t', undefined, [claim(), claim({ profile: 'whole' })], T0 + 2 * HOUR_MS, OPTS);
    const obj = recordObject(w!.record);
    expect(obj.metadata.name).toBe('t.2026-03-10');
    expect(obj.metadata.labels).toEqual({ 'gpu.haein.dev/tenant': 't' });
    // 2 h of a 1g slice (2/7 GPU-eq-h) and 2 h of a whole GPU (2 GPU-eq-h).
    expect(obj.status).toMatchObject({ settledThrough: '2026-03-10T02:00:00.000Z', sliceHours: 4, gpuEquivalentHours: 2.286 });
    expect(readRecord({ ...obj, metadata: { ...obj.metadata, resourceVersion: '7' } })).toEqual({ ...w!.record, resourceVersion: '7' });
  });

  test('a created record without status yet starts at openedAt', () => {
    const [w] = planSettlement('t', undefined, [claim()], T0 + HOUR_MS, OPTS);
    const obj = recordObject(w!.record);
    delete obj.status;
    expect(readRecord(obj)).toMatchObject({ settledThrough: T0, rows: new Map() });
  });

  test('a record metering did not write is refused with a clear error', () => {
    const [w] = planSettlement('t', undefined, [claim()], T0 + HOUR_MS, OPTS);
    const obj = recordObject(w!.record);
    obj.status!.usage![0]!.sliceMilliseconds = [1, 2];
    expect(() => readRecord(obj)).toThrow(/has 2 hours, not 24/);
    expect(() => readRecord({ ...obj, spec: { ...obj.spec, openedAt: 'x' } })).toThrow(/spec is incomplete/);
  });

  test('the opening balance drops namespaces unused for the retention period but keeps their usage per profile', () => {
    const r = planSettlement('t', undefined, [claim(), claim({ namespace: 'b' })], T0 + HOUR_MS, OPTS)[0]!.record;
    r.opening = { since: r.opening.since, namespaces: [{ namespace: 'stale', profile: '1g.23gb', sliceMilliseconds: 5, lastUsed: '2026-01-01' }], profiles: [{ profile: '1g.23gb', sliceMilliseconds: 5 }] };
    const next = openingAfter(r, '2026-03-11', 30);
    expect(next.namespaces!.map((n) => n.namespace)).toEqual(['b', 'ns']);
    expect(next.profiles).toEqual([{ profile: '1g.23gb', sliceMilliseconds: 2 * HOUR_MS + 5 }]);
  });
});

// ------------------------------------------------------------------------------------------------ properties

const NAMESPACES = ['a', 'b'];
const PROFILES = ['1g.23gb', '3g.90gb', 'whole'];
const SPAN = 3 * DAY_MS;

/** Random allocation intervals over three days, to the millisecond. */
const intervalsArb = fc.array(
  fc.record({
    namespace: fc.constantFrom(...NAMESPACES),
    profile: fc.constantFrom(...PROFILES),
    start: fc.integer({ min: 0, max: SPAN - 1 }),
    length: fc.integer({ min: 1, max: DAY_MS + 5 * HOUR_MS }),
  }),
  { minLength: 1, maxLength: 12 },
).map((xs) => xs.map((x) => ({ claim: claim({ namespace: x.namespace, profile: x.profile, allocatedAt: T0 + x.start }), release: T0 + x.start + x.length })));

const instantsArb = fc.array(fc.integer({ min: 0, max: SPAN + DAY_MS }), { maxLength: 15 }).map((xs) => xs.map((x) => T0 + x));

/**
 * Runs the schedule the operator runs: the periodic settlements at `instants`, and a settlement at every
 * release instant before the release is written (the claim is still in the ledger), each over the claims in
 * the ledger at that instant. `crash.at`: the write after which the writer dies — its remaining writes are lost
 * (a create is stored without its status when `half`), the release it was settling for is not written (the
 * cycle writes nothing when settling fails) and happens at the next settlement instead. Returns the store and
 * the intervals as they really were.
 */
function run(
  intervals: Array<{ claim: MeteredClaim; release: number }>,
  instants: number[],
  end: number,
  crash?: { at: number; half: boolean },
): { store: Store; real: Array<{ claim: MeteredClaim; release: number }> } {
  const store = new Store();
  const events = [...new Set([...instants, ...intervals.map((i) => i.release), end])].filter((t) => t <= end).sort((a, b) => a - b);
  const released = new Map<number, number>();
  let written = 0;
  for (const t of events) {
    const held = intervals.filter((i, k) => (i.claim.allocatedAt as number) <= t && !released.has(k)).map((i) => i.claim);
    let crashed = false;
    for (const w of planSettlement('t', store.latest('t'), held, t, OPTS)) {
      if (crash && written === crash.at) {
        if (crash.half && w.create) store.apply(w, true);
        written++;
        crashed = true;
        break;
      }
      store.apply(w);
      written++;
    }
    // Settled through t: the releases due by now are written.
    if (!crashed) intervals.forEach((i, k) => i.release <= t && !released.has(k) && (i.claim.allocatedAt as number) <= t && released.set(k, t));
  }
  // Whatever is still held at the end is measured up to `end`.
  store.settle('t', intervals.filter((_, k) => !released.has(k)).map((i) => i.claim), end);
  return { store, real: intervals.map((i, k) => ({ claim: i.claim, release: released.get(k) ?? end })) };
}

describe('properties', () => {
  test('with a settlement at every release, the records hold exactly every allocation interval, hour by hour', () => {
    fc.assert(
      fc.property(intervalsArb, instantsArb, (intervals, instants) => {
        const end = T0 + SPAN + DAY_MS;
        const { store, real } = run(intervals, instants, end);
        expect(real).toEqual(intervals.map((i) => ({ ...i, release: Math.min(i.release, end) })));
        expect(store.hours()).toEqual(exactHours(intervals, end));
      }),
      { numRuns: 300 },
    );
  });

  test('settling in several steps stores exactly what one settlement stores (records, opening balances, totals)', () => {
    fc.assert(
      fc.property(intervalsArb, instantsArb, (intervals, instants) => {
        // Claims held from their allocation on, never released: only the steps differ.
        const held = intervals.map((i) => i.claim);
        const end = T0 + SPAN + DAY_MS;
        const stepwise = new Store();
        for (const t of [...instants].sort((a, b) => a - b)) stepwise.settle('t', held.filter((c) => (c.allocatedAt as number) <= t), t);
        stepwise.settle('t', held, end);
        const once = new Store();
        once.settle('t', held, end);
        expect(stepwise.records).toEqual(once.records);
      }),
      { numRuns: 300 },
    );
  });

  test('a crash after any write (a create with or without its status), resumed from the store, loses and doubles nothing', () => {
    fc.assert(
      fc.property(intervalsArb, instantsArb, fc.nat({ max: 40 }), fc.boolean(), (intervals, instants, at, half) => {
        const end = T0 + SPAN + DAY_MS;
        const { store, real } = run(intervals, instants, end, { at, half });
        expect(store.hours()).toEqual(exactHours(real, end));
      }),
      { numRuns: 300 },
    );
  });
});
