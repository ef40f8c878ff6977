/**
 * Serves the slice map read-only: the page (`/`, `/assets/…`, built into the image), the map as JSON
 * (`/api/slice-map`) and live updates as server-sent events (`/api/slice-map/events`: one `snapshot`, then a
 * `patch` per change). The map is built from the operator's informer caches, so an open page costs the API
 * server nothing; changes are coalesced to at most one update per `intervalMs` (250 ms), the first one after a
 * quiet spell going out at once, and the map is only rebuilt while a page is open.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type winston from 'winston';
import type { GpuNode, GpuPartition, GpuTenant, ObjectMeta, TrainingJob } from '../api/types.js';
import type { PodObject } from '../api/pods.js';
import type { NodeObject } from '../ledger/snapshot.js';
import { namespaceInfo } from '../tenancy/tenant-resolution.js';
import { buildSliceMap } from './build-model.js';
import { diffModel, indexModel, type SentModel } from './patch.js';
import type { SliceMapPatch } from './types.js';
import { listen } from '../runtime/listen.js';

/** A cache the map reads and follows (an `Informer` is one). */
export interface ObjectSource<T> {
  list(): T[];
  /** Registers a change handler; returns a function that unregisters it. */
  onChange(handler: (obj: T, previous: T | undefined, deleted: boolean) => void): () => void;
  hasSynced(): boolean;
}

/** The caches the map is built from. */
export interface SliceMapSources {
  gpuNodes: ObjectSource<GpuNode>;
  nodes: ObjectSource<NodeObject>;
  partitions: ObjectSource<GpuPartition>;
  jobs: ObjectSource<TrainingJob>;
  /** Pods labelled with a partition, and TrainingJob workers. */
  pods: Array<ObjectSource<PodObject>>;
  /** GpuTenants (absent: the map shows no tenants). */
  tenants?: ObjectSource<GpuTenant>;
  /** Namespaces, whose labels tenants' selectors match (for claims written before tenancy). */
  namespaces?: ObjectSource<{ metadata: ObjectMeta }>;
}

/** Options of a {@link SliceMapServer}. */
export interface SliceMapServerOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Bind address; default all interfaces. */
  host?: string;
  sources: SliceMapSources;
  /** Directory of the built page (index.html, slice-map.js, slice-map.css); default `page/` beside this file. */
  assetsDir?: string;
  /** Shortest time between two updates; default 250 ms. */
  intervalMs?: number;
  /** Keep-alive comment period on idle event streams; default 15 s. */
  heartbeatMs?: number;
  /** Most event streams at once; default 100. */
  maxClients?: number;
  logger?: winston.Logger;
}

/** The page files served under `/` and `/assets/`, with their content types. */
const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'slice-map.js': 'text/javascript; charset=utf-8',
  'slice-map.css': 'text/css; charset=utf-8',
};

const DEFAULT_ASSETS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'page');

/** HTTP server of the slice map. */
export class SliceMapServer {
  readonly #opts: SliceMapServerOptions;
  readonly #assets = new Map<string, Buffer>();
  readonly #clients = new Set<http.ServerResponse>();
  readonly #unsubscribe: Array<() => void> = [];
  #server: http.Server | undefined;
  #sent: SentModel | undefined;
  #dirty = true;
  #lastFlush = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #syncPoll: NodeJS.Timeout | undefined;
  #version = 0;

  constructor(opts: SliceMapServerOptions) {
    this.#opts = opts;
  }

