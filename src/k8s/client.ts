/**
 * A small typed REST client for the Kubernetes API on Node's own http/https, with the kubeconfig handling of
 * `kubeconfig*.ts` for authentication (client certificates, tokens and token files, exec plugins, in-cluster
 * service account). Owning the transport keeps content types (merge patch), timeouts and the watch stream under
 * our control, and keeps `@kubernetes/client-node` (~85 MiB of memory once imported) out of every process but
 * those whose kubeconfig needs it.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { ApiError, FencedWriteError, isNotFound } from './errors.js';
import type { KubeConfig } from './kubeconfig-credentials.js';
import { RESOURCES, apiVersionOf, resourcePath, type ResourceRef } from './resources.js';

export type { ResourceRef } from './resources.js';
export { RESOURCES } from './resources.js';
export { ApiError, FencedWriteError, isAlreadyExists, isConflict, isFencedWrite, isGone, isNotFound } from './errors.js';
export { KubeConfig, loadInClusterConfig, loadKubeConfig } from './kubeconfig-credentials.js';

/** Watch event types delivered by the API server. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Options of a watch request. */
export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Start after this resourceVersion (normally the one a list returned). */
  resourceVersion?: string;
  /** Ask the server to end the watch after this many seconds (a clean end, not an error). */
  timeoutSeconds?: number;
}

/** Handle of a running watch. */
export interface WatchHandle {
  /** Ends the watch; `onDone` is then called without an error (once, like every watch). */
  abort(): void;
}

/** Options of a list request. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** The part of the client an informer needs; lets tests supply a fake. */
export type ListWatchClient = Pick<KubeClient, 'list' | 'watch'>;

