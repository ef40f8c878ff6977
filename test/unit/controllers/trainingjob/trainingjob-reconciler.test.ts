import { JOB_FINALIZER, JOB_LABEL, RANK_LABEL } from '../../../../src/api/constants.js';
import type { GpuNode, TrainingJob } from '../../../../src/api/types.js';
import type { ServiceObject } from '../../../../src/controllers/trainingjob/headless-service.js';
import { podTargetNode, type PodObject } from '../../../../src/api/pods.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { makeGpuNode, makeJob } from '../../support/builders.js';
import { OperatorSim } from '../../support/operator-sim.js';

const NS = 'ml';
let sims: OperatorSim[] = [];
afterEach(async () => {
  for (const s of sims) await s.stop();
  sims = [];
});

function setup(nodes: GpuNode[] = [makeGpuNode('n1'), makeGpuNode('n2')], agent = false) {
  const sim = new OperatorSim(nodes, { agent }).start();
  sims.push(sim);
  const client = sim.client;
  const recorder = sim.recorder;
  const pass = async () => sim.settle();
  const job = (name = 'train') => sim.job(name, NS);
  const pods = () => client.all<PodObject>(RESOURCES.pod, NS).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const agentAll = () => sim.agent();
  const setPhase = (phase: string, which?: (p: PodObject) => boolean) => {
    for (const p of pods()) {
      if (which && !which(p)) continue;
      client.edit<PodObject>(RESOURCES.pod, p.metadata.name as string, NS, (x) => { x.status = { phase, ...(phase === 'Failed' ? { reason: 'Error', message: 'exit code 1' } : {}) }; });
    }
  };
  const claims = () => sim.entries().filter((e) => e.claim.kind === 'TrainingJob');
  return { sim, client, recorder, pass, job, pods, agentAll, setPhase, claims };
}

const env = (pod: PodObject) => Object.fromEntries((pod.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));

/** Runs a job to the point where its pods exist. */
async function launch(t: ReturnType<typeof setup>) {
  await t.pass();
  t.agentAll();
  await t.pass();
}

