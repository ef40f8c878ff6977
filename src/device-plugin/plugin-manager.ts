import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KUBELET_SOCKET } from './api-types.js';
import { type Log, silentLog } from './log.js';
import { DevicePluginServer, type PluginDevice } from './plugin-server.js';
import type { DevicePreference } from './preferred-allocation.js';

/** Settings of the plugin manager. */
export interface PluginManagerOptions {
  /** Kubelet device-plugin directory. */
  dir: string;
  kubeletSocketName?: string;
  /** How often to look for a kubelet restart or a removed plugin socket; default 500 ms. */
  pollIntervalMs?: number;
  registerTimeoutMs?: number;
  log?: Log;
  onAllocate?: (resourceName: string, deviceIds: string[]) => void;
  /** Which devices `GetPreferredAllocation` offers first, asked once per call (see {@link DevicePreference}). */
  preference?: () => DevicePreference | undefined;
  /** Called after each successful registration (for metrics and tests). */
  onRegistered?: (resourceName: string) => void;
}

interface Entry {
  server: DevicePluginServer;
  registered: boolean;
}

/**
 * Runs one {@link DevicePluginServer} per extended resource that has devices, starting servers for resources
 * that appear and retiring (empty list, then shutdown) those that disappear. It re-registers everything when
 * the kubelet restarts, which it detects by `kubelet.sock` being re-created or a plugin socket vanishing (the
 * kubelet deletes them on start).
 */
export class DevicePluginManager {
  private readonly opts: PluginManagerOptions;
  private readonly log: Log;
  private readonly entries = new Map<string, Entry>();
  private kubeletIdentity: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private registerFailuresLogged = new Set<string>();
  private stopped = false;

  constructor(opts: PluginManagerOptions) {
    this.opts = opts;
    this.log = opts.log ?? silentLog;
  }

  /** Resources currently served. */
  resources(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** The server of one resource, if running. */
  server(resourceName: string): DevicePluginServer | undefined {
    return this.entries.get(resourceName)?.server;
  }

  /** Whether every served resource is registered with the current kubelet. */
  allRegistered(): boolean {
    return [...this.entries.values()].every((e) => e.registered);
  }

  /** Starts the kubelet watch loop. Call {@link update} to publish devices. */
  start(): void {
    this.stopped = false;
    const interval = this.opts.pollIntervalMs ?? 500;
    const loop = (): void => {
      if (this.stopped) return;
      void this.serialised(() => this.tick()).finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, interval);
      });
    };
    this.timer = setTimeout(loop, 0);
  }

  /**
   * Publishes the full set of resources and their devices. Resources absent from the map (or with no
   * devices) stop being served; new ones get a server that registers with the kubelet right away.
   */
  update(resources: ReadonlyMap<string, readonly PluginDevice[]>): Promise<void> {
    return this.serialised(async () => {
      for (const [name, entry] of [...this.entries]) {
        if ((resources.get(name)?.length ?? 0) > 0) continue;
        this.entries.delete(name);
        await entry.server.stop();
        this.log.info('Stopped device plugin for vanished resource', { resource: name });
      }
      for (const [name, devices] of resources) {
        if (devices.length === 0) continue;
        let entry = this.entries.get(name);
        if (!entry) {
          const server = new DevicePluginServer({
            resourceName: name,
            dir: this.opts.dir,
            kubeletSocketName: this.opts.kubeletSocketName,
            registerTimeoutMs: this.opts.registerTimeoutMs,
            log: this.log,
            onAllocate: this.opts.onAllocate,
            ...(this.opts.preference ? { preference: this.opts.preference } : {}),
          });
          server.setDevices(devices);
          await server.start();
          entry = { server, registered: false };
          this.entries.set(name, entry);
          await this.tryRegister(name, entry);
        } else {
          entry.server.setDevices(devices);
        }
      }
    });
  }

  /** Stops the watch loop and every server, without retiring the resources (a restart will serve them again). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.serialised(async () => {
      for (const entry of this.entries.values()) await entry.server.stop(false);
      this.entries.clear();
    });
  }

  private serialised(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch((err: unknown) => {
      this.log.error('Device plugin manager step failed', { err: String(err) });
    });
    return next;
  }

  private async tick(): Promise<void> {
    const identity = await fileIdentity(join(this.opts.dir, this.opts.kubeletSocketName ?? KUBELET_SOCKET));
    if (identity !== this.kubeletIdentity) {
      if (this.kubeletIdentity !== undefined || identity !== undefined) {
        this.log.info('Kubelet registration socket changed; re-registering', { present: identity !== undefined });
      }
      this.kubeletIdentity = identity;
      for (const entry of this.entries.values()) entry.registered = false;
    }
    for (const [name, entry] of this.entries) {
      if ((await fileIdentity(entry.server.socketPath)) === undefined) {
        // The kubelet removed our socket on its restart: listen again before registering.
        this.log.info('Plugin socket removed; restarting server', { resource: name });
        await entry.server.start();
        entry.registered = false;
      }
      if (!entry.registered && identity !== undefined) await this.tryRegister(name, entry);
    }
  }

  private async tryRegister(name: string, entry: Entry): Promise<void> {
    const kubelet = await fileIdentity(join(this.opts.dir, this.opts.kubeletSocketName ?? KUBELET_SOCKET));
    try {
      await entry.server.register();
      entry.registered = true;
      // The first registration defines the kubelet instance; the watch loop must not take it for a restart.
      if (this.kubeletIdentity === undefined) this.kubeletIdentity = kubelet;
      this.registerFailuresLogged.delete(name);
      this.opts.onRegistered?.(name);
    } catch (err) {
      // Retried on every tick; log once per failure streak so an absent kubelet does not flood the log.
      if (!this.registerFailuresLogged.has(name)) {
        this.registerFailuresLogged.add(name);
        this.log.warn('Device plugin registration failed; will retry', { resource: name, err: String(err) });
      }
    }
  }
}

/** Inode and change time of a file, or undefined when it does not exist. */
async function fileIdentity(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path);
    return `${s.ino}:${s.ctimeMs}`;
  } catch {
    return undefined;
  }
}
