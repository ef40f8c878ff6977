/**
 * Issue #4: the operator in-process against the real API server, (a) stopped abruptly while it is still
 * placing a burst of partitions and replaced by a fresh one, and (b) placing a partition while another writer
 * keeps bumping the target GpuNode's resourceVersion. In both cases the GpuNode ledgers must end up holding
 * exactly the requested slices: no slice lost, none claimed twice, every layout legal, and each partition's
 * status matching the ledger.
 */
import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { isConflict } from '../../../src/k8s/errors.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { modelForProduct, validateLayout } from '../../../src/placement/catalog.js';
import type { Manager } from '../../../src/runtime/manager.js';
import { eventually, type TestNamespace } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';

let client: KubeClient;
let ns: TestNamespace;
let nodeNames: string[];
let selector: Record<string, string>;
const h = new OperatorHarness();
const B200 = modelForProduct('NVIDIA-B200')!;

beforeAll(async () => {
  await h.setUp('rst', { count: 4, gpus: 4 });
  ({ client, ns, selector, nodeNames } = h);
  h.startAgent();
});

afterAll(() => h.stop());

const partition = (name: string, profile: string, count: number): GpuPartition => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuPartition',
  metadata: { name, namespace: ns.name },
  spec: { profile, count, nodeSelector: selector },
});

const gpuNodes = async () => (await client.list<GpuNode>(RESOURCES.gpuNode)).items.filter((n) => nodeNames.includes(n.metadata.name ?? ''));
const partitions = async () => (await client.list<GpuPartition>(RESOURCES.gpuPartition, { namespace: ns.name })).items;

/**
 * Checks the ledgers of the suite's nodes against the given partitions (all Ready): each holds exactly
 * `count` claims with slots 0..count-1 under its current uid, no claim appears twice, every GPU's layout is
 * legal (starts, no overlap) and `status.allocations` lists exactly the ledger's slices.
 */
async function expectConsistentLedger(wanted: Map<string, { profile: string; count: number }>): Promise<void> {
  const nodes = await gpuNodes();
  for (const node of nodes) {
    for (const gpu of node.spec?.gpus ?? []) {
      if (gpu.mode !== 'mig') continue;
      expect({ node: node.metadata.name, gpu: gpu.index, problems: validateLayout(B200, gpu.slices) }).toEqual({ node: node.metadata.name, gpu: gpu.index, problems: [] });
    }
  }
  const entries = ledgerEntries(nodes).filter((e) => e.claim.namespace === ns.name);
  const keys = entries.map((e) => `${e.claim.name}/${e.claim.slot}`);
  expect(keys.length - new Set(keys).size).toBe(0);
  const byName = new Map<string, typeof entries>();
  for (const e of entries) byName.set(e.claim.name, [...(byName.get(e.claim.name) ?? []), e]);
  expect([...byName.keys()].sort()).toEqual([...wanted.keys()].sort());

  for (const p of await partitions()) {
    const name = p.metadata.name as string;
    const want = wanted.get(name)!;
    const mine = byName.get(name) ?? [];
    expect(p.status?.phase).toBe('Ready');
    expect(mine.map((e) => e.claim.slot).sort((a, b) => a - b)).toEqual([...Array(want.count).keys()]);
    expect(mine.every((e) => e.profile === want.profile && e.claim.uid === p.metadata.uid)).toBe(true);
    const fromLedger = mine.map((e) => `${e.claim.slot}@${e.node}/${e.gpuIndex}/${e.start}`).sort();
    const fromStatus = (p.status?.allocations ?? []).map((a) => `${a.slot}@${a.node}/${a.gpuIndex}/${a.start}`).sort();
    expect({ name, allocations: fromStatus }).toEqual({ name, allocations: fromLedger });
  }
}

/** Ledger problems visible at one moment: a claim (partition/slot) held twice, or an illegal GPU layout. */
function ledgerProblems(nodes: GpuNode[]): string[] {
  const problems: string[] = [];
  for (const node of nodes) {
    for (const gpu of node.spec?.gpus ?? []) {
      if (gpu.mode === 'mig') problems.push(...validateLayout(B200, gpu.slices).map((m) => `${node.metadata.name}/${gpu.index}: ${m}`));
    }
  }
  const seen = new Set<string>();
  for (const e of ledgerEntries(nodes).filter((x) => x.claim.namespace === ns.name)) {
    const key = `${e.claim.name}/${e.claim.slot}`;
    if (seen.has(key)) problems.push(`${key} claimed twice`);
    seen.add(key);
  }
  return problems;
}

/**
 * Polls the ledgers until stopped and keeps every problem seen, so a double allocation that the operator
 * later heals still fails the test.
 */
function watchLedger(): { stop(): Promise<string[]> } {
  const problems: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      problems.push(...ledgerProblems(await gpuNodes()));
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...new Set(problems)];
    },
  };
}

