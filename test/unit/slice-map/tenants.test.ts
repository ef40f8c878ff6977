import type { ClaimRef, Condition } from '../../../src/api/types.js';
import { buildSliceMap, type SliceMapInput } from '../../../src/slice-map/build-model.js';
import { ClaimTenants, quotaReservedOf, tenantFigures } from '../../../src/slice-map/tenants.js';
import { makeGpuNode, makeNode, makePartition, makeTenant, realise } from '../support/builders.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const AT = '2026-03-01T11:00:00.000Z';

const claim = (ns: string, name: string, slot: number, extra: Partial<ClaimRef> = {}): ClaimRef => ({ kind: 'GpuPartition', namespace: ns, name, uid: `uid-${name}`, slot, priority: 0, preemptible: false, ...extra });

const research = makeTenant('research', { namespaces: ['ml'], cohort: 'lab', nominal: 2, borrowingLimit: 4, profileLimits: [{ profile: '1g.23gb', max: 8 }] }, {
  used: 2.571,
  borrowed: 0.571,
  lent: 0,
  waiting: 1,
  namespaces: ['ml'],
  usageByProfile: [{ profile: '4g.90gb', slices: 1, gpuEquivalents: 0.571 }, { profile: 'whole', slices: 2, gpuEquivalents: 2 }],
});
const vision = makeTenant('vision', { namespaceSelector: { matchLabels: { team: 'vision' } }, cohort: 'lab', nominal: 16, lendingLimit: 12, weight: 2 }, { used: 0, borrowed: 0, lent: 0.571, waiting: 0, namespaces: ['cv'] });
const fresh = makeTenant('fresh', { namespaces: ['new'] });

/** GPU 0: a borrowed 4g of research, a claim from before tenancy in cv (vision by label), one admitted without tenant; GPU 1–2: whole GPUs of research. */
function input(more: Partial<SliceMapInput> = {}): SliceMapInput {
  const gn = makeGpuNode('n', { gpus: 3 });
  gn.spec = {
    gpus: [
      {
        index: 0,
        mode: 'mig',
        slices: [
          { profile: '4g.90gb', start: 0, claim: claim('ml', 'batch', 0, { tenant: 'research', borrowed: true, allocatedAt: AT }) },
          { profile: '2g.45gb', start: 4, claim: claim('cv', 'old', 0) },
          { profile: '1g.23gb', start: 6, claim: claim('cv', 'open', 0, { allocatedAt: AT }) },
        ],
      },
      { index: 1, mode: 'whole', slices: [], claim: { ...claim('ml', 'train', 0, { tenant: 'research', allocatedAt: AT }), kind: 'TrainingJob' } },
      { index: 2, mode: 'whole', slices: [], claim: { ...claim('ml', 'train', 1, { tenant: 'research', allocatedAt: AT }), kind: 'TrainingJob' } },
    ],
  };
  realise(gn);
  return {
    gpuNodes: [gn],
    node: (n) => makeNode(n),
    partitions: [],
    jobs: [],
    pods: [],
    tenants: [vision, research, fresh],
    namespaces: [{ name: 'ml' }, { name: 'cv', labels: { team: 'vision' } }],
    synced: true,
    now: NOW,
    ...more,
  };
}

const holders = (m: ReturnType<typeof buildSliceMap>) => m.nodes[0]!.gpus.flatMap((g) => g.slices.map((s) => s.holder));

test("a slice shows the tenant its claim names and whether it is borrowed; a claim from before tenancy its namespace's tenant", () => {
  const [batch, old, open, rank0] = holders(buildSliceMap(input()));
  expect(batch).toMatchObject({ name: 'batch', tenant: 'research', borrowed: true });
  expect(batch?.tenantByNamespace).toBeUndefined();
  // No allocatedAt: written before tenancy; its namespace is vision's by label.
  expect(old).toMatchObject({ name: 'old', tenant: 'vision', tenantByNamespace: true });
  expect(old?.borrowed).toBeUndefined();
  // Admitted by the cycle when cv belonged to no tenant: charged to nobody, whatever cv's tenant is now.
  expect(open?.tenant).toBeUndefined();
  expect(rank0).toMatchObject({ kind: 'TrainingJob', tenant: 'research' });
  expect(rank0?.borrowed).toBeUndefined();
});

test('without GpuTenants no slice has a tenant and the tenants section is empty', () => {
  const m = buildSliceMap(input({ tenants: undefined, namespaces: undefined }));
  expect(holders(m).map((h) => h?.tenant)).toEqual(['research', undefined, undefined, 'research', 'research']);
  expect(m.tenants).toEqual([]);
});

