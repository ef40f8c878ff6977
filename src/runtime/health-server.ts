/**
 * HTTP endpoints for kubelet probes and Prometheus: `/healthz` (liveness), `/readyz` (readiness) and
 * `/metrics`. Each probe runs named checks; a failing check answers 503 and names itself.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type winston from 'winston';
import { listen } from './listen.js';

/** A named probe check: returns true when OK, or a string saying what is wrong. */
export type HealthCheck = () => boolean | string;

/** Options of a {@link HealthServer}. */
export interface HealthServerOptions {
  /** Port to listen on; 0 picks a free one. Default 8081. */
  port?: number;
  /** Bind address; default all interfaces. */
  host?: string;
  /** Registry served on `/metrics`. */
  registry?: Registry;
  /** Liveness checks for `/healthz`. */
  liveness?: Record<string, HealthCheck>;
  /** Readiness checks for `/readyz`. */
  readiness?: Record<string, HealthCheck>;
  logger?: winston.Logger;
}

/** Serves `/healthz`, `/readyz` and `/metrics`. */
export class HealthServer {
  private server: http.Server | undefined;
  private readonly liveness: Record<string, HealthCheck>;
  private readonly readiness: Record<string, HealthCheck>;

  constructor(private readonly opts: HealthServerOptions = {}) {
    this.liveness = { ...opts.liveness };
    this.readiness = { ...opts.readiness };
  }

  /** Adds or replaces a liveness check. */
  addLivenessCheck(name: string, check: HealthCheck): void {
    this.liveness[name] = check;
  }

  /** Adds or replaces a readiness check. */
  addReadinessCheck(name: string, check: HealthCheck): void {
    this.readiness[name] = check;
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.server) return (this.server.address() as AddressInfo).port;
    const server = http.createServer((req, res) => {
      void this.handle(req, res).catch((err) => {
        this.opts.logger?.error('Health endpoint failed', { url: req.url, err });
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    this.server = server;
    return listen(server, this.opts.port ?? 8081, this.opts.host);
  }

  /** Stops listening and closes idle connections. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz' || path === '/livez') return this.probe(res, this.liveness);
    if (path === '/readyz') return this.probe(res, this.readiness);
    if (path === '/metrics' && this.opts.registry) {
      const body = await this.opts.registry.metrics();
      res.writeHead(200, { 'Content-Type': this.opts.registry.contentType }).end(body);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  }

  private probe(res: http.ServerResponse, checks: Record<string, HealthCheck>): void {
    const lines: string[] = [];
    let ok = true;
    for (const [name, check] of Object.entries(checks)) {
      let result: boolean | string;
      try {
        result = check();
      } catch (err) {
        result = err instanceof Error ? err.message : String(err);
      }
      if (result === true) {
        lines.push(`[+] ${name} ok`);
      } else {
        ok = false;
        lines.push(`[-] ${name} failed: ${result === false ? 'not ready' : result}`);
      }
    }
    lines.push(ok ? 'ok' : 'failed');
    res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(`${lines.join('\n')}\n`);
  }
}
