import type { GpuNode } from '../../../src/api/types.js';
import { RESOURCES } from '../../../src/k8s/client.js';
import { NodeAgent } from '../../../src/node-agent/agent.js';
import { SimulatedNode } from '../../../src/node-agent/simulated-gpu.js';
import { modelForProduct } from '../../../src/placement/catalog.js';
import { FakeClient } from './fake-client.js';

const b200 = modelForProduct('NVIDIA-B200')!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A watch that ends sooner than this counts as closed immediately (agent's MIN_WATCH_MS is 1 s). */
const AGED_MS = 1100;

async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await sleep(10);
  }
}

describe('NodeAgent GpuNode watch', () => {
  let client: FakeClient;
  let agent: NodeAgent;

  /** What the client saw since `mark()`: reads by kind and status writes. */
  let mark: { reads: number; calls: number };
  const since = () => {
    const reads = client.reads.slice(mark.reads);
    return {
      gets: reads.filter((r) => r.startsWith('get gpunodes')).length,
      lists: reads.filter((r) => r.startsWith('list gpunodes')).length,
      watches: reads.filter((r) => r.startsWith('watch gpunodes')),
      statusWrites: client.calls.slice(mark.calls).filter((c) => c.startsWith('status gpunodes')).length,
    };
  };
  const setMark = () => {
    mark = { reads: client.reads.length, calls: client.calls.length };
  };

  beforeEach(async () => {
    client = new FakeClient();
    await client.create(RESOURCES.node, { metadata: { name: 'node-a' }, status: {} });
    const { sim } = await SimulatedNode.open({ node: 'node-a', model: b200, gpuCount: 2, reconfigureDelayMs: 1 });
    agent = new NodeAgent({ sim, client, patchNodeCapacity: true, watchBackoff: { baseMs: 100, maxMs: 1000 } });
    await agent.start();
    await until(() => agent.isReady());
    // Let the first pass's own status events settle.
    await sleep(50);
    setMark();
  });
  afterEach(() => agent.stop());

  it('after a watch timeout whose resourceVersion expired, relists once and resumes without writing', async () => {
    // Other GpuNodes were written meanwhile and the watch cache moved on past ours.
    await sleep(AGED_MS);
    // The watch resumes from the last GpuNode event it saw (later writes to other kinds do not count).
    const lastSeen = client.objects.get('gpunodes/node-a')!.metadata.resourceVersion;
    client.bumpRv(10_000);
    client.oldestWatchableRv = client.resourceVersion;
    client.endWatches();
    await sleep(300);
    const seen = since();
    expect(seen.statusWrites).toBe(0);
    expect(seen.gets).toBe(0);
    expect(seen.lists).toBe(1);
    // The resumed watch (410), then one from the relist's current resourceVersion.
    expect(seen.watches).toEqual([`watch gpunodes rv=${lastSeen}`, `watch gpunodes rv=${client.resourceVersion}`]);
    expect(client.watchers).toBe(1);

    // The resumed watch still delivers changes.
    await client.mergePatch(RESOURCES.gpuNode, 'node-a', { spec: { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0 }] }] } });
    await until(async () => (await client.get<GpuNode>(RESOURCES.gpuNode, 'node-a'))!.status?.gpus?.[0].mode === 'mig');
  });

  it('resumes a cleanly ended watch from the last bookmark without re-reading', async () => {
    await sleep(AGED_MS);
    client.bumpRv(500);
    client.bookmark();
    const bookmarked = client.resourceVersion;
    client.oldestWatchableRv = bookmarked;
    client.endWatches();
    await sleep(100);
    const seen = since();
    expect(seen.watches).toEqual([`watch gpunodes rv=${bookmarked}`]);
    expect(seen.lists + seen.gets).toBe(0);
    expect(seen.statusWrites).toBe(0);
    expect(client.watchers).toBe(1);
  });

  it('backs off while every watch expires at once, instead of spinning', async () => {
    client.oldestWatchableRv = Number.MAX_SAFE_INTEGER;
    client.endWatches();
    await sleep(600);
    const seen = since();
    // 100 ms → 1 s backoff (jitter only shortens): a handful of attempts, not hundreds.
    expect(seen.watches.length).toBeGreaterThanOrEqual(2);
    expect(seen.watches.length).toBeLessThanOrEqual(6);
    expect(seen.lists).toBeLessThanOrEqual(6);
    expect(seen.statusWrites).toBe(0);
    client.oldestWatchableRv = 0;
    await until(() => client.watchers === 1, 3000);
  });

  it('backs off after watch errors and after watches that close immediately', async () => {
    for (const failure of [new Error('connection refused'), 'close' as const]) {
      await sleep(AGED_MS);
      setMark();
      client.failWatches = failure;
      client.endWatches();
      await sleep(500);
      const seen = since();
      expect(seen.watches.length).toBeGreaterThanOrEqual(2);
      expect(seen.watches.length).toBeLessThanOrEqual(5);
      expect(seen.statusWrites).toBe(0);
      client.failWatches = undefined;
      await until(() => client.watchers === 1, 3000);
    }
  });

  it('sends no status write for passes that change nothing', async () => {
    await agent.trigger();
    await agent.trigger();
    // A write by someone else (the operator's ledger annotation) wakes the agent through the watch.
    await client.mergePatch(RESOURCES.gpuNode, 'node-a', { metadata: { annotations: { 'example.dev/x': '1' } } });
    await sleep(50);
    await agent.trigger();
    expect(since().statusWrites).toBe(0);
  });

  it('publishes the status again when its GpuNode is re-created', async () => {
    client.objects.delete('gpunodes/node-a');
    await client.create(RESOURCES.gpuNode, { metadata: { name: 'node-a', uid: 'second' }, spec: {} });
    await until(async () => (await client.get<GpuNode>(RESOURCES.gpuNode, 'node-a'))!.status?.conditions?.length === 2);
    expect(since().statusWrites).toBe(1);
  });
});
