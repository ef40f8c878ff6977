import * as grpc from '@grpc/grpc-js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  AllocateRequest,
  AllocateResponse,
  Device,
  DevicePluginOptions,
  ListAndWatchResponse,
  PreferredAllocationRequest,
  PreferredAllocationResponse,
  RegisterRequest,
} from './api-types.js';
import { DEVICE_PLUGIN_VERSION, KUBELET_SOCKET } from './api-types.js';
import { devicePluginServices, unixTarget } from './grpc-definitions.js';
import { type Log, silentLog } from './log.js';
import { type DevicePlace, type DevicePreference, preferredAllocation, preferredAllocationProblem } from './preferred-allocation.js';

/** One device as a plugin advertises it. */
export interface PluginDevice {
  /** Device ID sent to the kubelet (unique, ≤ 63 characters). */
  id: string;
  /** GPU or MIG UUID the container must see in `NVIDIA_VISIBLE_DEVICES`. */
  uuid: string;
  healthy: boolean;
  /** NUMA node of the GPU, reported as topology. */
  numaNode?: number;
  place: DevicePlace;
}

/** Settings of one plugin server. */
export interface PluginServerOptions {
  /** Extended resource, e.g. `nvidia.com/mig-1g.23gb`. */
  resourceName: string;
  /** Kubelet device-plugin directory holding `kubelet.sock` and the plugin sockets. */
  dir: string;
  /** Name of the kubelet registration socket in `dir`; default `kubelet.sock`. */
  kubeletSocketName?: string;
  /** Deadline of one Register call. */
  registerTimeoutMs?: number;
  log?: Log;
  /** Called after a successful Allocate with the device IDs handed out. */
  onAllocate?: (resourceName: string, deviceIds: string[]) => void;
  /** Which devices `GetPreferredAllocation` offers first; asked once per call, as the ledger changes. */
  preference?: () => DevicePreference | undefined;
}

/** Name of the socket file a resource's plugin listens on (inside the device-plugin directory). */
export function pluginSocketName(resourceName: string): string {
  return `haein-${resourceName.replace(/[^A-Za-z0-9._-]/g, '-')}.sock`;
}

const OPTIONS: DevicePluginOptions = { pre_start_required: false, get_preferred_allocation_available: true };

/**
 * A kubelet device plugin for one extended resource: a gRPC server on a unix socket serving
 * `v1beta1.DevicePlugin`, plus the client call that registers it with the kubelet. The device list can change
 * at any time through {@link setDevices}; every open `ListAndWatch` stream receives the full new list at once.
 */
export class DevicePluginServer {
  readonly resourceName: string;
  readonly socketPath: string;
  private readonly opts: PluginServerOptions;
  private readonly log: Log;
  private server: grpc.Server | undefined;
  private devices = new Map<string, PluginDevice>();
  private lastSent = '';
  private readonly streams = new Set<grpc.ServerWritableStream<unknown, ListAndWatchResponse>>();

  constructor(opts: PluginServerOptions) {
    this.opts = opts;
    this.resourceName = opts.resourceName;
    this.socketPath = join(opts.dir, pluginSocketName(opts.resourceName));
    this.log = opts.log ?? silentLog;
  }

  /** Number of open ListAndWatch streams (the kubelet holds one per registration). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Devices currently advertised. */
  currentDevices(): PluginDevice[] {
    return [...this.devices.values()];
  }

