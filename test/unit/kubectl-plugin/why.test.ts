import { PARTITION_GATE } from '../../../src/api/constants.js';
import type { ClaimRef } from '../../../src/api/types.js';
import { ADMISSION_ANNOTATION } from '../../../src/controllers/pod-gate/pod-admission.js';
import { buildSnapshot } from '../../../src/ledger/snapshot.js';
import { explain, nodeFits, renderWhy, type WhyInput } from '../../../src/kubectl-plugin/why.js';
import { place } from '../../../src/placement/engine.js';
import { makeGpuNode, makeJob, makeNode, makePartition, makePartitionPod, makeTenant, realise } from '../support/builders.js';
import { explainQuota, quotaLines } from '../../../src/kubectl-plugin/why-quota.js';

const claim = (ns: string, name: string, slot: number): ClaimRef => ({ kind: 'GpuPartition', namespace: ns, name, uid: name, slot, priority: 0, preemptible: false });

/** Two 2-GPU nodes: `busy` holds three 3g slices of team-a/inf, `small` is a GB200 nobody may use. */
function cluster(): Omit<WhyInput, 'kind' | 'namespace' | 'name'> {
  const busy = makeGpuNode('busy', { gpus: 2 });
  busy.spec = {
    gpus: [
      { index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: claim('team-a', 'inf', 0) }, { profile: '3g.90gb', start: 4, claim: claim('team-a', 'inf', 1) }] },
      { index: 1, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: claim('team-a', 'inf', 2) }] },
    ],
  };
  realise(busy);
  const other = makeGpuNode('other', { gpus: 1, product: 'NVIDIA-GB200' });
  const inf = makePartition('inf', 'team-a', { profile: '3g.90gb', count: 3 });
  inf.metadata.uid = 'inf';
  inf.status = { phase: 'Ready' };
  const big = makePartition('big', 'team-b', { profile: '3g.90gb', count: 2, gpuProducts: ['NVIDIA-B200'] });
  big.metadata.uid = 'big';
  big.metadata.creationTimestamp = '2026-03-01T10:00:00Z';
  big.status = { phase: 'Pending', conditions: [{ type: 'Allocated', status: 'False', reason: 'InsufficientCapacity', message: 'needs 2 × 3g.90gb', lastTransitionTime: '' }] };
  const first = makePartition('first', 'team-c', { profile: '7g.180gb', priority: 9 });
  first.metadata.uid = 'first';
  first.metadata.creationTimestamp = '2026-03-01T11:00:00Z';
  const pod = makePartitionPod('p', 'team-b', 'big', 'nvidia.com/mig-3g.90gb');
  pod.metadata.annotations = { [ADMISSION_ANNOTATION]: 'GpuPartition team-b/big is not Ready' };
  return {
    gpuNodes: [busy, other],
    nodes: [makeNode('busy'), makeNode('other')],
    partitions: [inf, big, first],
    jobs: [],
    pods: [pod],
    events: [{ type: 'Warning', reason: 'Unsatisfiable', message: 'no room', lastTimestamp: '2026-03-01T10:01:00Z', involvedObject: { kind: 'GpuPartition', name: 'big' } }],
    queueScope: 'cluster',
    place,
  };
}

test('a waiting partition: its verdict, place in the queue, the closest node and what holds it', () => {
  const e = explain({ ...cluster(), kind: 'GpuPartition', namespace: 'team-b', name: 'big' })!;
  expect(e.waiting).toBe(true);
  expect(e.summary).toBe('GpuPartition team-b/big waits (InsufficientCapacity).');
  expect(e.wants).toBe('2 × 3g.90gb');
  expect(e.queue).toEqual({ position: 2, of: 2, ahead: ['GpuPartition team-c/first (priority 9)'], scope: 'cluster' });
  // busy has one free half-GPU (slots 4–7 of GPU 1): one of two 3g slices fits; the GB200 is excluded by gpuProducts.
  expect(e.bestNode).toMatchObject({ node: 'busy', eligible: true, fits: 1, of: 2, freeSlots: 4, holders: ['GpuPartition team-a/inf × 3'] });
  expect(e.bestNode?.blockedBy).toContain('needs 2 × 3g.90gb');
  expect(e.events).toEqual(['Unsatisfiable: no room']);
  const text = renderWhy(e);
  expect(text).toContain('queue      position 2 of 2 waiting; just ahead: GpuPartition team-c/first (priority 9)');
  expect(text).toContain('closest    busy: 1 of 2 member(s) fit there, 4 free memory slot(s)');
  expect(text).toContain('held by    GpuPartition team-a/inf × 3');
});

