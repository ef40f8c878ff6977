import { JOB_FINALIZER } from '../../../../src/api/constants.js';
import type { PodObject } from '../../../../src/api/pods.js';
import type { GpuNode, TrainingJob } from '../../../../src/api/types.js';
import { decideJob, type JobObservation } from '../../../../src/controllers/trainingjob/job-decision.js';
import { buildWorkerPod } from '../../../../src/controllers/trainingjob/worker-pods.js';
import { rankAllocations } from '../../../../src/controllers/trainingjob/job-placement.js';
import type { LedgerEntry } from '../../../../src/ledger/claims.js';
import { makeGpuNode, makeJob, realise } from '../../support/builders.js';

const NOW = new Date('2026-01-01T00:01:00Z');

function job(opts: { finalizer?: boolean; deleting?: boolean; suspend?: boolean; status?: TrainingJob['status']; restartPolicy?: 'Never' } = {}): TrainingJob {
  const j = makeJob('train', 'ml', { replicas: 2, gpusPerWorker: 1, ...(opts.suspend ? { suspend: true } : {}), ...(opts.restartPolicy ? { restartPolicy: opts.restartPolicy } : {}) });
  j.metadata.uid = 'uid-train';
  j.metadata.generation = 1;
  if (opts.finalizer) j.metadata.finalizers = [JOB_FINALIZER];
  if (opts.deleting) j.metadata.deletionTimestamp = '2026-01-01T00:00:59Z';
  if (opts.status) j.status = opts.status;
  return j;
}

/** Rank r on GPU r of n1, whole. */
function gang(j: TrainingJob, ranks = 2): LedgerEntry[] {
  return [...Array(ranks).keys()].map((r) => ({ node: 'n1', gpuIndex: r, claim: { kind: 'TrainingJob', namespace: 'ml', name: 'train', uid: j.metadata.uid as string, slot: r, priority: 0, preemptible: false } }));
}

function nodeFor(entries: LedgerEntry[], realised: boolean): GpuNode {
  const gn = makeGpuNode('n1', { gpus: 2 });
  gn.spec = { gpus: entries.map((e) => ({ index: e.gpuIndex, mode: 'whole' as const, slices: [], claim: e.claim })) };
  gn.metadata.generation = 2;
  if (realised) realise(gn);
  return gn;
}

function observe(j: TrainingJob, o: { entries?: LedgerEntry[]; realised?: boolean; pods?: PodObject[]; verdict?: JobObservation['verdict'] } = {}): JobObservation {
  const gn = nodeFor(o.entries ?? [], o.realised ?? false);
  return { job: j, entries: o.entries ?? [], gpuNode: () => gn, pods: o.pods ?? [], ...(o.verdict ? { verdict: o.verdict } : {}), now: NOW };
}

/** The job's current pods for attempt `attempt`, in `phase`. */
function podsOf(j: TrainingJob, entries: LedgerEntry[], phase: string, attempt = 0): PodObject[] {
  const gn = nodeFor(entries, true);
  return rankAllocations(entries, () => gn).map((a) => ({ ...buildWorkerPod(j, a, attempt), status: { phase } }));
}

const kind = (d: ReturnType<typeof decideJob>) => (d.demand === 'withdraw' ? 'withdraw' : d.demand?.want.kind);
const cond = (d: ReturnType<typeof decideJob>, type: string) => d.status?.conditions?.find((c) => c.type === type);

