import * as grpc from '@grpc/grpc-js';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  AllocateResponse,
  DevicePluginOptions,
  ListAndWatchResponse,
  PreferredAllocationResponse,
  RegisterRequest,
} from '../../../src/device-plugin/api-types.js';
import { devicePluginServices, unixTarget } from '../../../src/device-plugin/grpc-definitions.js';

/** One ListAndWatch message as the fake kubelet received it. */
export interface Received {
  at: number;
  devices: Array<{ ID: string; health: string }>;
}

/** The kubelet's side of one registered plugin: its client and everything its stream delivered. */
export class PluginConnection {
  readonly updates: Received[] = [];
  ended = false;
  options: DevicePluginOptions | undefined;
  private waiters: Array<() => void> = [];
  readonly client: grpc.Client;
  private call: grpc.ClientReadableStream<ListAndWatchResponse> | undefined;

  constructor(
    readonly request: RegisterRequest,
    readonly registeredAt: number,
    socketPath: string,
  ) {
    this.client = new (devicePluginServices().devicePlugin.client)(unixTarget(socketPath), grpc.credentials.createInsecure());
  }

  /** Mirrors the kubelet: GetDevicePluginOptions, then a long-lived ListAndWatch. */
  async open(): Promise<void> {
    this.options = await this.unary<DevicePluginOptions>('GetDevicePluginOptions', {});
    const call = (this.client as unknown as { ListAndWatch: (r: object) => grpc.ClientReadableStream<ListAndWatchResponse> }).ListAndWatch({});
    this.call = call;
    call.on('data', (msg: ListAndWatchResponse) => {
      this.updates.push({ at: Date.now(), devices: msg.devices.map((d) => ({ ID: d.ID, health: d.health })) });
      this.notify();
    });
    const end = (): void => {
      this.ended = true;
      this.notify();
    };
    call.on('end', end);
    call.on('error', end);
  }

  /** Resolves once `pred` holds for the received updates, or rejects after `timeoutMs`. */
  async waitFor(pred: (c: PluginConnection) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting on ${this.request.resource_name}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Latest device list. */
  latest(): Received['devices'] {
    return this.updates.at(-1)?.devices ?? [];
  }

  allocate(ids: string[][]): Promise<AllocateResponse> {
    return this.unary('Allocate', { container_requests: ids.map((d) => ({ devices_ids: d })) });
  }

  preferred(available: string[], mustInclude: string[], size: number): Promise<PreferredAllocationResponse> {
    return this.unary('GetPreferredAllocation', {
      container_requests: [{ available_deviceIDs: available, must_include_deviceIDs: mustInclude, allocation_size: size }],
    });
  }

  close(): void {
    this.call?.cancel();
    this.client.close();
  }

  private unary<T>(method: string, req: object): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      (this.client as unknown as Record<string, (r: object, cb: (e: Error | null, v: T) => void) => void>)[method](req, (err, v) =>
        err ? reject(err) : resolve(v),
      ),
    );
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/**
 * A stand-in for the kubelet's device manager: serves `v1beta1.Registration` on `<dir>/kubelet.sock` and, on
 * every Register, dials the plugin socket and opens ListAndWatch as the kubelet does. `restart()` behaves like
 * a kubelet start: it deletes every socket in the directory and re-creates `kubelet.sock`.
 */
export class FakeKubelet {
  readonly connections: PluginConnection[] = [];
  private server: grpc.Server | undefined;
  private waiters: Array<() => void> = [];
  /** Set to make Register fail (like a duplicate or unsupported registration). */
  rejectRegistrations = false;

  constructor(readonly dir: string) {}

  async start(): Promise<void> {
    const server = new grpc.Server();
    server.addService(devicePluginServices().registration.definition, {
      Register: (call: grpc.ServerUnaryCall<RegisterRequest, object>, cb: grpc.sendUnaryData<object>) => {
        if (this.rejectRegistrations) {
          cb({ code: grpc.status.ALREADY_EXISTS, details: 'rejected by test' });
          return;
        }
        const conn = new PluginConnection(call.request, Date.now(), join(this.dir, call.request.endpoint));
        this.connections.push(conn);
        cb(null, {});
        // The kubelet dials the plugin after answering Register.
        setImmediate(() => {
          void conn.open().then(() => this.notify());
        });
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(unixTarget(join(this.dir, 'kubelet.sock')), grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.close();
    const server = this.server;
    this.server = undefined;
    if (server) server.forceShutdown();
  }

  /** Kubelet restart: stop, wipe every socket in the directory, start again. */
  async restart(): Promise<void> {
    await this.stop();
    for (const f of await readdir(this.dir)) if (f.endsWith('.sock')) await rm(join(this.dir, f), { force: true });
    await this.start();
  }

  /** Latest open connection for a resource. */
  connection(resource: string): PluginConnection | undefined {
    return this.connections.filter((c) => c.request.resource_name === resource && c.options).at(-1);
  }

  /** Waits until a connection for `resource` registered after `since` has its stream open. */
  async waitForConnection(resource: string, since = 0, timeoutMs = 5000): Promise<PluginConnection> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = this.connections.find((x) => x.request.resource_name === resource && x.registeredAt >= since && x.updates.length > 0);
      if (c) return c;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no registration of ${resource} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
