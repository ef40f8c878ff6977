/**
 * Metering across a SIGKILLed leader and a graceful failover, with real `haein-operator` processes (Lease-based
 * leader election, settlement every second, billing export on): six partitions of six profiles and a whole-GPU
 * job are allocated, the leader is SIGKILLed in the middle of a second burst, the next leader releases
 * one partition and is then stopped with SIGTERM (it hands the Lease over), the third releases the rest. The
 * ledgers are sampled every 25 ms throughout: for every allocation, the metered seconds equal its interval in the
 * ledger within 1 s (nothing lost, nothing doubled across the failovers: a lost failover gap would be the 3 s
 * Lease at least); the export of the leader and its counters say the same.
 */
import type { GpuPartition, TrainingJob } from '../../../src/api/types.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { AllocationLog, meteredUsage, observedUsage, usageReport, withinLedger } from '../../support/allocation-log.js';
import { eventually, type TestNamespace } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';
import { OperatorReplicas } from '../../support/operator-replicas.js';

const h = new OperatorHarness();
let client: KubeClient;
let ns: TestNamespace;
let selector: Record<string, string>;
let replicas: OperatorReplicas;

beforeAll(async () => {
  await h.setUp('mfo', { count: 2, gpus: 8 });
  ({ client, ns, selector } = h);
  replicas = new OperatorReplicas(client, ns.name);
  h.startAgent();
});

afterAll(async () => {
  replicas?.killAll();
  await h.stop();
});

/** A replica settling every second and serving the billing export. */
const startReplica = () => replicas.start(['--metering-interval-ms=1000'], ['metrics-port', 'billing-port']);
const leader = () => replicas.leader();

const partition = (name: string, profile: string): GpuPartition => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuPartition',
  metadata: { name, namespace: ns.name },
  spec: { profile, nodeSelector: selector },
});

test('metered seconds equal every allocation interval within 1 s across a SIGKILLed leader and a failover', async () => {
  const log = new AllocationLog(client, ns.name, h.nodeNames).start(25);
  await startReplica();
  await startReplica();
  const first = await eventually(leader, { timeoutMs: 60_000, what: 'a leader' });

  for (const [name, profile] of [['p1', '1g.23gb'], ['p2', '2g.45gb'], ['p3', '3g.90gb']] as const) await client.create(RESOURCES.gpuPartition, partition(name, profile));
  await client.create<TrainingJob>(RESOURCES.trainingJob, {
    apiVersion: 'gpu.haein.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: 'whole', namespace: ns.name },
    spec: { replicas: 1, gpusPerWorker: 1, nodeSelector: selector, template: { spec: { containers: [{ name: 'w', image: 'busybox' }] } } },
  });
  await eventually(async () => log.allocations().length === 4, { timeoutMs: 60_000, what: 'the first allocations' });
  // A few settlements by the first leader.
  await new Promise((r) => setTimeout(r, 2_500));

  // Mid-allocation: a second burst spans the kill — its first partition placed by the leader, which is SIGKILLed
  // the moment the ledger shows it, the others created while no replica leads.
  await client.create(RESOURCES.gpuPartition, partition('p4', '4g.90gb'));
  await eventually(async () => log.allocations().length >= 5, { timeoutMs: 30_000, intervalMs: 5, what: 'p4 allocated' });
  replicas.kill(first, 'SIGKILL');
  const killedWith = log.allocations().length;
  for (const [name, profile] of [['p5', '1g.45gb'], ['p6', '7g.180gb']] as const) await client.create(RESOURCES.gpuPartition, partition(name, profile));
  await startReplica();
  const second = await eventually(async () => {
    const l = await leader();
    return l !== undefined && l !== first ? l : undefined;
  }, { timeoutMs: 60_000, what: 'a new leader after the SIGKILL' });
  await eventually(async () => log.allocations().length === 7, { timeoutMs: 60_000, what: 'every allocation' });
  await new Promise((r) => setTimeout(r, 2_000));
  await client.delete(RESOURCES.gpuPartition, 'p1', ns.name);
  await eventually(async () => log.allocations().some((a) => a.claim.startsWith('GpuPartition/p1/') && a.goneBy !== undefined), { timeoutMs: 30_000, what: 'p1 released' });

  // Graceful failover: SIGTERM releases the Lease, the standby takes over at once.
  replicas.kill(second, 'SIGTERM');
  const third = await eventually(async () => {
    const l = await leader();
    return l !== undefined && l !== second && l !== first ? l : undefined;
  }, { timeoutMs: 60_000, what: 'a third leader' });
  await new Promise((r) => setTimeout(r, 2_000));
  for (const name of ['p2', 'p3', 'p4', 'p5', 'p6']) await client.delete(RESOURCES.gpuPartition, name, ns.name);
  await client.delete(RESOURCES.trainingJob, 'whole', ns.name);
  await eventually(async () => log.allGone(), { timeoutMs: 90_000, what: 'every allocation released' });
  const samples = await log.stop();

  const { sliceMs } = await meteredUsage(client, ns.name);
  const observed = observedUsage(log.allocations());
  console.log(`metering-failover: ${samples} ledger samples, ${killedWith} allocations when ${first} was SIGKILLed, leaders ${first} → ${second} → ${third}\n  ${usageReport(sliceMs, observed).join('\n  ')}`);
  expect(log.allocations()).toHaveLength(7);
  expect([...sliceMs.keys()].sort()).toEqual([...observed.keys()].sort());
  for (const [k, o] of observed) expect({ k, count: o.count, withinOneSecond: withinLedger(sliceMs.get(k) as number, o) }).toEqual({ k, count: 1, withinOneSecond: true });

  // The leader's billing export and counters say what the records say.
  const { 'billing-port': billingPort, 'metrics-port': metricsPort } = replicas.get(third)!.ports;
  const from = new Date(Math.min(...log.allocations().map((a) => a.allocatedAt)) - 3_600_000).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  const csv = await (await fetch(`http://127.0.0.1:${billingPort}/billing/usage?from=${from}&to=${to}&groupBy=tenant,namespace,profile&format=csv`)).text();
  const exported = new Map(
    csv
      .trim()
      .split('\n')
      .map((l) => l.split(','))
      .filter((f) => f[3] === ns.name)
      .map((f) => [`${f[2]}|${f[4]}`, Math.round(Number(f[5]) * 1000)]),
  );
  expect(exported).toEqual(sliceMs);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  for (const [k, ms] of sliceMs) {
    const [tenant, profile] = k.split('|');
    const line = metrics.split('\n').find((l) => l.startsWith('haein_metered_slice_seconds_total{') && l.includes(`tenant="${tenant}"`) && l.includes(`namespace="${ns.name}"`) && l.includes(`profile="${profile}"`));
    expect({ k, value: Number(line?.split(' ').at(-1)) }).toEqual({ k, value: expect.closeTo(ms / 1000, 3) });
  }
});