describe('TrainingJobReconciler with the admission cycle', () => {
  test('places the gang, waits for realisation, then starts one pinned pod per rank with the torchrun environment', async () => {
    const t = setup();
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 2, gpusPerWorker: 8, masterPort: 23456 }));
    await t.pass();
    let job = t.job();
    expect(job?.metadata.finalizers).toContain(JOB_FINALIZER);
    expect(job?.status?.phase).toBe('Placing');
    expect(job?.status?.conditions?.find((c) => c.type === 'Running')?.reason).toBe('WaitingForNodes');
    expect(t.claims()).toHaveLength(16);
    expect(t.pods()).toHaveLength(0);

    t.agentAll();
    await t.pass();
    const pods = t.pods();
    expect(pods.map((p) => p.metadata.name)).toEqual(['train-0', 'train-1']);
    expect(pods.map((p) => p.metadata.labels?.[RANK_LABEL])).toEqual(['0', '1']);
    const svc = t.client.all<ServiceObject>(RESOURCES.service, NS)[0];
    expect(svc?.spec.clusterIP).toBe('None');
    expect(svc?.spec.selector).toEqual({ [JOB_LABEL]: 'train' });
    job = t.job();
    for (const pod of pods) {
      const rank = Number(pod.metadata.labels?.[RANK_LABEL]);
      const worker = job?.status?.workers?.find((w) => w.rank === rank);
      expect(env(pod)).toMatchObject({ WORLD_SIZE: '2', RANK: String(rank), MASTER_ADDR: 'train-0.train.ml.svc', MASTER_PORT: '23456', LOCAL_WORLD_SIZE: '8' });
      expect(pod.spec.containers[0]?.resources?.limits).toEqual({ 'nvidia.com/gpu': '8' });
      expect(pod.spec.containers[0]?.resources?.requests).toEqual({ 'nvidia.com/gpu': '8' });
      expect(pod.spec.hostname).toBe(`train-${rank}`);
      expect(pod.spec.subdomain).toBe('train');
      expect(podTargetNode(pod)).toBe(worker?.node);
      expect(worker?.devices).toHaveLength(8);
      expect(pod.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'TrainingJob', uid: job?.metadata.uid, controller: true });
    }
    expect(new Set(job?.status?.workers?.map((w) => w.node)).size).toBe(2);
    expect(job?.status?.startTime).toBeDefined();

    t.setPhase('Running');
    await t.pass();
    expect(t.job()?.status?.phase).toBe('Running');
    const writes = t.client.writes.length;
    const events = t.recorder.events.length;
    await t.pass();
    expect(t.client.writes.length).toBe(writes);
    expect(t.recorder.events.length).toBe(events);
  });

  test('slice workers ask for one MIG slice of the profile', async () => {
    const t = setup([makeGpuNode('n1', { gpus: 1 })]);
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 3, profile: '2g.45gb' }));
    await launch(t);
    const pods = t.pods();
    expect(pods).toHaveLength(3);
    for (const p of pods) expect(p.spec.containers[0]?.resources?.limits).toEqual({ 'nvidia.com/mig-2g.45gb': '1' });
    expect(t.job()?.status?.workers?.every((w) => w.devices?.[0]?.startsWith('MIG-'))).toBe(true);
  });

  test('a gang that does not fit holds nothing and says why', async () => {
    const t = setup();
    t.client.seed(RESOURCES.trainingJob, makeJob('first', NS, { replicas: 2, gpusPerWorker: 8 }));
    await t.pass();
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 1, gpusPerWorker: 8 }));
    await t.pass();
    expect(t.claims().filter((c) => c.claim.name === 'train')).toHaveLength(0);
    expect(t.claims()).toHaveLength(16);
    expect(t.job()?.status?.phase).toBe('Pending');
    expect(t.job()?.status?.conditions?.find((c) => c.type === 'Placed')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
    await t.pass();
    expect(t.recorder.events.filter((e) => e.reason === 'Unsatisfiable')).toHaveLength(1);
    expect(t.job()?.metadata.finalizers ?? []).not.toContain(JOB_FINALIZER);
  });

  test('sameNode keeps every worker on one node', async () => {
    const t = setup();
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 2, gpusPerWorker: 4, topology: 'sameNode' }));
    await t.pass();
    expect(new Set(t.claims().map((c) => c.node)).size).toBe(1);
  });

  test('a failed worker restarts the whole gang on the same GPUs, then the job fails at the backoff limit', async () => {
    const t = setup();
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 2, gpusPerWorker: 8, backoffLimit: 1 }));
    await launch(t);
    const before = t.claims().map((c) => `${c.node}/${c.gpuIndex}`);
    t.setPhase('Running');
    t.setPhase('Failed', (p) => p.metadata.labels?.[RANK_LABEL] === '1');
    await t.pass(); // counts the restart, deletes attempt 0, starts attempt 1
    expect(t.job()?.status?.restarts).toBe(1);
    expect(t.recorder.reasons()).toContain('GangRestart');
    expect(t.pods().map((p) => p.metadata.name)).toEqual(['train-0-r1', 'train-1-r1']);
    expect(t.claims().map((c) => `${c.node}/${c.gpuIndex}`)).toEqual(before);

    t.setPhase('Failed', (p) => p.metadata.labels?.[RANK_LABEL] === '0');
    await t.pass();
    const job = t.job();
    expect(job?.status?.phase).toBe('Failed');
    expect(job?.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BackoffLimitExceeded');
    expect(job?.status?.completionTime).toBeDefined();
    expect(t.claims()).toHaveLength(0);
    // The still-running rank 1 was stopped.
    expect(t.pods().map((p) => p.metadata.name)).toEqual(['train-0-r1']);
  });

  test('when every worker succeeds the job completes and releases its GPUs', async () => {
    const t = setup();
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 2, gpusPerWorker: 2 }));
    await launch(t);
    t.setPhase('Succeeded');
    await t.pass();
    expect(t.job()?.status?.phase).toBe('Succeeded');
    expect(t.claims()).toHaveLength(0);
    expect(t.pods()).toHaveLength(2);
    const writes = t.client.writes.length;
    await t.pass();
    expect(t.client.writes.length).toBe(writes);
  });

  test('suspend deletes the workers and releases the GPUs; resume places the gang again', async () => {
    const t = setup();
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 2, gpusPerWorker: 8 }));
    await launch(t);
    t.client.edit<TrainingJob>(RESOURCES.trainingJob, 'train', NS, (j) => { j.spec.suspend = true; }, true);
    await t.pass();
    expect(t.job()?.status?.phase).toBe('Suspended');
    expect(t.claims()).toHaveLength(0);
    expect(t.pods()).toHaveLength(0);
    t.client.edit<TrainingJob>(RESOURCES.trainingJob, 'train', NS, (j) => { j.spec.suspend = false; }, true);
    await t.pass();
    expect(t.job()?.status?.phase).toBe('Placing');
    expect(t.claims()).toHaveLength(16);
    t.agentAll();
    t.setPhase('Running');
    await t.pass();
    expect(t.job()?.status?.phase).toBe('Running');
  });

  test('deletion removes workers, releases every GPU and the finalizer', async () => {
    const t = setup();
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 2, gpusPerWorker: 8 }));
    await launch(t);
    await t.client.delete(RESOURCES.trainingJob, 'train', NS);
    await t.pass();
    expect(t.job()).toBeUndefined();
    expect(t.claims()).toHaveLength(0);
    expect(t.pods()).toHaveLength(0);
    expect(t.recorder.reasons()).toContain('Released');
  });

  test('a gang half-written because of a 409 is never left half-allocated after the next pass', async () => {
    const t = setup([makeGpuNode('n1', { gpus: 1 }), makeGpuNode('n2', { gpus: 1 })]);
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 2, gpusPerWorker: 1 }));
    t.client.conflictOnce.add('GpuNode/n2');
    await t.pass();
    expect(t.claims().map((c) => `${c.node}:${c.claim.slot}`).sort()).toEqual(['n1:0', 'n2:1']);
    expect(t.recorder.events.filter((e) => e.reason === 'Placed')).toHaveLength(1);
  });
});

