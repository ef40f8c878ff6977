/**
 * Claim reconciliation against the real API server: two partitions hold one 1g.23gb slice each on one node,
 * and a simulated agent reports that partition A's pod got B's slice (as a kubelet may decide). The operator
 * swaps the two claims in the node's ledger, emits ClaimSwapped on both partitions, and their statuses then
 * name the right devices. A pod of no partition on a held slice only raises SliceMisused on the GpuNode.
 */
import { PARTITION_GATE, PARTITION_LABEL } from '../../../src/api/constants.js';
import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import type { PodObject } from '../../../src/api/pods.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { eventually, type TestNamespace } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';
import type { FakeAgent } from './fake-agent.js';

let client: KubeClient;
let ns: TestNamespace;
let agent: FakeAgent;
let node: string;
let selector: Record<string, string>;
const h = new OperatorHarness();

interface EventLike {
  type: string;
  reason: string;
  message: string;
  involvedObject: { kind: string; name: string };
}

const startOf = async (name: string) =>
  ledgerEntries([(await client.get<GpuNode>(RESOURCES.gpuNode, node))!]).find((e) => e.claim.namespace === ns.name && e.claim.name === name)?.start;
const eventsIn = async (namespace: string, reason: string) =>
  (await client.list<EventLike>(RESOURCES.event, { namespace })).items.filter((e) => e.reason === reason);

/** What a node agent reports once the kubelet gave `pod` the slice at `start`. */
async function reportUse(start: number, pod: string): Promise<void> {
  for (;;) {
    const gn = (await client.get<GpuNode>(RESOURCES.gpuNode, node))!;
    const slice = gn.status!.gpus![0]!.slices.find((s) => s.start === start)!;
    slice.inUse = true;
    slice.pod = { namespace: ns.name, name: pod };
    try {
      await client.replaceStatus(RESOURCES.gpuNode, gn);
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
}

beforeAll(async () => {
  await h.setUp('swap', { count: 1, gpus: 1 });
  ({ client, ns, selector } = h);
  node = h.nodeNames[0] as string;
  agent = h.startAgent();
  await h.startOperator();
});

afterAll(() => h.stop());

test('a pod of A given B’s slice: the ledger swaps the claims, both partitions are told, statuses follow', async () => {
  for (const name of ['a', 'b']) {
    await client.create(RESOURCES.gpuPartition, {
      apiVersion: 'gpu.haein.dev/v1alpha1',
      kind: 'GpuPartition',
      metadata: { name, namespace: ns.name },
      spec: { profile: '1g.23gb', count: 1, nodeSelector: selector },
    });
  }
  for (const name of ['a', 'b']) {
    await eventually(async () => (await client.get<GpuPartition>(RESOURCES.gpuPartition, name, ns.name))?.status?.phase === 'Ready', { what: `${name} Ready` });
  }
  // From here on the test plays the agent: the realised layout stays as it is.
  agent.stop();
  const aStart = (await startOf('a'))!;
  const bStart = (await startOf('b'))!;
  expect(aStart).not.toBe(bStart);

  const pod: PodObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'a-worker', namespace: ns.name, labels: { [PARTITION_LABEL]: 'a' } },
    spec: {
      schedulingGates: [{ name: PARTITION_GATE }],
      containers: [{ name: 'main', image: 'busybox', resources: { requests: { 'nvidia.com/mig-1g.23gb': '1' }, limits: { 'nvidia.com/mig-1g.23gb': '1' } } }],
    },
  };
  await client.create(RESOURCES.pod, pod);
  await reportUse(bStart, 'a-worker');

  await eventually(async () => (await startOf('a')) === bStart && (await startOf('b')) === aStart, { what: 'claims swapped' });
  const swapped = await eventually(
    async () => {
      const e = await eventsIn(ns.name, 'ClaimSwapped');
      return e.length >= 2 ? e : undefined;
    },
    { what: 'ClaimSwapped events' },
  );
  expect(swapped.map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}/${e.type}`).sort()).toEqual(['GpuPartition/a/Normal', 'GpuPartition/b/Normal']);
  expect(swapped.find((e) => e.involvedObject.name === 'a')?.message).toContain(`${ns.name}/a-worker`);

  const a = await eventually(
    async () => {
      const p = await client.get<GpuPartition>(RESOURCES.gpuPartition, 'a', ns.name);
      return p?.status?.allocations?.[0]?.start === bStart && p.status.allocations[0].inUse ? p : undefined;
    },
    { what: 'partition a reports the slice its pod uses' },
  );
  expect(a.status?.allocations?.[0]?.uuid).toBe(`MIG-${node}-0-${bStart}`);
  const b = await eventually(
    async () => {
      const p = await client.get<GpuPartition>(RESOURCES.gpuPartition, 'b', ns.name);
      return p?.status?.allocations?.[0]?.start === aStart ? p : undefined;
    },
    { what: 'partition b reports its new idle slice' },
  );
  expect(b.status?.allocations?.[0]).toMatchObject({ uuid: `MIG-${node}-0-${aStart}`, inUse: false });
});

test('a pod of no partition on B’s slice: Warning SliceMisused on the GpuNode, nothing moves', async () => {
  const aStart = (await startOf('a'))!;
  const bStart = (await startOf('b'))!;
  await client.create(RESOURCES.pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'stranger', namespace: ns.name },
    // Never scheduled: only its labels matter here.
    spec: { nodeSelector: { 'haein.dev/nowhere': 'true' }, containers: [{ name: 'main', image: 'busybox' }] },
  });
  await reportUse(bStart, 'stranger');
  const warning = await eventually(
    async () => (await eventsIn('default', 'SliceMisused')).find((e) => e.involvedObject.kind === 'GpuNode' && e.involvedObject.name === node),
    { what: 'SliceMisused on the GpuNode' },
  );
  expect(warning.type).toBe('Warning');
  expect(warning.message).toContain(`${ns.name}/stranger`);
  expect([await startOf('a'), await startOf('b')]).toEqual([aStart, bStart]);
});
