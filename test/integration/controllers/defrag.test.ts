/**
 * Defragmentation against the real API server: a node whose three GPUs carry 1g slices at starts that block
 * 4g.90gb (start 0, slots 0–3). GPU 0's single slice is in use and GPU 1's belongs to a partition with an
 * admitted pod (one move each would free them); GPU 2 has two idle slices in the way. The in-process operator
 * must take the two-move plan, move only idle slices and place the 4g partition, which becomes Ready. The node
 * agent is simulated here (spec → status) so the in-use flag survives relayouts.
 */
import { API_VERSION, PARTITION_LABEL } from '../../../src/api/constants.js';
import type { ClaimRef, GpuNode, GpuPartition } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { deepEqual } from '../../../src/k8s/deep-equal.js';
import { DEFRAG_METRIC_NAMES } from '../../../src/scheduler/defrag/defrag-metrics.js';
import type { PodObject } from '../../../src/api/pods.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import type { Manager } from '../../../src/runtime/manager.js';
import { eventually, type TestNamespace } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';

let client: KubeClient;
let ns: TestNamespace;
let manager: Manager;
let node: string;
let selector: Record<string, string>;
const h = new OperatorHarness();
/** Slices (`gpu/start`) the simulated agent reports in use. */
const inUse = new Set<string>();

/** One agent step: the target layout becomes the realised one; in-use flags come from `inUse`. */
async function realise(): Promise<void> {
  const gn = await client.get<GpuNode>(RESOURCES.gpuNode, node);
  if (!gn?.status) return;
  const gpus = (gn.status.gpus ?? []).map((r) => {
    const t = gn.spec?.gpus?.find((g) => g.index === r.index);
    if (!t || t.mode !== 'mig') return r;
    const slices = t.slices.map((s) => ({ profile: s.profile, start: s.start, uuid: `MIG-${node}-${r.index}-${s.start}`, deviceId: `MIG-${node}-${r.index}-${s.start}`, inUse: inUse.has(`${r.index}/${s.start}`) }));
    return { ...r, mode: 'mig' as const, slices };
  });
  const status = { ...gn.status, gpus, observedGeneration: gn.metadata.generation };
  if (!deepEqual(status, gn.status)) await client.replaceStatus(RESOURCES.gpuNode, { ...gn, status });
}

const claims = async (name: string) => ledgerEntries([(await client.get<GpuNode>(RESOURCES.gpuNode, node)) as GpuNode]).filter((e) => e.claim.name === name);
const events = async (name: string) =>
  (await client.list<{ reason: string; message: string; involvedObject: { name: string } }>(RESOURCES.event, { namespace: ns.name })).items.filter((e) => e.involvedObject.name === name);

function partition(name: string, profile: string): GpuPartition {
  return { apiVersion: API_VERSION, kind: 'GpuPartition', metadata: { name, namespace: ns.name }, spec: { profile, nodeSelector: selector } };
}

beforeAll(async () => {
  await h.setUp('defrag', { count: 1, gpus: 3 });
  ({ client, ns, selector } = h);
  node = h.nodeNames[0] as string;

  // The fragmented ledger, written before the operator starts: one 1g slice per GPU, each in the way of a 4g.
  const layout: Array<[string, number, number]> = [
    ['busy', 0, 1],
    ['admitted', 1, 2],
    ['idle-a', 2, 1],
    ['idle-b', 2, 3],
  ];
  const gpus: NonNullable<NonNullable<GpuNode['spec']>['gpus']> = [];
  for (const [name, gpu, start] of layout) {
    const p = await client.create<GpuPartition>(RESOURCES.gpuPartition, partition(name, '1g.23gb'));
    const claim: ClaimRef = { kind: 'GpuPartition', namespace: ns.name, name, uid: p.metadata.uid as string, slot: 0, priority: 0, preemptible: false };
    const target = gpus.find((g) => g.index === gpu) ?? gpus[gpus.push({ index: gpu, mode: 'mig', slices: [] }) - 1]!;
    target.slices.push({ profile: '1g.23gb', start, claim });
  }
  const gn = (await client.get<GpuNode>(RESOURCES.gpuNode, node)) as GpuNode;
  await client.replace(RESOURCES.gpuNode, { ...gn, spec: { gpus } });
  inUse.add('0/1');
  await realise();
  // A pod admitted to `admitted` (gate lifted) whose container has not started: the agent reports nothing in use.
  await client.create<PodObject>(RESOURCES.pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'admitted-0', namespace: ns.name, labels: { [PARTITION_LABEL]: 'admitted' } },
    spec: { containers: [{ name: 'main', image: 'busybox', resources: { requests: { 'nvidia.com/mig-1g.23gb': '1' }, limits: { 'nvidia.com/mig-1g.23gb': '1' } } }] },
  });
  const timer = setInterval(() => void realise().catch(() => undefined), 200);
  h.useAgent({ stop: () => clearInterval(timer) });

  manager = await h.startOperator();
});