interface ObjectWithMeta {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MERGE_PATCH = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';
const APPLY_PATCH = 'application/apply-patch+yaml';

/** One RFC 6902 JSON Patch operation. */
export type JsonPatchOp =
  | { op: 'test' | 'add' | 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** Typed CRUD, status and watch calls for any resource described by a {@link ResourceRef}. */
export class KubeClient {
  private readonly fieldManager: string;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  /** Keep-alive TLS agent for the current TLS material; shared with the clients {@link withWriteFence} derives. */
  private readonly agent = new KeepAliveAgent();
  /** When set and false, every request but a read is refused before it is sent (see {@link withWriteFence}). */
  private writeFence: (() => boolean) | undefined;

  constructor(
    private readonly kc: KubeConfig,
    opts: { fieldManager?: string; userAgent?: string; timeoutMs?: number } = {},
  ) {
    this.fieldManager = opts.fieldManager ?? 'haein';
    this.userAgent = opts.userAgent ?? 'haein';
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * A client sharing this one's connections that refuses every write (anything but GET) with a
   * {@link FencedWriteError} while `fence()` is false. The operator's controllers write through one fenced by the
   * leader Lease, so a replica resumed after a pause cannot overwrite what the new leader wrote meanwhile.
   */
  withWriteFence(fence: () => boolean): KubeClient {
    const fenced = Object.create(this) as KubeClient;
    fenced.writeFence = fence;
    return fenced;
  }

  /** Reads one object; `undefined` when it does not exist. */
  async get<T>(ref: ResourceRef, name: string, namespace?: string): Promise<T | undefined> {
    try {
      return this.withKind(ref, (await this.send('GET', resourcePath(ref, { name, namespace }))) as T);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Lists objects (all namespaces for a namespaced type without `namespace`), with the list's resourceVersion. */
  async list<T>(ref: ResourceRef, opts: ListOptions = {}): Promise<{ items: T[]; resourceVersion: string }> {
    const body = (await this.send('GET', resourcePath(ref, { namespace: opts.namespace }), {
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
    })) as { items?: T[]; metadata?: { resourceVersion?: string } };
    // List items come without kind/apiVersion; fill them so callers can build references from them.
    const items = (body.items ?? []).map((item) => this.withKind(ref, item));
    return { items, resourceVersion: body.metadata?.resourceVersion ?? '' };
  }

  /** Creates an object; 409 AlreadyExists is raised as an {@link ApiError}. */
  async create<T>(ref: ResourceRef, obj: T): Promise<T> {
    const meta = (obj as ObjectWithMeta).metadata ?? {};
    const body = this.withKind(ref, { ...(obj as object) } as T);
    return (await this.send('POST', resourcePath(ref, { namespace: meta.namespace }), {
      body,
      query: { fieldManager: this.fieldManager },
    })) as T;
  }

  /** Replaces an object (PUT); `metadata.resourceVersion`, when set, makes the write conditional (409 if stale). */
  async replace<T>(ref: ResourceRef, obj: T): Promise<T> {
    return this.put(ref, obj, undefined);
  }

  /** Applies a JSON merge patch (RFC 7386) to an object. */
  async mergePatch<T>(ref: ResourceRef, name: string, patch: object, namespace?: string): Promise<T> {
    return (await this.send('PATCH', resourcePath(ref, { name, namespace }), {
      body: patch,
      contentType: MERGE_PATCH,
      query: { fieldManager: this.fieldManager },
    })) as T;
  }

  /**
   * Applies an RFC 6902 JSON Patch. A failed `test` operation (the object is not in the state the caller
   * expected) is answered 422 by the API server; {@link isTestFailed} recognises it. `signal` aborts the request.
   */
  async jsonPatch<T>(ref: ResourceRef, name: string, ops: JsonPatchOp[], namespace?: string, opts: { signal?: AbortSignal } = {}): Promise<T> {
    return (await this.send('PATCH', resourcePath(ref, { name, namespace }), {
      body: ops,
      contentType: JSON_PATCH,
      query: { fieldManager: this.fieldManager },
      ...(opts.signal ? { signal: opts.signal } : {}),
    })) as T;
  }

  /**
   * Server-side apply of `obj` (apiVersion, kind, metadata.name/namespace and the fields this client owns) with
   * the client's field manager, forcing conflicts. Lists the API marks as sets — `metadata.finalizers` — are merged
   * per manager: applying `finalizers: [f]` adds `f` and applying `finalizers: []` removes only what this manager
   * added, whatever other writers did meanwhile.
   */
  async apply<T>(ref: ResourceRef, obj: T): Promise<T> {
    const meta = (obj as ObjectWithMeta).metadata;
    if (!meta?.name) throw new Error(`applying ${ref.kind}: metadata.name is required`);
    return (await this.send('PATCH', resourcePath(ref, { name: meta.name, namespace: meta.namespace }), {
      body: this.withKind(ref, { ...(obj as object) } as T),
      contentType: APPLY_PATCH,
      query: { fieldManager: this.fieldManager, force: 'true' },
    })) as T;
  }

  /**
   * Evicts a pod through the Eviction API (policy/v1), which honours PodDisruptionBudgets and the pod's
   * termination grace period. `false` when the pod is already gone; a 429 (budget exhausted) is raised.
   */
  async evict(name: string, namespace: string, opts: { gracePeriodSeconds?: number } = {}): Promise<boolean> {
    const body = {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name, namespace },
      ...(opts.gracePeriodSeconds !== undefined ? { deleteOptions: { gracePeriodSeconds: opts.gracePeriodSeconds } } : {}),
    };
    try {
      await this.send('POST', resourcePath(RESOURCES.pod, { name, namespace, subresource: 'eviction' }), { body });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Replaces the status subresource; conditional on `metadata.resourceVersion` when set. */
  async replaceStatus<T>(ref: ResourceRef, obj: T): Promise<T> {
    return this.put(ref, obj, 'status');
  }

  /** Applies a JSON merge patch to the status subresource. */
  async mergePatchStatus<T>(ref: ResourceRef, name: string, patch: object, namespace?: string): Promise<T> {
    return (await this.send('PATCH', resourcePath(ref, { name, namespace, subresource: 'status' }), {
      body: patch,
      contentType: MERGE_PATCH,
      query: { fieldManager: this.fieldManager },
    })) as T;
  }

  /** Deletes an object; `false` when it was already gone (404 is not a failure). */
  async delete(
    ref: ResourceRef,
    name: string,
    namespace?: string,
    opts: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan' } = {},
  ): Promise<boolean> {
    const body = opts.propagationPolicy
      ? { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: opts.propagationPolicy }
      : undefined;
    try {
      await this.send('DELETE', resourcePath(ref, { name, namespace }), { body });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Opens a watch. Events are delivered in order through `onEvent` (an `ERROR` event carries the Status
   * object, e.g. code 410 when the resourceVersion is too old). `onDone` is called exactly once: without
   * an error when the server ends the stream or `abort()` is called, with an {@link ApiError} otherwise
   * (including a non-200 response and a throw from `onEvent`). The returned promise never rejects;
   * failures to start are reported through `onDone` too.
   */
  async watch(
    ref: ResourceRef,
    opts: WatchOptions,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- watch payloads are untyped JSON
    onEvent: (type: WatchEventType, obj: any) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle> {
    const path = resourcePath(ref, { namespace: opts.namespace });
    let finished = false;
    const conn: { req?: http.ClientRequest } = {};
    const finish = (err?: unknown): void => {
      if (finished) return;
      finished = true;
      conn.req?.destroy();
      onDone(err);
    };
    const handle: WatchHandle = { abort: () => finish() };
    let target: Awaited<ReturnType<KubeClient['prepare']>>;
    try {
      target = await this.prepare('GET', path, {
        watch: '1',
        allowWatchBookmarks: 'true',
        resourceVersion: opts.resourceVersion,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        timeoutSeconds: opts.timeoutSeconds?.toString(),
      });
    } catch (cause) {
      finish(new ApiError(`watch ${path}: preparing request`, 0, { cause }));
      return handle;
    }
    if (finished) return handle;
    const req = target.mod.request(target.options, (res) => {
      if (res.statusCode !== 200) {
        // Rejected credentials (an expired exec token) are dropped so that the watch's restart sends fresh ones.
        if (res.statusCode === 401) void this.kc.credentialsRejected(target.options).catch(() => undefined);
        void readBody(res).then(
          (body) => finish(errorFromResponse('GET', `${path}?watch`, res.statusCode ?? 0, res.statusMessage, body)),
          (cause) => finish(new ApiError(`watch ${path}: reading error response`, res.statusCode ?? 0, { cause })),
        );
        return;
      }
      res.setEncoding('utf8');
      let buffered = '';
      let ended = false;
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while (!finished && (nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          let event: { type: WatchEventType; object: unknown };
          try {
            event = JSON.parse(line);
          } catch (cause) {
            finish(new ApiError(`watch ${path}: malformed event line`, 0, { cause }));
            return;
          }
          try {
            onEvent(event.type, event.object);
          } catch (cause) {
            finish(new ApiError(`watch ${path}: event handler failed`, 0, { cause }));
            return;
          }
        }
      });
      res.on('end', () => {
        ended = true;
        finish();
      });
      res.on('error', (cause) => finish(new ApiError(`watch ${path}: stream failed`, 0, { cause })));
      res.on('close', () => {
        if (!ended) finish(new ApiError(`watch ${path}: stream closed before it ended`, 0));
      });
    });
    conn.req = req;
    // A watch may be idle for minutes; TCP keepalive detects a dead peer that would otherwise hang it.
    req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
    req.on('error', (cause) => finish(new ApiError(`watch ${path}: request failed`, 0, { cause })));
    req.end();
    return handle;
  }

  private async put<T>(ref: ResourceRef, obj: T, subresource: string | undefined): Promise<T> {
    const meta = (obj as ObjectWithMeta).metadata;
    if (!meta?.name) throw new Error(`replacing ${ref.kind}: metadata.name is required`);
    return (await this.send('PUT', resourcePath(ref, { name: meta.name, namespace: meta.namespace, subresource }), {
      body: this.withKind(ref, { ...(obj as object) } as T),
      query: { fieldManager: this.fieldManager },
    })) as T;
  }

  private withKind<T>(ref: ResourceRef, obj: T): T {
    const o = obj as ObjectWithMeta;
    if (o && typeof o === 'object') {
      o.apiVersion ??= apiVersionOf(ref);
      o.kind ??= ref.kind;
    }
    return obj;
  }

  /** Builds request options: URL from the cluster, TLS agent and auth headers from the kubeconfig. */
  private async prepare(
    method: string,
    path: string,
    query: Record<string, string | undefined>,
    headers: Record<string, string> = {},
  ): Promise<{ mod: typeof https | typeof http; options: https.RequestOptions }> {
    const url = new URL(this.kc.cluster.server);
    url.pathname = url.pathname.replace(/\/$/, '') + path;
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, v);
    const options: https.RequestOptions = {
      method,
      protocol: url.protocol,
      // URL keeps IPv6 literals bracketed; the request API wants the bare address.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      path: url.pathname + url.search,
      headers: { Accept: 'application/json', 'User-Agent': this.userAgent, ...headers },
    };
    // Sets the TLS material (CA, client cert/key) and the Authorization header (token, tokenFile, exec, basic).
    await this.kc.applyToHTTPSOptions(options);
    // Reuse connections, unless client-node supplied a proxy agent.
    if (url.protocol === 'https:' && !this.kc.cluster.proxyUrl) options.agent = this.agent.for(options);
    return { mod: url.protocol === 'http:' ? http : https, options };
  }

  /** Sends one request and returns the parsed JSON body; any status ≥ 400 or transport failure is an ApiError. */
  private async send(
    method: string,
    path: string,
    opts: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = {};
    if (payload) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    for (let attempt = 0; ; attempt++) {
      let target: Awaited<ReturnType<KubeClient['prepare']>>;
      try {
        target = await this.prepare(method, path, opts.query ?? {}, headers);
      } catch (cause) {
        throw new ApiError(`${method} ${path}: preparing request`, 0, { cause });
      }
      try {
        return await this.sendOnce(method, path, target, payload, opts.signal);
      } catch (err) {
        // A 401 is answered before the request is acted on, so resending even a write is safe: once, when the
        // credentials changed meanwhile (an expired exec token, a rotated token file).
        if (attempt > 0 || !(err instanceof ApiError) || err.code !== 401 || !(await this.kc.credentialsRejected(target.options))) throw err;
      }
    }
  }

  /** One attempt of {@link send} with prepared options. */
  private async sendOnce(
    method: string,
    path: string,
    target: Awaited<ReturnType<KubeClient['prepare']>>,
    payload: Buffer | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    if (signal?.aborted) throw new ApiError(`${method} ${path}: aborted before sending`, 0, { cause: signal.reason });
    const fence = method !== 'GET' ? this.writeFence : undefined;
    if (fence && !fence()) throw new FencedWriteError(method, path);
    return new Promise((onBody, onError) => {
      // The signal usually outlives the request (one per leadership term): its listener must go with the request,
      // or every request ever sent stays reachable from it, with its payload and response.
      const onAbort = (): void => void req.destroy(new Error('aborted'));
      const resolve = (body: unknown): void => {
        signal?.removeEventListener('abort', onAbort);
        onBody(body);
      };
      const reject = (err: unknown): void => {
        signal?.removeEventListener('abort', onAbort);
        onError(err);
      };
      const req = target.mod.request(target.options, (res) => {
        readBody(res).then((body) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(body);
          else reject(errorFromResponse(method, path, status, res.statusMessage, body));
        }, (cause) => reject(new ApiError(`${method} ${path}: reading response`, res.statusCode ?? 0, { cause })));
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no response within ${this.timeoutMs} ms`)));
      req.on('error', (cause) => reject(new ApiError(`${method} ${path}: request failed`, 0, { cause })));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!fence) return void req.end(payload);
      // Checked again once a connected socket takes the request, right before its bytes are written: a process
      // paused (SIGSTOP, a long stall) after the first check must not send the write on waking, when another
      // replica may lead. Headers and body go out together with end(), so nothing was sent before this check.
      req.once('socket', (socket) => {
        const send = () => (fence() ? req.end(payload) : req.destroy(new FencedWriteError(method, path)));
        if (!(socket instanceof tls.TLSSocket)) return socket.connecting ? void socket.once('connect', send) : send();
        // getProtocol() names the TLS version only once the handshake is done ('unknown' or null before).
        const version = socket.getProtocol();
        return version && version !== 'unknown' ? send() : void socket.once('secureConnect', send);
      });
    });
  }
}

/**
 * A keep-alive https.Agent for the TLS material of the last request. Material that changes (a rotated exec
 * client certificate, a re-read CA file) gets a new agent; the old one closes its connections as they go idle.
 */
class KeepAliveAgent {
  private agent: https.Agent | undefined;
  private material: unknown[] = [];

  for(options: https.RequestOptions): https.Agent {
    const material = [options.ca, options.cert, options.key, options.rejectUnauthorized, options.servername];
    if (this.agent && material.every((m, i) => sameMaterial(m, this.material[i]))) return this.agent;
    if (this.agent) retire(this.agent);
    this.material = material;
    this.agent = new https.Agent({
      keepAlive: true,
      keepAliveMsecs: 30_000,
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.cert !== undefined ? { cert: options.cert } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(options.rejectUnauthorized !== undefined ? { rejectUnauthorized: options.rejectUnauthorized } : {}),
      ...(options.servername ? { servername: options.servername } : {}),
    });
    return this.agent;
  }
}

/** Equal TLS inputs: the same value, or Buffers (or lists of them) with the same bytes. */
function sameMaterial(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameMaterial(x, b[i]));
  return false;
}

/** Stops an agent from keeping connections: idle ones close now, busy ones when their request ends. */
function retire(agent: https.Agent): void {
  // Node's agent destroys a socket that becomes free when its keepAlive is off; requests in flight finish.
  (agent as unknown as { keepAlive: boolean }).keepAlive = false;
  for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
}

/** Reads a response body, parsing JSON when possible. */
function readBody(res: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        resolve(text);
      }
    });
  });
}

/** Turns a non-2xx response (normally a `Status` object) into an ApiError naming the call. */
function errorFromResponse(method: string, path: string, code: number, statusText: string | undefined, body: unknown): ApiError {
  const status = body && typeof body === 'object' ? (body as { message?: string; reason?: string }) : undefined;
  const detail = status?.message ?? (typeof body === 'string' ? body.slice(0, 300) : statusText ?? '');
  return new ApiError(`${method} ${path}: ${code} ${detail}`.trim(), code, {
    ...(status?.reason ? { reason: status.reason } : {}),
    ...(body !== undefined ? { body } : {}),
  });
}