describe('TrainingJobReconciler pod lifecycle', () => {
  test('after a resume, pods still terminating from the suspend are waited for, not counted as failures', async () => {
    const t = setup();
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 1, gpusPerWorker: 1 }));
    await launch(t);
    // The pod has a finalizer-like delay: deletion only marks it, then it ends up Failed while terminating.
    t.client.edit<PodObject>(RESOURCES.pod, 'train-0', NS, (p) => { p.metadata.finalizers = ['example.com/slow']; });
    t.client.edit<TrainingJob>(RESOURCES.trainingJob, 'train', NS, (j) => { j.spec.suspend = true; }, true);
    await t.pass();
    t.client.edit<PodObject>(RESOURCES.pod, 'train-0', NS, (p) => { p.status = { phase: 'Failed', reason: 'Killed' }; });
    t.client.edit<TrainingJob>(RESOURCES.trainingJob, 'train', NS, (j) => { j.spec.suspend = false; }, true);
    // Step by step: the job waits (and re-checks) as long as the old pod terminates.
    for (let i = 0; i < 3; i++) {
      await t.sim.reconcileAll();
      await t.sim.cycle.idle();
      t.agentAll();
    }
    expect(t.job()?.status?.restarts ?? 0).toBe(0);
    expect(t.job()?.status?.conditions?.find((c) => c.type === 'Running')?.reason).toBe('Restarting');
    expect(t.recorder.reasons()).not.toContain('GangRestart');
    // Once the old pod is gone, the worker starts again.
    t.client.store.delete(t.client.key(RESOURCES.pod, 'train-0', NS));
    await t.pass();
    expect(t.pods().map((p) => p.metadata.name)).toEqual(['train-0']);
    expect(t.pods()[0]?.metadata.deletionTimestamp).toBeUndefined();
  });
});