test('nodeFits ranks eligible nodes first and marks the ones the request may not use', () => {
  const c = cluster();
  const snapshot = buildSnapshot(c.gpuNodes, (n) => c.nodes.find((x) => x.metadata.name === n));
  const req = { id: 'x', members: [{ kind: 'slice' as const, key: 'k/0', profile: '3g.90gb' }], constraints: { products: ['NVIDIA-B200'] } };
  const fits = nodeFits(snapshot, req, place);
  expect(fits.map((f) => [f.node, f.eligible, f.fits])).toEqual([['busy', true, 1], ['other', false, 0]]);
  expect(fits[1]!.blockedBy).toContain('no schedulable node matching products NVIDIA-B200');
});

test('a Ready partition is not waiting; a missing object is undefined', () => {
  expect(explain({ ...cluster(), kind: 'GpuPartition', namespace: 'team-a', name: 'inf' })).toMatchObject({ waiting: false, summary: 'GpuPartition team-a/inf is not waiting for capacity (phase Ready).' });
  expect(explain({ ...cluster(), kind: 'GpuPartition', namespace: 'team-a', name: 'nope' })).toBeUndefined();
  expect(explain({ ...cluster(), kind: 'TrainingJob', namespace: 'team-a', name: 'nope' })).toBeUndefined();
});

test('a job that fits now says so', () => {
  const c = cluster();
  const job = makeJob('tiny', 'team-d', { replicas: 1, profile: '1g.23gb' });
  job.metadata.uid = 'tiny';
  const e = explain({ ...c, jobs: [job], kind: 'TrainingJob', namespace: 'team-d', name: 'tiny' })!;
  expect(e.clusterVerdict).toMatch(/^fits on the cluster as it is now \(on (busy|other)\)/);
  expect(e.summary).toBe('TrainingJob team-d/tiny waits: the operator has not given a verdict yet.');
});

test('a gated pod points at its waiting partition', () => {
  const e = explain({ ...cluster(), kind: 'Pod', namespace: 'team-b', name: 'p' })!;
  expect(e.summary).toBe('Pod team-b/p waits at the gate for GpuPartition team-b/big, which is not Ready.');
  expect(e.pod).toMatchObject({ gated: true, partition: 'big' });
  expect(e.partition?.object).toBe('GpuPartition team-b/big');
  expect(renderWhy(e)).toContain(`gate       ${PARTITION_GATE} (set)`);
  const c = cluster();
  c.pods[0]!.metadata.labels!['gpu.haein.dev/partition'] = 'gone';
  expect(explain({ ...c, kind: 'Pod', namespace: 'team-b', name: 'p' })!.summary).toContain('GpuPartition team-b/gone does not exist');
});

const AT = '2026-03-01T10:00:00Z';
const research = makeTenant('research', { namespaces: ['team-b'], cohort: 'lab', nominal: 1, borrowingLimit: 0.5, profileLimits: [{ profile: '3g.90gb', max: 2 }] }, {
  used: 1.286,
  borrowed: 0.286,
  lent: 0,
  waiting: 1,
  namespaces: ['team-b'],
  usageByProfile: [{ profile: '3g.90gb', slices: 3, gpuEquivalents: 1.286 }],
});
const vision = makeTenant('vision', { namespaceSelector: { matchLabels: { team: 'vision' } }, cohort: 'lab', nominal: 4, lendingLimit: 2 }, { used: 0, borrowed: 0, lent: 0.286, waiting: 0 });
const loner = makeTenant('loner', { namespaces: ['team-x'], nominal: 2 });

