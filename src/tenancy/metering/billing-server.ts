/**
 * The billing export over HTTP: `GET /billing/usage?from=…&to=…[&groupBy=tenant,namespace,profile]
 * [&granularity=total|hour][&format=json|csv][&tenant=…]`. Answers from the operator's caches (no API-server
 * call per request); 400 with a message for a bad query, 503 until the caches are synced. The CSV answer carries
 * the report's finality in headers (`X-Haein-Complete`, `X-Haein-Closed-Through`, `X-Haein-Retained-From`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LogPort } from '../../runtime/ports.js';
import { parseUsageQuery, reportCsv, type UsageQuery, type UsageReport } from './billing-report.js';
import { listen } from '../../runtime/listen.js';

/** Path of the usage report. */
export const BILLING_USAGE_PATH = '/billing/usage';

/** Where reports come from (a `UsageView`). */
export interface BillingSource {
  report(q: UsageQuery): UsageReport;
  ready(): boolean | string;
}

/** Options of a {@link BillingServer}. */
export interface BillingServerOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Bind address; default all interfaces. */
  host?: string;
  source: BillingSource;
  log?: LogPort;
}

/** HTTP server of the billing export. */
export class BillingServer {
  readonly #o: BillingServerOptions;
  #server: http.Server | undefined;

  /** Creates a stopped server. */
  constructor(opts: BillingServerOptions) {
    this.#o = opts;
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.#server) return (this.#server.address() as AddressInfo).port;
    const server = http.createServer((req, res) => {
      try {
        this.#handle(req, res);
      } catch (err) {
        this.#o.log?.error('Billing export failed', { url: req.url, err });
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      }
    });
    this.#server = server;
    return listen(server, this.#o.port, this.#o.host);
  }

  /** Stops listening. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://billing');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname !== BILLING_USAGE_PATH) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`not found; the usage report is at ${BILLING_USAGE_PATH}?from=<RFC 3339>&to=<RFC 3339>\n`);
      return;
    }
    const ready = this.#o.source.ready();
    if (ready !== true) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '5' }).end(`not ready: ${ready === false ? 'caches not synced' : ready}\n`);
      return;
    }
    const q = parseUsageQuery(url.searchParams);
    if (typeof q === 'string') {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${q}\n`);
      return;
    }
    const report = this.#o.source.report(q);
    if (q.format === 'csv') {
      res
        .writeHead(200, {
          'Content-Type': 'text/csv; charset=utf-8',
          'X-Haein-Complete': String(report.complete),
          ...(report.closedThrough ? { 'X-Haein-Closed-Through': report.closedThrough } : {}),
          'X-Haein-Retained-From': report.retainedFrom,
        })
        .end(reportCsv(report));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(report)}\n`);
  }
}