describe('decideJob', () => {
  test('a new job asks the cycle for its gang and writes nothing until the cycle decided', () => {
    const d = decideJob(observe(job()));
    expect(kind(d)).toBe('hold');
    expect(d.status).toBeUndefined();
    expect(d.finalizer).toBeUndefined();
  });

  test('a gang that does not fit is Pending with the cycle\'s reason and an Unsatisfiable Event', () => {
    const d = decideJob(observe(job(), { verdict: { uid: 'uid-train', generation: 1, code: 'InsufficientCapacity', message: 'needs 2 GPUs' } }));
    expect(d.status?.phase).toBe('Pending');
    expect(cond(d, 'Placed')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
    expect(d.events.map((e) => e.reason)).toEqual(['Unsatisfiable']);
  });

  test('placed but not realised: Placing, the finalizer is added, no pods yet', () => {
    const j = job();
    const d = decideJob(observe(j, { entries: gang(j) }));
    expect(d).toMatchObject({ finalizer: 'add', demand: 'withdraw', createPods: [] });
    expect(d.status?.phase).toBe('Placing');
    expect(cond(d, 'Running')?.reason).toBe('WaitingForNodes');
  });

  test('realised: one pod per rank, listed in the status with its pod', () => {
    const j = job({ finalizer: true });
    const d = decideJob(observe(j, { entries: gang(j), realised: true }));
    expect(d.createPods.map((p) => p.metadata.name)).toEqual(['train-0', 'train-1']);
    expect(d.status?.workers?.map((w) => [w.rank, w.pod, w.phase])).toEqual([[0, 'train-0', 'Pending'], [1, 'train-1', 'Pending']]);
    expect(d.events.map((e) => e.reason)).toEqual(['WorkersCreated']);
  });

  test('every worker running: Running', () => {
    const j = job({ finalizer: true });
    const e = gang(j);
    const d = decideJob(observe(j, { entries: e, realised: true, pods: podsOf(j, e, 'Running') }));
    expect(d.status?.phase).toBe('Running');
    expect(d.createPods).toEqual([]);
  });

  test('a failed worker: the restart is counted first, the old pods go on the next pass', () => {
    const j = job({ finalizer: true });
    const e = gang(j);
    const pods = podsOf(j, e, 'Running');
    pods[1]!.status = { phase: 'Failed', reason: 'Error', message: 'exit 1' };
    const d = decideJob(observe(j, { entries: e, realised: true, pods }));
    expect(d.status?.restarts).toBe(1);
    expect(d.deletePods).toEqual([]);
    expect(d.events.map((x) => x.reason)).toEqual(['GangRestart']);
    const next = decideJob(observe({ ...j, status: d.status! }, { entries: e, realised: true, pods }));
    expect(next.deletePods.map((p) => p.metadata.name).sort()).toEqual(['train-0', 'train-1']);
  });

  test('restartPolicy Never: the first failure fails the job and releases its GPUs', () => {
    const j = job({ finalizer: true, restartPolicy: 'Never' });
    const e = gang(j);
    const pods = podsOf(j, e, 'Running');
    pods[0]!.status = { phase: 'Failed' };
    const d = decideJob(observe(j, { entries: e, realised: true, pods }));
    expect(d.status?.phase).toBe('Failed');
    expect(kind(d)).toBe('release');
    expect(d.deletePods.map((p) => p.metadata.name)).toEqual(['train-1']);
  });

  test('all succeeded: Succeeded and the GPUs go back', () => {
    const j = job({ finalizer: true });
    const e = gang(j);
    const d = decideJob(observe(j, { entries: e, realised: true, pods: podsOf(j, e, 'Succeeded') }));
    expect(d.status?.phase).toBe('Succeeded');
    expect(kind(d)).toBe('release');
  });

  test('a partial gang (a rank lost) tears down the pods and asks for the whole gang again', () => {
    const j = job({ finalizer: true, status: { phase: 'Running' } });
    const e = gang(j).slice(0, 1);
    const d = decideJob(observe(j, { entries: e, realised: true, pods: podsOf(j, gang(j), 'Running') }));
    expect(kind(d)).toBe('hold');
    expect(d.deletePods).toHaveLength(2);
    expect(d.events.map((x) => x.reason)).toContain('GangIncomplete');
  });

  test('suspend: pods deleted, GPUs released, Suspended once', () => {
    const j = job({ finalizer: true, suspend: true });
    const e = gang(j);
    const d = decideJob(observe(j, { entries: e, realised: true, pods: podsOf(j, e, 'Running') }));
    expect(d.status?.phase).toBe('Suspended');
    expect(kind(d)).toBe('release');
    expect(d.deletePods).toHaveLength(2);
    expect(d.events.map((x) => x.reason)).toEqual(['Suspended']);
    const suspended = (x: typeof d) => x.status?.conditions?.find((c) => c.type === 'Suspended')?.message;
    expect(suspended(d)).toBe('the job is suspended; releasing 2 GPU allocation(s)');
    const released = decideJob(observe({ ...j, status: d.status! }, {}));
    expect(released.events).toEqual([]);
    expect(suspended(released)).toBe('the job is suspended; its GPUs are released');
  });

  test.each([
    ['with claims: pods deleted and the gang released first', true, { finalizer: undefined, demand: 'release' }],
    ['claims gone: the finalizer goes', false, { finalizer: 'remove', demand: 'withdraw' }],
  ] as const)('deletion %s', (_n, claims, want) => {
    const j = job({ finalizer: true, deleting: true });
    const e = gang(j);
    const d = decideJob(observe(j, { ...(claims ? { entries: e } : {}), pods: podsOf(j, e, 'Running') }));
    expect(d.finalizer).toBe(want.finalizer);
    expect(kind(d)).toBe(want.demand);
    expect(d.deletePods).toHaveLength(2);
  });
});