test("a quota wait: the QuotaReserved verdict, the tenant's numbers and its cohort's; capacity is not what holds it back", () => {
  const c = cluster();
  const big = c.partitions.find((p) => p.metadata.name === 'big')!;
  // It fits on the cluster as it is (one 3g, count 1), but research's quota does not admit it.
  big.spec.count = 1;
  const message = 'tenant research uses 1.3 of nominal 1.0 GPU-eq; this request needs 0.4 more; cohort lab has 0.2 idle to lend (borrowing limit 0.5)';
  big.status = {
    phase: 'Pending',
    conditions: [
      { type: 'Allocated', status: 'False', reason: 'QuotaExceeded', message, lastTransitionTime: AT },
      { type: 'QuotaReserved', status: 'False', reason: 'QuotaExceeded', message, lastTransitionTime: AT },
    ],
  };
  const e = explain({ ...c, tenants: [research, vision, loner], namespaces: [{ name: 'team-b' }], kind: 'GpuPartition', namespace: 'team-b', name: 'big' })!;
  expect(e.summary).toBe("GpuPartition team-b/big waits for its tenant's quota (QuotaExceeded).");
  expect(e.quota).toMatchObject({ waitsFor: 'quota', condition: { reserved: false, reason: 'QuotaExceeded', message }, tenant: { name: 'research', used: 1.286 } });
  expect(e.quota?.cohort?.map((t) => t.name)).toEqual(['vision']);
  expect(e.clusterVerdict).toBe("the cluster has room for it (on busy), but its tenant's quota does not admit it");
  const text = renderWhy(e);
  expect(text).toContain(`condition  QuotaReserved=False QuotaExceeded (same message)`);
  expect(text).toContain('tenant     research: nominal 1, used 1.286, borrowed 0.286, lent 0, waiting 1 (GPU-eq); cohort lab, borrows at most 0.5, weight 1');
  expect(text).toContain('caps       3g.90gb 3 of at most 2');
  expect(text).toContain('cohort     vision: nominal 4, used 0, borrowed 0, lent 0.286, waiting 0 (GPU-eq); lends at most 2');
  expect(text).not.toContain('now        fits on the cluster');
});

test('a capacity wait with its quota reserved says so', () => {
  const c = cluster();
  const big = c.partitions.find((p) => p.metadata.name === 'big')!;
  big.status!.conditions!.push({ type: 'QuotaReserved', status: 'True', reason: 'QuotaAvailable', message: 'within the quota of tenant research; waiting for capacity', lastTransitionTime: AT });
  const e = explain({ ...c, tenants: [research], kind: 'GpuPartition', namespace: 'team-b', name: 'big' })!;
  expect(e.summary).toBe("GpuPartition team-b/big waits for capacity (InsufficientCapacity); its tenant's quota admits it.");
  expect(e.quota?.waitsFor).toBe('capacity');
  expect(renderWhy(e)).toContain('closest    busy: 1 of 2 member(s) fit there');
});

test.each([
  ['no GpuTenant, no condition: nothing about quota', [], [], undefined, undefined],
  ['a namespace in no tenant', [research], [], 'team-q', ['tenant', 'namespace team-q belongs to no GpuTenant']],
  ['a namespace two tenants claim', [research, makeTenant('rival', { namespaces: ['team-q'] }), makeTenant('other', { namespaces: ['team-q'] })], [], 'team-q', ['tenant', 'namespace team-q is claimed by tenants other and rival']],
  ['a namespace taken by label', [vision], [{ name: 'team-q', labels: { team: 'vision' } }], 'team-q', ['tenant', expect.stringMatching(/^vision: nominal 4, used 0, .*; cohort lab, lends at most 2, weight 1$/)]],
  ['a tenant without cohort, not reported yet', [loner], [], 'team-x', ['tenant', 'loner: nominal 2 GPU-eq; not reported by the operator yet; no cohort (borrows nothing), weight 1']],
] as const)('explainQuota: %s', (_what, tenants, namespaces, ns, line) => {
  const q = explainQuota(ns ?? 'team-q', undefined, [...tenants], [...namespaces]);
  if (line === undefined) expect(q).toBeUndefined();
  else expect(quotaLines(q!)[0]).toEqual(line);
});