test('tenants panel: spec and status figures, with what the map draws for each; borrowed slices in the totals', () => {
  const m = buildSliceMap(input());
  expect(m.tenants.map((t) => t.name)).toEqual(['fresh', 'research', 'vision']);
  expect(m.tenants[1]).toEqual({
    name: 'research',
    cohort: 'lab',
    nominal: 2,
    borrowingLimit: 4,
    weight: 1,
    reported: true,
    used: 2.571,
    borrowed: 0.571,
    lent: 0,
    waiting: 1,
    byProfile: [{ profile: '4g.90gb', slices: 1, gpuEq: 0.571 }, { profile: 'whole', slices: 2, gpuEq: 2 }],
    profileLimits: [{ profile: '1g.23gb', max: 8 }],
    namespaces: ['ml'],
    conflicts: [],
    held: 3,
    heldBorrowed: 1,
  });
  // The claim from before tenancy is shown as vision's but not counted as held by it.
  expect(m.tenants[2]).toMatchObject({ name: 'vision', lendingLimit: 12, weight: 2, lent: 0.571, namespaces: ['cv'], held: 0, heldBorrowed: 0 });
  expect(m.tenants[0]).toMatchObject({ name: 'fresh', reported: false, used: 0, namespaces: ['new'], held: 0 });
  expect(m.totals.borrowed).toBe(1);
});

test('a tenant being deleted is left out; conflicts are listed by namespace', () => {
  const gone = makeTenant('gone', { namespaces: ['x'] });
  gone.metadata.deletionTimestamp = AT;
  const torn = makeTenant('torn', { namespaces: ['ml'] }, { used: 0, conflicts: [{ namespace: 'ml', tenants: ['research', 'torn'] }] });
  expect(buildSliceMap(input({ tenants: [gone, torn] })).tenants.map((t) => [t.name, t.conflicts])).toEqual([['torn', ['ml']]]);
});

const cond = (type: string, status: 'True' | 'False', reason: string, message: string): Condition => ({ type, status, reason, message, lastTransitionTime: AT });

test('pending: a quota wait shows the QuotaReserved reason and message; a capacity wait its Allocated verdict, with the quota note', () => {
  const over = makePartition('over', 'ml', { profile: '7g.180gb' });
  over.status = {
    phase: 'Pending',
    conditions: [
      cond('Allocated', 'False', 'QuotaExceeded', 'tenant research uses 2.6 of nominal 2.0 GPU-eq'),
      cond('QuotaReserved', 'False', 'QuotaExceeded', 'tenant research uses 2.6 of nominal 2.0 GPU-eq; this request needs 1.0 more'),
    ],
  };
  const big = makePartition('big', 'cv', { profile: '7g.180gb', count: 9 });
  big.status = {
    phase: 'Pending',
    conditions: [cond('Allocated', 'False', 'InsufficientCapacity', 'no room'), cond('QuotaReserved', 'True', 'QuotaAvailable', 'within the quota of tenant vision; waiting for capacity')],
  };
  const loose = makePartition('loose', 'elsewhere', { profile: '1g.23gb' });
  for (const [i, p] of [over, big, loose].entries()) {
    p.metadata.uid = `uid-p${i}`;
    p.metadata.creationTimestamp = `2026-03-01T10:0${i}:00Z`;
  }
  const m = buildSliceMap(input({ partitions: [over, big, loose] }));
  expect(m.pending.map((p) => [p.name, p.tenant, p.reason, p.quota?.reserved])).toEqual([
    ['over', 'research', 'QuotaExceeded', false],
    ['big', 'vision', 'InsufficientCapacity', true],
    ['loose', undefined, 'Pending', undefined],
  ]);
  expect(m.pending[0]!.message).toBe('tenant research uses 2.6 of nominal 2.0 GPU-eq; this request needs 1.0 more');
  expect(m.pending[1]!.quota).toEqual({ reserved: true, reason: 'QuotaAvailable', message: 'within the quota of tenant vision; waiting for capacity' });
});

test.each([
  ['listed namespace', ['ml'], undefined, 'ml', 'research'],
  ['namespace selected by label', [], { team: 'vision' }, 'cv', 'vision'],
  ['namespace in no tenant', [], {}, 'other', undefined],
] as const)('ClaimTenants.namespaceTenant: %s', (_what, _list, labels, ns, want) => {
  const t = new ClaimTenants([research, vision], [{ name: ns, labels: { ...labels } }]);
  expect(t.namespaceTenant(ns)).toBe(want);
});

test('a namespace two tenants claim has no tenant on the map', () => {
  const t = new ClaimTenants([research, makeTenant('other', { namespaces: ['ml'] })], []);
  expect(t.namespaceTenant('ml')).toBeUndefined();
  expect(t.of(claim('ml', 'old', 0))).toEqual({});
});

test('figures of a tenant the operator has not reported yet, and QuotaReserved lookup', () => {
  expect(tenantFigures(fresh)).toMatchObject({ reported: false, used: 0, borrowed: 0, lent: 0, waiting: 0, weight: 1, byProfile: [] });
  expect(quotaReservedOf(undefined)).toBeUndefined();
  expect(quotaReservedOf([cond('QuotaReserved', 'True', 'Borrowed', 'x')])).toEqual({ reserved: true, reason: 'Borrowed', message: 'x' });
});
