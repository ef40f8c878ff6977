/**
 * A burst of 300 partitions and 10 gangs served by two operator replicas (real `haein-operator` processes with
 * Lease-based leader election) whose leader is SIGKILLed twice mid-burst and started again, as a Deployment
 * would. The ledgers are sampled every 25 ms all through: never a slot claimed twice, never an illegal layout;
 * once settled, every partition is Ready with exactly its count, every gang Running with exactly its GPUs, and no
 * claim is left without a live owner.
 */
import type { GpuPartition, TrainingJob } from '../../../src/api/types.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { eventually, type TestNamespace } from '../../support/cluster.js';
import { LedgerChecks } from '../../support/ledger-checks.js';
import { OperatorHarness } from '../../support/operator-harness.js';
import { OperatorReplicas } from '../../support/operator-replicas.js';

const h = new OperatorHarness();
let client: KubeClient;
let ns: TestNamespace;
let selector: Record<string, string>;
let checks: LedgerChecks;
let replicas: OperatorReplicas;

beforeAll(async () => {
  await h.setUp('fob', { count: 16, gpus: 8, oneClique: true });
  ({ client, ns, selector } = h);
  checks = new LedgerChecks(client, ns.name, h.nodeNames);
  replicas = new OperatorReplicas(client, ns.name);
  h.startAgent();
});

afterAll(async () => {
  replicas?.killAll();
  await h.stop();
});

const PROFILES = ['1g.23gb', '1g.23gb', '1g.23gb', '2g.45gb', '2g.45gb', '3g.90gb'];

test('300 partitions and 10 gangs survive two SIGKILLed leaders: nothing claimed twice, everything Ready with exactly its count', async () => {
  await replicas.start();
  await replicas.start();
  const first = await eventually(() => replicas.leader(), { timeoutMs: 60_000, what: 'a leader' });
  const sampler = checks.watch(25);

  const wanted = new Map<string, { profile: string; count: number }>();
  for (let i = 0; i < 300; i++) wanted.set(`burst-${i}`, { profile: PROFILES[i % PROFILES.length]!, count: 1 });
  const partitions: GpuPartition[] = [...wanted].map(([name, { profile, count }]) => ({
    apiVersion: 'gpu.haein.dev/v1alpha1',
    kind: 'GpuPartition',
    metadata: { name, namespace: ns.name },
    spec: { profile, count, nodeSelector: selector },
  }));
  const jobs: TrainingJob[] = [...Array(10).keys()].map((i) => ({
    apiVersion: 'gpu.haein.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: `gang-${i}`, namespace: ns.name },
    spec: { replicas: 2, gpusPerWorker: 1, nodeSelector: selector, template: { spec: { containers: [{ name: 'w', image: 'busybox' }] } } },
  }));
  const creates = [...partitions.map((p) => () => client.create(RESOURCES.gpuPartition, p)), ...jobs.map((j) => () => client.create(RESOURCES.trainingJob, j))];
  // Interleave the gangs with the partitions, 8 creates at a time, like a burst of users.
  creates.sort((a, b) => creates.indexOf(a) % 31 - creates.indexOf(b) % 31);
  const applying = (async () => {
    for (let i = 0; i < creates.length; i += 8) await Promise.all(creates.slice(i, i + 8).map((c) => c()));
  })();

  const readyCount = async () => (await checks.partitions()).filter((p) => p.status?.phase === 'Ready').length;
  let killed = first;
  for (const atLeast of [60, 180]) {
    await eventually(async () => (await readyCount()) >= atLeast, { timeoutMs: 90_000, intervalMs: 100, what: `${atLeast} partitions Ready` });
    // After the first kill the Lease names the dead replica until a standby takes it over: wait for a live leader.
    const current = await eventually(() => replicas.leader(), { timeoutMs: 60_000, what: 'a live leader to kill' });
    replicas.kill(current, 'SIGKILL');
    killed = current;
    await replicas.start();
    console.log(`failover-burst: SIGKILLed leader ${killed} with ${await readyCount()} of 300 partitions Ready`);
  }
  await applying;
  await eventually(async () => (await replicas.leader()) !== undefined && (await replicas.leader()) !== killed, { timeoutMs: 60_000, what: 'a new leader' });

  await eventually(async () => (await readyCount()) === 300, { timeoutMs: 180_000, what: 'all 300 partitions Ready' });
  await eventually(async () => (await client.list<TrainingJob>(RESOURCES.trainingJob, { namespace: ns.name })).items.every((j) => j.status?.phase === 'Running'), {
    timeoutMs: 120_000,
    what: 'all 10 gangs Running',
  });
  const { problems, samples } = await sampler.stop();
  expect(problems).toEqual([]);
  // The sampler really watched the ledger through both failovers (each sample is one LIST; on a loaded machine
  // a LIST of the suite's GpuNodes takes well over the 25 ms interval, so the count depends on load).
  expect(samples).toBeGreaterThan(20);
  await checks.expectPartitions(wanted);
  await checks.expectJobs((await client.list<TrainingJob>(RESOURCES.trainingJob, { namespace: ns.name })).items);
  console.log(`failover-burst: ${samples} ledger samples, no problem seen; ${replicas.started} operator processes started`);
});
