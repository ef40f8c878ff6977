/**
 * The admission cycle against the real API server: one cycle decides a batch and writes each touched GpuNode
 * once; a concurrent ledger writer on one node makes only that node's write fail (the generation guard), and only
 * the requests placed on it are planned again.
 */
import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import type { Manager } from '../../../src/runtime/manager.js';
import { eventually, type TestNamespace } from '../../support/cluster.js';
import { LedgerChecks } from '../../support/ledger-checks.js';
import { OperatorHarness } from '../../support/operator-harness.js';

const h = new OperatorHarness();
let client: KubeClient;
let ns: TestNamespace;
let selector: Record<string, string>;
let checks: LedgerChecks;

beforeAll(async () => {
  await h.setUp('cyc', { count: 2, gpus: 1 });
  ({ client, ns, selector } = h);
  checks = new LedgerChecks(client, ns.name, h.nodeNames);
  h.startAgent();
});

afterAll(() => h.stop());

const partition = (name: string): GpuPartition => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuPartition',
  metadata: { name, namespace: ns.name },
  spec: { profile: '7g.180gb', nodeSelector: selector },
});

async function metric(m: Manager, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await m.metrics.render();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (match[2] ?? '').includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}

test('a concurrent ledger writer on one node re-plans only the request placed on that node', async () => {
  // Both partitions exist before the operator starts: its first cycle decides them together, one per node.
  await client.create(RESOURCES.gpuPartition, partition('a'));
  await client.create(RESOURCES.gpuPartition, partition('b'));
  const [victimNode] = h.nodeNames;
  let injected = 0;
  const jsonPatch = client.jsonPatch.bind(client);
  client.jsonPatch = (async (ref, name, ops, namespace, opts) => {
    if (ref === RESOURCES.gpuNode && name === victimNode && injected === 0) {
      injected++;
      // Another writer changes the node's spec (a new generation) between the plan and the write.
      await client.mergePatch<GpuNode>(RESOURCES.gpuNode, name, { spec: { gpus: [{ index: 0, mode: 'mig', slices: [] }] } });
    }
    return jsonPatch(ref, name, ops, namespace, opts);
  }) as KubeClient['jsonPatch'];
  const operator = h.addOperator();
  try {
    await operator.start();
    await eventually(async () => (await checks.partitions()).filter((p) => p.status?.phase === 'Ready').length === 2, { timeoutMs: 60_000, what: 'both Ready' });
  } finally {
    client.jsonPatch = jsonPatch;
  }
  expect(injected).toBe(1);
  expect(await metric(operator, 'haein_ledger_writes_total', { result: 'conflict' })).toBe(1);
  // Two decisions in the first cycle, one more for the request whose node refused the write.
  expect(await metric(operator, 'haein_placement_decision_seconds_count', { kind: 'GpuPartition' })).toBe(3);
  await checks.expectPartitions(new Map([['a', { profile: '7g.180gb', count: 1 }], ['b', { profile: '7g.180gb', count: 1 }]]));
  const nodes = new Set((await checks.gpuNodes()).flatMap((n) => (n.spec?.gpus ?? []).filter((g) => g.slices.some((s) => s.claim)).map(() => n.metadata.name)));
  expect(nodes.size).toBe(2);
  await operator.stop();
});
