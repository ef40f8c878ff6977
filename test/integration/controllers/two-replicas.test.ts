/**
 * Two operator replicas in-process against the real API server, with Lease-based leader election: only the
 * leader reconciles, no slice is ever claimed twice, and when the leader stops the standby takes over.
 */
import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import type { Manager } from '../../../src/runtime/manager.js';
import { eventually, type TestNamespace } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';

let client: KubeClient;
let ns: TestNamespace;
let nodeNames: string[];
let selector: Record<string, string>;
const h = new OperatorHarness();

function replica(identity: string): Manager {
  return h.addOperator({
    leaderElection: { namespace: ns.name, name: 'haein-operator', identity, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 },
    onLostLeadership: () => undefined,
  });
}

beforeAll(async () => {
  await h.setUp('ha', { count: 1, gpus: 2 });
  ({ client, ns, selector, nodeNames } = h);
  h.startAgent();
});

afterAll(() => h.stop());

const partition = (name: string): GpuPartition => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuPartition',
  metadata: { name, namespace: ns.name },
  spec: { profile: '1g.23gb', count: 3, nodeSelector: selector },
});

const ready = (name: string) =>
  eventually(async () => (await client.get<GpuPartition>(RESOURCES.gpuPartition, name, ns.name))?.status?.phase === 'Ready', { timeoutMs: 60_000, what: `${name} Ready` });

test('one leader reconciles, nothing is claimed twice, and the standby takes over when the leader stops', async () => {
  const a = replica('replica-a');
  const b = replica('replica-b');
  await Promise.all([a.start(), b.start()]);
  await eventually(async () => a.isLeader() !== b.isLeader(), { what: 'exactly one leader' });

  for (const name of ['p1', 'p2', 'p3']) await client.create(RESOURCES.gpuPartition, partition(name));
  for (const name of ['p1', 'p2', 'p3']) await ready(name);
  const entries = ledgerEntries((await client.list<GpuNode>(RESOURCES.gpuNode)).items.filter((n) => nodeNames.includes(n.metadata.name ?? '')));
  const keys = entries.map((e) => `${e.claim.name}/${e.claim.slot}`);
  expect(new Set(keys).size).toBe(keys.length);
  expect(keys).toHaveLength(9);

  const [leader, standby] = a.isLeader() ? [a, b] : [b, a];
  await leader.stop();
  await eventually(async () => standby.isLeader(), { timeoutMs: 30_000, what: 'standby leads' });
  // The new leader serves new work: a fourth partition fits in the slots left (2 GPUs × 7 − 9 = 5).
  await client.create(RESOURCES.gpuPartition, partition('p4'));
  await ready('p4');
  const after = ledgerEntries((await client.list<GpuNode>(RESOURCES.gpuNode)).items.filter((n) => nodeNames.includes(n.metadata.name ?? '')));
  expect(after).toHaveLength(12);
});
