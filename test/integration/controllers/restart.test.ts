/**
 * The operator in-process against the real API server, stopped abruptly while it is still placing a burst of
 * partitions and replaced by a fresh one: the GpuNode ledgers must end up holding exactly the requested slices —
 * no slice lost, none claimed twice, every layout legal, and each partition's status matching the ledger.
 */
import type { GpuPartition } from '../../../src/api/types.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { eventually, type TestNamespace } from '../../support/cluster.js';
import { LedgerChecks, watchLedgerFor } from '../../support/ledger-checks.js';
import { OperatorHarness } from '../../support/operator-harness.js';

let client: KubeClient;
let ns: TestNamespace;
let selector: Record<string, string>;
let checks: LedgerChecks;
const h = new OperatorHarness();

beforeAll(async () => {
  await h.setUp('rst', { count: 4, gpus: 4 });
  ({ client, ns, selector } = h);
  checks = new LedgerChecks(client, ns.name, h.nodeNames);
  h.startAgent();
});

afterAll(() => h.stop());

const partition = (name: string, profile: string, count: number): GpuPartition => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuPartition',
  metadata: { name, namespace: ns.name },
  spec: { profile, count, nodeSelector: selector },
});

const partitions = () => checks.partitions();

// Mixed profiles and counts; 16 B200s leave room to spare so every partition can be placed.
const MIX: Array<[string, number]> = [
  ['1g.23gb', 2],
  ['2g.45gb', 1],
  ['1g.45gb', 1],
  ['3g.90gb', 1],
  ['1g.23gb', 1],
  ['2g.45gb', 2],
];

test('an operator stopped mid-allocation and replaced by a fresh one loses and double-allocates no slice', async () => {
  // Abrupt stop: the harness's stop() with a zero shutdown timeout does not wait for in-flight reconciles,
  // so operator #1 may still be writing while operator #2 starts (no leader election to fence them).
  const first = h.addOperator({ shutdownTimeoutMs: 0 });
  await first.start();
  const sampler = checks.watch();

  const wanted = new Map<string, { profile: string; count: number }>();
  for (let i = 0; i < 30; i++) {
    const [profile, count] = MIX[i % MIX.length]!;
    wanted.set(`burst-${i}`, { profile, count });
  }
  // Stop operator #1 the moment its first ledger write reaches a watcher: its other node writes and every status
  // write are then still to come or in flight. (Waiting for a Ready partition instead could, with the admission
  // cycle placing the whole burst in one cycle, find all 30 Ready and prove nothing about a restart.)
  const firstClaim = await watchLedgerFor(client, (gn) => ledgerEntries([gn]).some((e) => e.claim.namespace === ns.name));
  await Promise.all([...wanted].map(([name, { profile, count }]) => client.create(RESOURCES.gpuPartition, partition(name, profile, count))));
  await firstClaim.seen;
  await first.stop();
  const readyAtStop = (await partitions()).filter((p) => p.status?.phase === 'Ready').length;
  // The restart must happen mid-allocation, or this test would prove nothing about it.
  expect(readyAtStop).toBeLessThan(wanted.size);
  console.log(`restart-test: operator #1 stopped with ${readyAtStop}/${wanted.size} partitions Ready`);

  const second = h.addOperator();
  await second.start();
  await eventually(async () => (await partitions()).filter((p) => p.status?.phase === 'Ready').length === wanted.size, {
    timeoutMs: 60_000,
    what: 'all 30 partitions Ready after the restart',
  });
  expect((await sampler.stop()).problems).toEqual([]);
  await checks.expectPartitions(wanted);

  // Clean up while operator #2 still runs: it removes the finalizers and releases the slices.
  await Promise.all([...wanted.keys()].map((name) => client.delete(RESOURCES.gpuPartition, name, ns.name)));
  await eventually(async () => (await partitions()).length === 0, { timeoutMs: 30_000, what: 'burst partitions deleted' });
  await second.stop();
});
