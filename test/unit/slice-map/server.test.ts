import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GpuNode, GpuPartition, GpuTenant, ObjectMeta, TrainingJob } from '../../../src/api/types.js';
import type { PodObject } from '../../../src/api/pods.js';
import type { NodeObject } from '../../../src/ledger/snapshot.js';
import { applyPatch } from '../../../src/slice-map/patch.js';
import { SliceMapServer } from '../../../src/slice-map/server.js';
import type { SliceMapModel, SliceMapPatch } from '../../../src/slice-map/types.js';
import { StaticSource } from '../../../bench/static-source.js';
import { makeGpuNode, makeNode, makeTenant } from '../support/builders.js';

/** Reads server-sent events from a URL. */
class EventReader {
  readonly events: Array<{ event: string; data: unknown; at: number }> = [];
  #req: http.ClientRequest;
  constructor(url: string) {
    this.#req = http.get(url, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event && data) this.events.push({ event, data: JSON.parse(data), at: Date.now() });
        }
      });
    });
    this.#req.on('error', () => undefined);
  }
  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < n) {
      if (Date.now() > deadline) throw new Error(`got ${this.events.length} of ${n} events`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  close(): void {
    this.#req.destroy();
  }
}

function get(url: string): Promise<{ status: number; type: string; body: string; csp: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, csp: String(res.headers['content-security-policy']) }));
      })
      .on('error', reject);
  });
}

let server: SliceMapServer;
let base: string;
let gpuNodes: StaticSource<GpuNode>;
let partitions: StaticSource<GpuPartition>;
let tenants: StaticSource<GpuTenant>;
let namespaces: StaticSource<{ metadata: ObjectMeta }>;
const readers: EventReader[] = [];

beforeEach(async () => {
  const assets = mkdtempSync(join(tmpdir(), 'haein-map-'));
  writeFileSync(join(assets, 'index.html'), '<!doctype html><title>map</title>');
  writeFileSync(join(assets, 'slice-map.js'), 'export {};');
  writeFileSync(join(assets, 'slice-map.css'), 'body{}');
  gpuNodes = new StaticSource<GpuNode>([makeGpuNode('n1', { gpus: 2 })]);
  partitions = new StaticSource<GpuPartition>([], false);
  tenants = new StaticSource<GpuTenant>([]);
  namespaces = new StaticSource<{ metadata: ObjectMeta }>([{ metadata: { name: 'ml', labels: { team: 'ml' } } }]);
  server = new SliceMapServer({
    port: 0,
    host: '127.0.0.1',
    assetsDir: assets,
    intervalMs: 200,
    sources: {
      gpuNodes,
      nodes: new StaticSource<NodeObject>([makeNode('n1')]),
      partitions,
      jobs: new StaticSource<TrainingJob>([]),
      pods: [new StaticSource<PodObject>([])],
      tenants,
      namespaces,
    },
  });
  base = `http://127.0.0.1:${await server.start()}`;
});

afterEach(async () => {
  for (const r of readers.splice(0)) r.close();
  await server.stop();
});

test('serves the page, its assets and the map JSON; nothing else, and only GET', async () => {
  const page = await get(`${base}/`);
  expect(page).toMatchObject({ status: 200, type: 'text/html; charset=utf-8', body: '<!doctype html><title>map</title>' });
  expect(page.csp).toContain("default-src 'self'");
  expect((await get(`${base}/assets/slice-map.js`)).type).toBe('text/javascript; charset=utf-8');
  expect((await get(`${base}/assets/../../etc/passwd`)).status).toBe(404);
  expect((await get(`${base}/assets/other.js`)).status).toBe(404);
  const map = JSON.parse((await get(`${base}/api/slice-map`)).body) as SliceMapModel;
  expect(map.nodes.map((n) => n.name)).toEqual(['n1']);
  expect(map.totals.gpus).toBe(2);
  const post = await new Promise<number>((resolve) => {
    const req = http.request(`${base}/api/slice-map`, { method: 'POST' }, (res) => resolve(res.statusCode ?? 0));
    req.end();
  });
  expect(post).toBe(405);
});