  /** Loads the page, subscribes to the caches and listens; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.#server) return (this.#server.address() as AddressInfo).port;
    const dir = this.#opts.assetsDir ?? DEFAULT_ASSETS_DIR;
    for (const name of Object.keys(ASSETS)) {
      try {
        this.#assets.set(name, fs.readFileSync(path.join(dir, name)));
      } catch {
        // The API and the event stream still work; the page answers with how to build it.
      }
    }
    if (this.#assets.size < Object.keys(ASSETS).length) {
      this.#opts.logger?.warn('Slice map page assets missing; serving the API only', { dir });
    }
    for (const src of this.#allSources()) this.#unsubscribe.push(src.onChange(() => this.#changed()));
    // Becoming synced is no change event (an empty first list brings none): poll until it happened.
    this.#syncPoll = setInterval(() => {
      if (!this.#synced()) return;
      clearInterval(this.#syncPoll);
      this.#syncPoll = undefined;
      this.#changed();
    }, 500);
    this.#syncPoll.unref();
    this.#heartbeat = setInterval(() => {
      for (const res of this.#clients) res.write(': keep-alive\n\n');
    }, this.#opts.heartbeatMs ?? 15_000);
    this.#heartbeat.unref();

    const server = http.createServer((req, res) => this.#handle(req, res));
    this.#server = server;
    return listen(server, this.#opts.port, this.#opts.host);
  }

  /** Ends every event stream, unsubscribes and stops listening. */
  async stop(): Promise<void> {
    for (const u of this.#unsubscribe.splice(0)) u();
    for (const t of [this.#flushTimer, this.#heartbeat, this.#syncPoll]) if (t) clearTimeout(t);
    this.#flushTimer = this.#heartbeat = this.#syncPoll = undefined;
    for (const res of this.#clients) res.end();
    this.#clients.clear();
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Open event streams. */
  clientCount(): number {
    return this.#clients.size;
  }

  #allSources(): Array<ObjectSource<unknown>> {
    const s = this.#opts.sources;
    return [s.gpuNodes, s.nodes, s.partitions, s.jobs, ...s.pods, ...(s.tenants ? [s.tenants] : []), ...(s.namespaces ? [s.namespaces] : [])] as Array<ObjectSource<unknown>>;
  }

  #synced(): boolean {
    return this.#allSources().every((src) => src.hasSynced());
  }

  #changed(): void {
    this.#dirty = true;
    // Nobody is watching: build lazily on the next request instead.
    if (this.#clients.size === 0 || this.#flushTimer) return;
    const delay = Math.max(0, this.#lastFlush + (this.#opts.intervalMs ?? 250) - Date.now());
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flush();
    }, delay);
  }

  /** Rebuilds the map if anything changed and sends the difference to every open stream. */
  #flush(): SentModel {
    if (!this.#dirty && this.#sent) return this.#sent;
    this.#dirty = false;
    this.#lastFlush = Date.now();
    const s = this.#opts.sources;
    const nodes = new Map(s.nodes.list().map((n) => [n.metadata.name ?? '', n]));
    const model = buildSliceMap({
      gpuNodes: s.gpuNodes.list(),
      node: (name) => nodes.get(name),
      partitions: s.partitions.list(),
      jobs: s.jobs.list(),
      pods: s.pods.flatMap((p) => p.list()),
      tenants: s.tenants?.list() ?? [],
      namespaces: (s.namespaces?.list() ?? []).map(namespaceInfo),
      synced: this.#synced(),
      now: new Date(),
    });
    const next = indexModel(model);
    const patch = this.#sent ? diffModel(this.#sent, next) : undefined;
    this.#sent = next;
    if (patch) this.#broadcast(patch);
    return next;
  }

  #broadcast(patch: SliceMapPatch): void {
    this.#version++;
    const frame = `id: ${this.#version}\nevent: patch\ndata: ${JSON.stringify(patch)}\n\n`;
    for (const res of this.#clients) res.write(frame);
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = (req.url ?? '/').split('?')[0] as string;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const common = { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' };
    if (url === '/api/slice-map') {
      const body = JSON.stringify(this.#flush().model);
      res.writeHead(200, { ...common, 'Content-Type': 'application/json' }).end(body);
      return;
    }
    if (url === '/api/slice-map/events') return this.#openStream(req, res);
    if (url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { ...common, 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    const name = url === '/' ? 'index.html' : url.startsWith('/assets/') ? url.slice('/assets/'.length) : '';
    const type = ASSETS[name];
    if (!type) {
      res.writeHead(404, { ...common, 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    const body = this.#assets.get(name);
    if (!body) {
      res.writeHead(503, { ...common, 'Content-Type': 'text/plain' }).end('slice map page not built: run npm run build (the JSON is at /api/slice-map)\n');
      return;
    }
    res
      .writeHead(200, {
        ...common,
        'Content-Type': type,
        // Everything the page loads comes from this server: no CDN, no inline script.
        'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
      })
      .end(body);
  }

  #openStream(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.#clients.size >= (this.#opts.maxClients ?? 100)) {
      res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '10' }).end('too many open slice maps\n');
      return;
    }
    // Bring the other streams up to date first, so every stream follows the same sequence of patches.
    const current = this.#flush();
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write(`retry: 2000\nid: ${this.#version}\nevent: snapshot\ndata: ${JSON.stringify(current.model)}\n\n`);
    this.#clients.add(res);
    req.socket.setNoDelay(true);
    const close = () => this.#clients.delete(res);
    req.on('close', close);
    res.on('error', close);
  }
}