  /** Starts (or restarts) the gRPC server on the plugin socket, replacing a stale socket file. */
  async start(): Promise<void> {
    if (this.server) await this.shutdownServer();
    await rm(this.socketPath, { force: true });
    const server = new grpc.Server();
    server.addService(devicePluginServices().devicePlugin.definition, {
      GetDevicePluginOptions: (_call: unknown, cb: grpc.sendUnaryData<DevicePluginOptions>) => cb(null, OPTIONS),
      ListAndWatch: (call: grpc.ServerWritableStream<unknown, ListAndWatchResponse>) => this.listAndWatch(call),
      GetPreferredAllocation: (
        call: grpc.ServerUnaryCall<PreferredAllocationRequest, PreferredAllocationResponse>,
        cb: grpc.sendUnaryData<PreferredAllocationResponse>,
      ) => this.preferred(call.request, cb),
      Allocate: (call: grpc.ServerUnaryCall<AllocateRequest, AllocateResponse>, cb: grpc.sendUnaryData<AllocateResponse>) =>
        this.allocate(call.request, cb),
      PreStartContainer: (_call: unknown, cb: grpc.sendUnaryData<object>) => cb(null, {}),
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(unixTarget(this.socketPath), grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(new Error(`binding device plugin ${this.resourceName} on ${this.socketPath}`, { cause: err })) : resolve(),
      ),
    );
    this.server = server;
    this.log.debug('Device plugin server listening', { resource: this.resourceName, socket: this.socketPath });
  }

  /** Registers the plugin with the kubelet's Registration service. Rejects when the kubelet refuses or is absent. */
  async register(): Promise<void> {
    const { registration } = devicePluginServices();
    const kubeletSocket = join(this.opts.dir, this.opts.kubeletSocketName ?? KUBELET_SOCKET);
    const client = new registration.client(unixTarget(kubeletSocket), grpc.credentials.createInsecure());
    const request: RegisterRequest = {
      version: DEVICE_PLUGIN_VERSION,
      endpoint: pluginSocketName(this.resourceName),
      resource_name: this.resourceName,
      options: OPTIONS,
    };
    const deadline = new Date(Date.now() + (this.opts.registerTimeoutMs ?? 5000));
    try {
      await new Promise<void>((resolve, reject) =>
        (client as unknown as { Register: (r: RegisterRequest, o: grpc.CallOptions, cb: (e: Error | null) => void) => void })
          .Register(request, { deadline }, (err) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      throw new Error(`registering ${this.resourceName} with the kubelet at ${kubeletSocket}`, { cause: err });
    } finally {
      client.close();
    }
    this.log.info('Registered device plugin', { resource: this.resourceName });
  }

  /** Replaces the advertised devices; open ListAndWatch streams get the full list if anything changed. */
  setDevices(devices: readonly PluginDevice[]): void {
    this.devices = new Map(devices.map((d) => [d.id, d]));
    const message = this.listMessage();
    const signature = JSON.stringify(message);
    if (signature === this.lastSent) return;
    this.lastSent = signature;
    for (const stream of this.streams) stream.write(message);
  }

  /**
   * Ends the streams, shuts the server down and removes the socket. With `retire` (the resource is gone for
   * good) it first advertises an empty list so the kubelet drops the capacity at once; without it (agent
   * shutdown or restart) the kubelet keeps the devices through its grace period.
   */
  async stop(retire = true): Promise<void> {
    if (retire) this.setDevices([]);
    await this.shutdownServer();
    await rm(this.socketPath, { force: true });
  }

  private async shutdownServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    if (!server) return;
    await new Promise<void>((resolve) => {
      // A kubelet that keeps a connection open must not block shutdown for long.
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private listMessage(): ListAndWatchResponse {
    const devices: Device[] = [...this.devices.values()]
      .sort((a, b) => a.place.order - b.place.order || a.id.localeCompare(b.id))
      .map((d) => ({
        ID: d.id,
        health: d.healthy ? 'Healthy' : 'Unhealthy',
        ...(d.numaNode === undefined ? {} : { topology: { nodes: [{ ID: d.numaNode }] } }),
      }));
    return { devices };
  }

  private listAndWatch(call: grpc.ServerWritableStream<unknown, ListAndWatchResponse>): void {
    this.streams.add(call);
    const drop = (): void => {
      this.streams.delete(call);
    };
    call.on('cancelled', drop);
    call.on('close', drop);
    call.on('error', drop);
    call.write(this.listMessage());
  }

  private preferred(request: PreferredAllocationRequest, cb: grpc.sendUnaryData<PreferredAllocationResponse>): void {
    for (const [i, r] of request.container_requests.entries()) {
      const problem = preferredAllocationProblem(r.available_deviceIDs, r.must_include_deviceIDs, r.allocation_size);
      if (problem) {
        this.log.warn('GetPreferredAllocation refused', { resource: this.resourceName, container: i, problem });
        cb({ code: grpc.status.INVALID_ARGUMENT, details: `${this.resourceName} container request ${i}: ${problem}` });
        return;
      }
    }
    const places = new Map([...this.devices.values()].map((d) => [d.id, d.place]));
    const preference = this.opts.preference?.();
    cb(null, {
      container_responses: request.container_requests.map((r) => ({
        deviceIDs: preferredAllocation(places, r.available_deviceIDs, r.must_include_deviceIDs, r.allocation_size, preference),
      })),
    });
  }

  private allocate(request: AllocateRequest, cb: grpc.sendUnaryData<AllocateResponse>): void {
    // A device goes to one container once: a repeated ID (within or across containers) is a kubelet bug.
    const seen = new Set<string>();
    const repeated = new Set<string>();
    for (const id of request.container_requests.flatMap((c) => c.devices_ids)) (seen.has(id) ? repeated : seen).add(id);
    if (repeated.size > 0) {
      this.log.warn('Allocate refused', { resource: this.resourceName, repeated: [...repeated] });
      cb({ code: grpc.status.INVALID_ARGUMENT, details: `${this.resourceName} device(s) requested more than once: ${[...repeated].join(', ')}` });
      return;
    }
    const responses: AllocateResponse['container_responses'] = [];
    for (const container of request.container_requests) {
      const bad = container.devices_ids.filter((id) => !this.devices.get(id)?.healthy);
      if (bad.length > 0) {
        // The kubelet's view is stale: resend the list, then refuse.
        const message = this.listMessage();
        for (const stream of this.streams) stream.write(message);
        this.log.warn('Allocate refused', { resource: this.resourceName, devices: bad });
        cb({
          code: grpc.status.INVALID_ARGUMENT,
          details: `unknown or unhealthy ${this.resourceName} device(s): ${bad.join(', ')}`,
        });
        return;
      }
      const uuids = container.devices_ids.map((id) => this.devices.get(id)!.uuid);
      responses.push({
        envs: { NVIDIA_VISIBLE_DEVICES: uuids.join(',') },
        mounts: [],
        devices: [],
        annotations: {},
        cdi_devices: [],
      });
    }
    for (const container of request.container_requests) this.opts.onAllocate?.(this.resourceName, container.devices_ids);
    cb(null, { container_responses: responses });
  }
}
