import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, KubeConfig, loadKubeConfig } from '../../../src/k8s/client.js';
import { ApiError, isAlreadyExists, isConflict, isGone, isNotFound } from '../../../src/k8s/errors.js';
import { RESOURCES } from '../../../src/k8s/resources.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: Seen, res: http.ServerResponse) => void;

/** A tiny fake API server: records requests and answers through the current handler. */
class FakeApiServer {
  readonly seen: Seen[] = [];
  handler: Handler = (_r, res) => res.writeHead(500).end();
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      this.seen.push(s);
      this.handler(s, res);
    });
  });
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error('condition not reached within 2 s');
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

function kubeConfigFor(port: number): KubeConfig {
  return new KubeConfig({
    context: 'ctx',
    cluster: { name: 'c', server: `http://127.0.0.1:${port}`, insecureSkipTlsVerify: true },
    user: { name: 'u', token: 'secret-token' },
  });
}

describe('KubeClient', () => {
  const api = new FakeApiServer();
  let client: KubeClient;

  beforeAll(async () => {
    await api.start();
    client = new KubeClient(kubeConfigFor(api.port), { fieldManager: 'haein-test', userAgent: 'haein-test/1' });
  });
  afterAll(() => api.stop());
  beforeEach(() => (api.seen.length = 0));

  it('GETs core and custom resources at the right paths with auth, and maps 404 to undefined', async () => {
    api.handler = (req, res) =>
      req.url.includes('missing') ? json(res, 404, status(404, 'NotFound', 'not found')) : json(res, 200, { metadata: { name: 'x' } });
    const pod = await client.get<{ kind: string; apiVersion: string }>(RESOURCES.pod, 'p1', 'ns1');
    expect(pod).toMatchObject({ kind: 'Pod', apiVersion: 'v1' });
    await client.get(RESOURCES.gpuNode, 'node-a');
    await client.get(RESOURCES.lease, 'l', 'kube-system');
    expect(await client.get(RESOURCES.gpuPartition, 'missing', 'ns1')).toBeUndefined();
    expect(api.seen.map((s) => s.url)).toEqual([
      '/api/v1/namespaces/ns1/pods/p1',
      '/apis/gpu.haein.dev/v1alpha1/gpunodes/node-a',
      '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l',
      '/apis/gpu.haein.dev/v1alpha1/namespaces/ns1/gpupartitions/missing',
    ]);
    expect(api.seen[0].headers.authorization).toBe('Bearer secret-token');
    expect(api.seen[0].headers['user-agent']).toBe('haein-test/1');
  });

  it('lists with selectors, fills kind/apiVersion and returns the list resourceVersion', async () => {
    api.handler = (_req, res) => json(res, 200, { metadata: { resourceVersion: '42' }, items: [{ metadata: { name: 'a' } }] });
    const out = await client.list<{ kind: string; apiVersion: string }>(RESOURCES.trainingJob, {
      namespace: 'team',
      labelSelector: 'app=x,tier in (a,b)',
    });
    expect(out.resourceVersion).toBe('42');
    expect(out.items[0]).toMatchObject({ kind: 'TrainingJob', apiVersion: 'gpu.haein.dev/v1alpha1' });
    const url = new URL(api.seen[0].url, 'http://x');
    expect(url.pathname).toBe('/apis/gpu.haein.dev/v1alpha1/namespaces/team/trainingjobs');
    expect(url.searchParams.get('labelSelector')).toBe('app=x,tier in (a,b)');
    await client.list(RESOURCES.pod);
    expect(api.seen[1].url).toBe('/api/v1/pods');
  });

  it('creates with the field manager and reports AlreadyExists distinctly from Conflict', async () => {
    api.handler = (req, res) => json(res, 201, JSON.parse(req.body));
    const created = await client.create(RESOURCES.service, { metadata: { name: 's', namespace: 'ns' }, spec: {} });
    expect(created).toMatchObject({ kind: 'Service', apiVersion: 'v1' });
    expect(api.seen[0].method).toBe('POST');
    expect(api.seen[0].url).toBe('/api/v1/namespaces/ns/services?fieldManager=haein-test');
    expect(api.seen[0].headers['content-type']).toBe('application/json');

    api.handler = (_req, res) => json(res, 409, status(409, 'AlreadyExists', 'services "s" already exists'));
    const err = await client.create(RESOURCES.service, { metadata: { name: 's', namespace: 'ns' } }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(isAlreadyExists(err)).toBe(true);
    expect(isConflict(err)).toBe(false);
    expect((err as ApiError).message).toContain('already exists');
  });

  it('replaces (PUT) object and status with resourceVersion, surfacing 409 as a conflict', async () => {
    api.handler = (req, res) => json(res, 200, JSON.parse(req.body));
    const obj = { metadata: { name: 'p', namespace: 'ns', resourceVersion: '7' }, spec: { count: 1 } };
    await client.replace(RESOURCES.gpuPartition, obj);
    await client.replaceStatus(RESOURCES.gpuPartition, obj);
    expect(api.seen.map((s) => `${s.method} ${s.url.split('?')[0]}`)).toEqual([
      'PUT /apis/gpu.haein.dev/v1alpha1/namespaces/ns/gpupartitions/p',
      'PUT /apis/gpu.haein.dev/v1alpha1/namespaces/ns/gpupartitions/p/status',
    ]);
    expect(JSON.parse(api.seen[0].body).metadata.resourceVersion).toBe('7');

    api.handler = (_req, res) => json(res, 409, status(409, 'Conflict', 'the object has been modified'));
    const err = await client.replace(RESOURCES.gpuPartition, obj).catch((e) => e);
    expect(isConflict(err)).toBe(true);
    expect(isConflict(new Error('updating status', { cause: err }))).toBe(true);
    await expect(client.replace(RESOURCES.gpuPartition, { metadata: {} })).rejects.toThrow(/metadata.name/);
  });

  it('sends merge patches with the merge-patch content type, for objects and status', async () => {
    api.handler = (_req, res) => json(res, 200, { metadata: { name: 'n' } });
    await client.mergePatch(RESOURCES.gpuNode, 'n', { spec: { gpus: [] } });
    await client.mergePatchStatus(RESOURCES.trainingJob, 'j', { status: { phase: 'Running' } }, 'ns');
    expect(api.seen[0].method).toBe('PATCH');
    expect(api.seen[0].headers['content-type']).toBe('application/merge-patch+json');
    expect(api.seen[1].url.split('?')[0]).toBe('/apis/gpu.haein.dev/v1alpha1/namespaces/ns/trainingjobs/j/status');
    expect(JSON.parse(api.seen[1].body)).toEqual({ status: { phase: 'Running' } });
  });

  it('lets go of a long-lived abort signal once each request is answered, and still aborts one in flight', async () => {
    const term = new AbortController();
    const ops = [{ op: 'add' as const, path: '/spec/x', value: 1 }];
    api.handler = (req, res) => (req.url.includes('refused') ? json(res, 409, status(409, 'Conflict', 'stale')) : json(res, 200, { metadata: { name: 'n' } }));
    for (let i = 0; i < 20; i++) await client.jsonPatch(RESOURCES.gpuNode, 'n', ops, undefined, { signal: term.signal });
    await expect(client.jsonPatch(RESOURCES.gpuNode, 'refused', ops, undefined, { signal: term.signal })).rejects.toThrow(/409/);
    // Listeners left on the signal would keep every request, its payload and its response reachable.
    expect(getEventListeners(term.signal, 'abort')).toHaveLength(0);

    api.handler = () => undefined; // never answers
    const hanging = client.jsonPatch(RESOURCES.gpuNode, 'slow', ops, undefined, { signal: term.signal }).catch((e: unknown) => e);
    await waitUntil(() => api.seen.some((r) => r.url.includes('/slow')));
    expect(getEventListeners(term.signal, 'abort')).toHaveLength(1);
    term.abort();
    const err = (await hanging) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(String((err.cause as Error).message)).toMatch(/aborted/);
    expect(getEventListeners(term.signal, 'abort')).toHaveLength(0);
  });

  it('deletes with a propagation policy and returns false on 404', async () => {
    api.handler = (req, res) =>
      req.url.includes('gone') ? json(res, 404, status(404, 'NotFound', 'x')) : json(res, 200, status(200, '', ''));
    expect(await client.delete(RESOURCES.pod, 'p', 'ns', { propagationPolicy: 'Foreground' })).toBe(true);
    expect(JSON.parse(api.seen[0].body)).toMatchObject({ kind: 'DeleteOptions', propagationPolicy: 'Foreground' });
    expect(await client.delete(RESOURCES.pod, 'gone', 'ns')).toBe(false);
  });

  it('raises other failures as ApiError with code, reason and body', async () => {
    api.handler = (_req, res) => json(res, 403, status(403, 'Forbidden', 'pods is forbidden: User cannot list'));
    const err = (await client.list(RESOURCES.pod).catch((e) => e)) as ApiError;
    expect(err.code).toBe(403);
    expect(err.reason).toBe('Forbidden');
    expect(err.message).toMatch(/GET \/api\/v1\/pods: 403 pods is forbidden/);
    expect(isNotFound(err) || isConflict(err) || isGone(err)).toBe(false);
  });

  it('reports a refused connection as ApiError code 0 with the cause', async () => {
    const dead = new KubeClient(kubeConfigFor(1));
    const err = (await dead.get(RESOURCES.pod, 'p', 'ns').catch((e) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe(0);
    expect(err.cause).toBeDefined();
  });

  it('streams watch events split across chunks, then reports a clean end once', async () => {
    api.handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const e1 = JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '5' } } });
      const e2 = JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '6' } } });
      res.write(e1.slice(0, 10));
      setTimeout(() => {
        res.write(`${e1.slice(10)}\n${e2}\n`);
        res.end();
      }, 20);
    };
    const events: Array<[string, unknown]> = [];
    const done = await new Promise<unknown[]>((resolve) => {
      const calls: unknown[] = [];
      void client.watch(
        RESOURCES.pod,
        { namespace: 'ns', resourceVersion: '4', labelSelector: 'a=b', timeoutSeconds: 30 },
        (type, obj) => events.push([type, obj]),
        (err) => {
          calls.push(err);
          setTimeout(() => resolve(calls), 50);
        },
      );
    });
    expect(done).toEqual([undefined]);
    expect(events.map(([t]) => t)).toEqual(['ADDED', 'BOOKMARK']);
    const url = new URL(api.seen[0].url, 'http://x');
    expect(url.pathname).toBe('/api/v1/namespaces/ns/pods');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      watch: '1',
      allowWatchBookmarks: 'true',
      resourceVersion: '4',
      labelSelector: 'a=b',
      timeoutSeconds: '30',
    });
  });

  it('reports a non-200 watch response as an ApiError and abort() as a clean end', async () => {
    api.handler = (_req, res) => json(res, 410, status(410, 'Gone', 'too old'));
    const err = await new Promise((resolve) => void client.watch(RESOURCES.pod, {}, () => undefined, resolve));
    expect(isGone(err)).toBe(true);

    api.handler = (_req, res) => res.writeHead(200).write(''); // stays open
    const ended: unknown[] = [];
    const handle = await client.watch(RESOURCES.pod, {}, () => undefined, (e) => ended.push(e));
    await new Promise((r) => setTimeout(r, 50));
    handle.abort();
    handle.abort();
    await new Promise((r) => setTimeout(r, 20));
    expect(ended).toEqual([undefined]);
  });

  it('ends the watch with an error when the connection drops mid-stream', async () => {
    api.handler = (_req, res) => {
      res.writeHead(200);
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const events: string[] = [];
    const err = await new Promise((resolve) => void client.watch(RESOURCES.pod, {}, (t) => events.push(t), resolve));
    expect(events).toEqual(['ADDED']);
    expect(err).toBeInstanceOf(ApiError);
  });
});

describe('loadKubeConfig', () => {
  it('loads an explicit path and fails clearly on a missing one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'haein-kc-'));
    const path = join(dir, 'config');
    await writeFile(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    try {
      expect(loadKubeConfig(path).cluster.server).toBe('https://127.0.0.1:6443');
      expect(() => loadKubeConfig(join(dir, 'nope'))).toThrow(/loading kubeconfig from/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