test('an event stream starts with a snapshot, then sends one patch with only the changed node', async () => {
  const r = new EventReader(`${base}/api/slice-map/events`);
  readers.push(r);
  await r.waitFor(1);
  expect(r.events[0]!.event).toBe('snapshot');
  let model = r.events[0]!.data as SliceMapModel;
  expect(model.synced).toBe(false);

  gpuNodes.put(makeGpuNode('n2', { gpus: 1 }));
  await r.waitFor(2);
  const patch = r.events[1]!.data as SliceMapPatch;
  expect(r.events[1]!.event).toBe('patch');
  expect(patch.nodes.map((n) => n.name)).toEqual(['n2']);
  model = applyPatch(model, patch);
  expect(model.nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
  expect(model.nodes.find((n) => n.name === 'n2')?.schedulable).toBe(false); // no Node object
});

test('a burst of changes is coalesced; the first change after a quiet spell goes out at once', async () => {
  const r = new EventReader(`${base}/api/slice-map/events`);
  readers.push(r);
  await r.waitFor(1);
  await new Promise((res) => setTimeout(res, 250));
  const t0 = Date.now();
  for (let i = 0; i < 20; i++) gpuNodes.put(makeGpuNode(`b${i}`, { gpus: 1 }));
  await r.waitFor(2);
  // Coalesced: the 20 changes arrive as one patch, and promptly (no interval to wait out).
  expect((r.events[1]!.data as SliceMapPatch).nodes).toHaveLength(20);
  expect(r.events[1]!.at - t0).toBeLessThan(150);
  gpuNodes.put(makeGpuNode('late', { gpus: 1 }));
  await r.waitFor(3);
  // The next one waits for the interval (200 ms here) after the previous update.
  expect(r.events[2]!.at - r.events[1]!.at).toBeGreaterThanOrEqual(150);
});

test('becoming synced without a change event still reaches the page', async () => {
  const r = new EventReader(`${base}/api/slice-map/events`);
  readers.push(r);
  await r.waitFor(1);
  partitions.markSynced();
  await r.waitFor(2, 3000);
  expect((r.events[1]!.data as SliceMapPatch).synced).toBe(true);
});

test('every open page gets the same patches; stop ends the streams and unsubscribes', async () => {
  const a = new EventReader(`${base}/api/slice-map/events`);
  const b = new EventReader(`${base}/api/slice-map/events`);
  readers.push(a, b);
  await a.waitFor(1);
  await b.waitFor(1);
  expect(server.clientCount()).toBe(2);
  gpuNodes.put(makeGpuNode('n3', { gpus: 1 }));
  await a.waitFor(2);
  await b.waitFor(2);
  expect(a.events[1]!.data).toEqual(b.events[1]!.data);
  await server.stop();
  expect(server.clientCount()).toBe(0);
  expect(gpuNodes.handlerCount()).toBe(0);
});

test("a GpuTenant's change reaches the page as a patch of the tenants section; namespaces' labels resolve selectors", async () => {
  const r = new EventReader(`${base}/api/slice-map/events`);
  readers.push(r);
  await r.waitFor(1);
  expect((r.events[0]!.data as SliceMapModel).tenants).toEqual([]);
  const gn = makeGpuNode('n1', { gpus: 2 });
  // A claim from before tenancy (no tenant, no allocatedAt): shown as the tenant whose selector takes namespace ml.
  gn.spec = { gpus: [{ index: 0, mode: 'whole', slices: [], claim: { kind: 'TrainingJob', namespace: 'ml', name: 'llm', uid: 'u', slot: 0, priority: 0, preemptible: false } }] };
  gpuNodes.put(gn);
  tenants.put(makeTenant('research', { namespaceSelector: { matchLabels: { team: 'ml' } }, nominal: 8 }, { used: 1, borrowed: 0, lent: 0, waiting: 0 }));
  await r.waitFor(2);
  const patch = r.events.at(-1)!.data as SliceMapPatch;
  expect(patch.tenants).toEqual([expect.objectContaining({ name: 'research', nominal: 8, used: 1, reported: true })]);
  const model = applyPatch(r.events[0]!.data as SliceMapModel, patch);
  expect(model.nodes[0]!.gpus[0]!.slices[0]!.holder).toMatchObject({ tenant: 'research', tenantByNamespace: true });
  await server.stop();
  expect(tenants.handlerCount()).toBe(0);
  expect(namespaces.handlerCount()).toBe(0);
});