/** Sum of `haein_reconcile_total` samples with the given result, over every controller. */
async function reconciles(manager: Manager, result: string): Promise<number> {
  const metric = await manager.metrics.reconcileTotal.get();
  return metric.values.filter((v) => v.labels.result === result).reduce((sum, v) => sum + v.value, 0);
}

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
  const sampler = watchLedger();

  const wanted = new Map<string, { profile: string; count: number }>();
  for (let i = 0; i < 30; i++) {
    const [profile, count] = MIX[i % MIX.length]!;
    wanted.set(`burst-${i}`, { profile, count });
  }
  await Promise.all([...wanted].map(([name, { profile, count }]) => client.create(RESOURCES.gpuPartition, partition(name, profile, count))));

  const readyAtStop = await eventually(
    async () => {
      const ready = (await partitions()).filter((p) => p.status?.phase === 'Ready').length;
      return ready > 0 ? ready : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50, what: 'first partitions Ready' },
  );
  await first.stop();
  // The restart must happen mid-allocation, or this test would prove nothing about it.
  expect(readyAtStop).toBeLessThan(wanted.size);
  console.log(`restart-test: operator #1 stopped with ${readyAtStop}/${wanted.size} partitions Ready`);

  const second = h.addOperator();
  await second.start();
  await eventually(async () => (await partitions()).filter((p) => p.status?.phase === 'Ready').length === wanted.size, {
    timeoutMs: 60_000,
    what: 'all 30 partitions Ready after the restart',
  });
  expect(await sampler.stop()).toEqual([]);
  await expectConsistentLedger(wanted);

  // Clean up while operator #2 still runs: it removes the finalizers and releases the slices.
  await Promise.all([...wanted.keys()].map((name) => client.delete(RESOURCES.gpuPartition, name, ns.name)));
  await eventually(async () => (await partitions()).length === 0, { timeoutMs: 30_000, what: 'burst partitions deleted' });
  await second.stop();
});

test('a partition placed while another writer keeps bumping the GpuNode resourceVersion is retried, not lost', async () => {
  const operator = h.addOperator();
  await operator.start();
  const errorsBefore = await reconciles(operator, 'error');
  // The operator writes through the suite's client. A background loop alone rarely lands between the
  // operator's read and its write, so the first FORCED ledger writes also get a bump right before they are
  // sent (a certain 409); every 409 the API server returns on a GpuNode write is counted.
  const FORCED = 4;
  let forced = 0;
  let rejected = 0;
  const replace = client.replace.bind(client);
  const bump = (name: string) => client.mergePatch(RESOURCES.gpuNode, name, { metadata: { annotations: { 'haein.dev/restart-test-bump': `forced-${forced}` } } });
  client.replace = (async (ref, obj) => {
    if (ref === RESOURCES.gpuNode && forced < FORCED) {
      forced++;
      await bump((obj as GpuNode).metadata.name as string);
    }
    try {
      return await replace(ref, obj);
    } catch (err) {
      if (ref === RESOURCES.gpuNode && isConflict(err)) rejected++;
      throw err;
    }
  }) as KubeClient['replace'];

  // Every suite node is a candidate, so bump them all: whichever the operator picks keeps changing under it.
  let bumping = true;
  let bumps = 0;
  const bumper = (async () => {
    while (bumping) {
      await Promise.all(
        nodeNames.map((n) => client.mergePatch(RESOURCES.gpuNode, n, { metadata: { annotations: { 'haein.dev/restart-test-bump': String(bumps) } } })),
      );
      bumps++;
    }
  })();
  const wanted = new Map([['contended', { profile: '1g.23gb', count: 3 }]]);
  try {
    await client.create(RESOURCES.gpuPartition, partition('contended', '1g.23gb', 3));
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    bumping = false;
    await bumper;
  }
  expect(bumps).toBeGreaterThan(5);

  await eventually(async () => (await client.get<GpuPartition>(RESOURCES.gpuPartition, 'contended', ns.name))?.status?.phase === 'Ready', {
    timeoutMs: 30_000,
    what: 'contended Ready',
  });
  client.replace = replace;
  await expectConsistentLedger(wanted);
  expect(forced).toBe(FORCED);
  expect(rejected).toBeGreaterThanOrEqual(FORCED);
  // A 409 is retried (re-read and rewritten, or requeued as a `conflict` pass), never counted as an error;
  // FORCED conflicts in a row outlast the operator's in-pass retry, so some pass must end as `conflict`.
  expect((await reconciles(operator, 'error')) - errorsBefore).toBe(0);
  expect(await reconciles(operator, 'conflict')).toBeGreaterThan(0);
  console.log(`restart-test: ${bumps} GpuNode bumps, ${rejected} ledger writes rejected with 409, ${await reconciles(operator, 'conflict')} conflict reconciles`);
});
