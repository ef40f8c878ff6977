/**
 * Claim reconciliation against the real API server: two partitions hold one 1g.23gb slice each on one node,
 * and a simulated agent reports that partition A's pod got B's slice (as a kubelet may decide). The operator
 * swaps the two claims in the node's ledger, emits ClaimSwapped on both partitions, and their statuses then
 * name the right devices. A pod of no partition on a held slice only raises SliceMisused on the GpuNode. A pod
 * on a spare slice that the ledger re-carved from a stale report keeps it: the slice is restored with its
 * partition's claim and the claim planned over it is displaced (SliceRestored, ClaimDisplaced).
 */
import { PARTITION_GATE, PARTITION_LABEL } from '../../../src/api/constants.js';
import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import type { PodObject } from '../../../src/api/pods.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { eventually, type TestNamespace, type EventLike } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';
import type { FakeAgent } from './fake-agent.js';

let client: KubeClient;
let ns: TestNamespace;
let agent: FakeAgent;
let node: string;
let selector: Record<string, string>;
const h = new OperatorHarness();


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

test('a pod on a slice the ledger re-carved (planned from a stale report): the slice is put back with its partition’s claim, the claim planned over it is placed again', async () => {
  // A fresh partition e, realised and idle (a's and b's slices are in use by now).
  await client.create(RESOURCES.gpuPartition, {
    apiVersion: 'gpu.haein.dev/v1alpha1',
    kind: 'GpuPartition',
    metadata: { name: 'e', namespace: ns.name },
    spec: { profile: '1g.23gb', count: 1, nodeSelector: selector },
  });
  agent.start();
  await eventually(async () => (await client.get<GpuPartition>(RESOURCES.gpuPartition, 'e', ns.name))?.status?.phase === 'Ready', { what: 'e Ready' });
  agent.stop();
  // A tick already under way finishes; from here on the test plays the agent again.
  await new Promise((r) => setTimeout(r, 1000));
  const eStart = (await startOf('e'))!;
  // A partition no node can take: once displaced it stays unplaced, so the test sees the displacement itself.
  const d = await client.create<GpuPartition>(RESOURCES.gpuPartition, {
    apiVersion: 'gpu.haein.dev/v1alpha1',
    kind: 'GpuPartition',
    metadata: { name: 'd', namespace: ns.name },
    spec: { profile: '1g.45gb', count: 1, nodeSelector: { 'haein.dev/nowhere': 'true' } },
  });
  // A 1g.45gb start (0, 2, 4, 6) clear of every slice the ledger holds.
  const held = ledgerEntries([(await client.get<GpuNode>(RESOURCES.gpuNode, node))!]).map((e) => e.start);
  const spare = [6, 4, 2, 0].find((s) => !held.includes(s) && !held.includes(s + 1))!;
  expect(spare).toBeDefined();

  // What a cycle planning from a report that still said idle would write: d's 1g.45gb over the spare 1g.23gb...
  const gn = (await client.get<GpuNode>(RESOURCES.gpuNode, node))!;
  gn.spec!.gpus![0]!.slices.push({
    profile: '1g.45gb',
    start: spare,
    claim: { kind: 'GpuPartition', namespace: ns.name, name: 'd', uid: d.metadata.uid!, slot: 0, priority: 0, preemptible: false, allocatedAt: new Date().toISOString() },
  });
  gn.spec!.gpus![0]!.slices.sort((x, y) => x.start - y.start);
  await client.replace(RESOURCES.gpuNode, gn);
  // ...while the kubelet had given that spare to a pod of partition e (whose own slice sits idle).
  await client.create(RESOURCES.pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'e-notebook', namespace: ns.name, labels: { [PARTITION_LABEL]: 'e' } },
    spec: { nodeSelector: { 'haein.dev/nowhere': 'true' }, containers: [{ name: 'main', image: 'busybox' }] },
  });
  for (;;) {
    const cur = (await client.get<GpuNode>(RESOURCES.gpuNode, node))!;
    cur.status!.gpus![0]!.slices.push({ profile: '1g.23gb', start: spare, uuid: `MIG-spare-${spare}`, deviceId: `MIG-spare-${spare}`, inUse: true, pod: { namespace: ns.name, name: 'e-notebook' } });
    try {
      await client.replaceStatus(RESOURCES.gpuNode, cur);
      break;
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }

  // The running pod wins: its slice is back in the target with e's claim, d's claim is gone, e's old slice is spare.
  const after = await eventually(
    async () => {
      const cur = (await client.get<GpuNode>(RESOURCES.gpuNode, node))!;
      const mine = ledgerEntries([cur]).filter((e) => e.claim.namespace === ns.name);
      return mine.find((e) => e.claim.name === 'e')?.start === spare && !mine.some((e) => e.claim.name === 'd') ? cur : undefined;
    },
    { what: 'the busy slice restored to e, d displaced' },
  );
  const slices = after.spec!.gpus![0]!.slices;
  expect(slices.find((s) => s.start === spare)).toMatchObject({ profile: '1g.23gb', claim: { name: 'e' } });
  expect(slices.find((s) => s.start === eStart)?.claim).toBeUndefined();
  expect(slices.some((s) => s.profile === '1g.45gb' && s.start === spare)).toBe(false);

  const restored = await eventually(async () => (await eventsIn('default', 'SliceRestored')).find((e) => e.involvedObject.name === node), { what: 'SliceRestored on the GpuNode' });
  expect(restored.message).toContain(`${ns.name}/e-notebook`);
  expect(restored.message).toContain(`GpuPartition ${ns.name}/d slot 0`);
  const displaced = await eventually(async () => (await eventsIn(ns.name, 'ClaimDisplaced')).find((e) => e.involvedObject.name === 'd'), { what: 'ClaimDisplaced on d' });
  expect(displaced.type).toBe('Warning');
  // d is waiting again (nothing can take it), with the cycle's reason.
  await eventually(
    async () => {
      const p = await client.get<GpuPartition>(RESOURCES.gpuPartition, 'd', ns.name);
      return p?.status?.conditions?.find((c) => c.type === 'Allocated' && c.status === 'False') ? p : undefined;
    },
    { what: 'd waiting again' },
  );
});