afterAll(() => h.stop());

test('a 4g partition on a fragmented node is placed after moving only idle slices, and becomes Ready', async () => {
  for (const name of ['busy', 'admitted', 'idle-a', 'idle-b']) {
    await eventually(async () => (await client.get<GpuPartition>(RESOURCES.gpuPartition, name, ns.name))?.status?.phase === 'Ready', { what: `${name} Ready` });
  }
  await client.create(RESOURCES.gpuPartition, partition('big', '4g.90gb'));
  const big = await eventually(
    async () => {
      const p = await client.get<GpuPartition>(RESOURCES.gpuPartition, 'big', ns.name);
      return p?.status?.phase === 'Ready' ? p : undefined;
    },
    { what: 'big Ready' },
  );
  expect(big.status?.allocations?.map((a) => [a.node, a.gpuIndex, a.start, a.profile])).toEqual([[node, 2, 0, '4g.90gb']]);

  // The in-use slice and the admitted partition's slice never moved, though each was a single move away from
  // making room; the idle ones left slots 0–3 of GPU 2.
  expect((await claims('busy')).map((e) => [e.gpuIndex, e.start])).toEqual([[0, 1]]);
  expect((await claims('admitted')).map((e) => [e.gpuIndex, e.start])).toEqual([[1, 2]]);
  for (const [name, from] of [['idle-a', 1], ['idle-b', 3]] as const) {
    const [idle, ...extra] = await claims(name);
    expect(extra).toHaveLength(0);
    expect(idle!.gpuIndex !== 2 || idle!.start! >= 4).toBe(true);
    // The moved partition shows its new place and is Ready again there.
    await eventually(
      async () => {
        const p = await client.get<GpuPartition>(RESOURCES.gpuPartition, name, ns.name);
        const a = p?.status?.allocations?.[0];
        return p?.status?.phase === 'Ready' && a?.gpuIndex === idle!.gpuIndex && a.start === idle!.start;
      },
      { what: `${name} Ready at its new place` },
    );
    const moved = await eventually(async () => (await events(name)).find((e) => e.reason === 'Moved'), { what: `Moved event of ${name}` });
    expect(moved.message).toContain(`from ${node}/gpu2@${from} to ${node}/gpu${idle!.gpuIndex}@${idle!.start}`);
  }
  const defragEvents = await eventually(async () => {
    const list = (await events('big')).filter((e) => e.reason === 'Defragmenting');
    return list.length > 0 ? list : undefined;
  }, { what: 'Defragmenting event' });
  expect(defragEvents[0]!.message).toBe(`moving 2 idle slices on ${node} GPU 2 to make room for 4g.90gb`);

  const metrics = await manager.metrics.render();
  expect(metrics).toContain(`${DEFRAG_METRIC_NAMES.plans}{result="applied"} 1`);
  expect(metrics).toContain(`${DEFRAG_METRIC_NAMES.moves}{action="move"} 2`);
});
