import { buildHeadlessService } from '../../../../src/controllers/trainingjob/headless-service.js';
import type { RankAllocation } from '../../../../src/controllers/trainingjob/job-placement.js';
import { podTargetNode } from '../../../../src/api/pods.js';
import { DEVICES_ANNOTATION, buildWorkerPod, workerIdentity, workerPodName } from '../../../../src/controllers/trainingjob/worker-pods.js';
import { makeJob } from '../../support/builders.js';

const alloc: RankAllocation = { rank: 1, node: 'n7', gpuIndices: [2, 3], devices: ['GPU-a', 'GPU-b'], realised: true };

describe('worker pods', () => {
  const job = makeJob('llm', 'ml', {
    replicas: 4,
    gpusPerWorker: 2,
    template: {
      metadata: { labels: { app: 'llm' } },
      spec: {
        nodeName: 'somewhere-else',
        restartPolicy: 'Always',
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] }] } } },
        containers: [
          { name: 'trainer', image: 'x', env: [{ name: 'RANK', value: '99' }, { name: 'KEEP', value: 'me' }], resources: { requests: { cpu: '4' } } },
          { name: 'sidecar', image: 'y' },
        ],
      },
    },
  });
  job.metadata.uid = 'job-uid';
  const pod = buildWorkerPod(job, alloc, 0);

  test('the first container gets the GPUs as requests and limits, keeping its own requests; sidecars get none', () => {
    expect(pod.spec.containers[0]?.resources).toEqual({ requests: { cpu: '4', 'nvidia.com/gpu': '2' }, limits: { 'nvidia.com/gpu': '2' } });
    expect(pod.spec.containers[1]?.resources).toBeUndefined();
  });

  test('every container sees the rendezvous environment; the operator overrides template values of the same name', () => {
    for (const c of pod.spec.containers) {
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
      expect(env).toMatchObject({ WORLD_SIZE: '4', RANK: '1', MASTER_ADDR: 'llm-0.llm.ml.svc', MASTER_PORT: '29500', PET_NNODES: '4', PET_NODE_RANK: '1', PET_NPROC_PER_NODE: '2', LOCAL_WORLD_SIZE: '2' });
    }
    const names = (pod.spec.containers[0]?.env ?? []).map((e) => e.name);
    expect(names.filter((n) => n === 'RANK')).toHaveLength(1);
    expect(names).toContain('KEEP');
  });

  test('pinned to its node on top of the template affinity, with stable DNS identity and operator-owned restarts', () => {
    expect(pod.spec.nodeName).toBeUndefined();
    expect(podTargetNode(pod)).toBe('n7');
    const term = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0];
    expect(term?.matchExpressions?.[0]?.key).toBe('zone');
    expect(pod.spec.hostname).toBe('llm-1');
    expect(pod.spec.subdomain).toBe('llm');
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.metadata.labels).toMatchObject({ app: 'llm', 'gpu.haein.dev/training-job': 'llm', 'gpu.haein.dev/rank': '1' });
    expect(pod.metadata.annotations?.[DEVICES_ANNOTATION]).toBe('GPU-a,GPU-b');
    expect(workerIdentity(pod)).toEqual({ rank: 1, attempt: 0 });
    expect(pod.metadata.ownerReferences?.[0]).toMatchObject({ uid: 'job-uid', controller: true, blockOwnerDeletion: true });
  });

  test('names: <job>-<rank> first, then -r<attempt>', () => {
    expect(workerPodName('llm', 3, 0)).toBe('llm-3');
    expect(workerPodName('llm', 3, 2)).toBe('llm-3-r2');
    expect(buildWorkerPod(job, alloc, 2).metadata.name).toBe('llm-1-r2');
  });

  test('slice workers ask for one slice of the profile', () => {
    const sliceJob = makeJob('ft', 'ml', { replicas: 2, profile: '1g.23gb' });
    const p = buildWorkerPod(sliceJob, { rank: 0, node: 'n1', gpuIndices: [0], profile: '1g.23gb', start: 0, devices: [], realised: true }, 0);
    expect(p.spec.containers[0]?.resources?.limits).toEqual({ 'nvidia.com/mig-1g.23gb': '1' });
    expect(p.metadata.annotations?.[DEVICES_ANNOTATION]).toBeUndefined();
  });

  test('the headless Service selects the job pods and publishes addresses before they are ready', () => {
    const svc = buildHeadlessService({ ...job, spec: { ...job.spec, masterPort: 1234 } });
    expect(svc.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: { 'gpu.haein.dev/training-job': 'llm' } });
    expect(svc.spec.ports[0]?.port).toBe(1234);
  });
});
