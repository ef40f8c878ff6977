/**
 * The informer against the real API server: it sees creates, updates and deletes, and after its watch is
 * broken it restarts, relists and converges, including deletions that happened while it was not watching.
 */
import type { ListWatchClient, WatchEventType, WatchOptions } from '../../../src/k8s/client.js';
import { KubeClient } from '../../../src/k8s/client.js';
import { Informer } from '../../../src/k8s/informer.js';
import type { ResourceRef } from '../../../src/k8s/resources.js';
import { createTestNamespace, eventually, getKubeConfig, type TestNamespace } from '../../support/cluster.js';

const configMaps: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };

interface ConfigMap {
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

/**
 * Passes calls to the real client but can break the current watch with a connection error, or (`hangFirst`)
 * let its first watch hang: open, and nothing arrives, not even the server's clean end (a half-dead TCP
 * connection behind a load balancer looks like this).
 */
class BreakableClient implements ListWatchClient {
  private current: { abort(): void } | undefined;
  private failNext = false;
  watchesOpened = 0;

  constructor(
    private readonly real: KubeClient,
    private readonly opts: { hangFirst?: boolean } = {},
  ) {}

  list<T>(ref: ResourceRef, opts?: { namespace?: string; labelSelector?: string }) {
    return this.real.list<T>(ref, opts);
  }

  async watch(
    ref: ResourceRef,
    opts: WatchOptions,
    onEvent: (type: WatchEventType, obj: unknown) => void,
    onDone: (err?: unknown) => void,
  ): Promise<{ abort(): void }> {
    if (this.opts.hangFirst && this.watchesOpened === 0) {
      this.watchesOpened++;
      return { abort: () => undefined };
    }
    const handle = await this.real.watch(ref, opts, onEvent, (err) => {
      if (this.failNext) {
        this.failNext = false;
        onDone(new Error('injected: connection reset by peer'));
      } else {
        onDone(err);
      }
    });
    this.current = handle;
    this.watchesOpened++;
    return handle;
  }

  /** Cuts the open watch as a network failure would. */
  breakWatch(): void {
    this.failNext = true;
    this.current?.abort();
  }
}

let client: KubeClient;
let ns: TestNamespace;

beforeAll(async () => {
  client = new KubeClient(getKubeConfig());
  ns = await createTestNamespace('rt-inf');
});
afterAll(() => ns?.cleanup());

/** Test objects carry a label so informers can ignore the namespace's own ConfigMaps (kube-root-ca.crt). */
const LABEL = 'haein.dev/rt-test';
const cm = (name: string, v: string): ConfigMap => ({ metadata: { name, namespace: ns.name, labels: { [LABEL]: 'yes' } }, data: { v } });

describe('Informer (real API server)', () => {
  it('sees create, update and delete with the previous state', async () => {
    await client.create(configMaps, cm('pre', '0'));
    const inf = new Informer<ConfigMap>(client, configMaps, { namespace: ns.name, labelSelector: `${LABEL}=yes` });
    const log: string[] = [];
    inf.onChange((o, prev, deleted) => log.push(`${deleted ? 'del' : prev ? 'upd' : 'add'} ${o.metadata.name}=${o.data?.v}`));
    try {
      await inf.start();
      expect(inf.get('pre', ns.name)?.data?.v).toBe('0');
      // Unlabelled: filtered out of the watch as well as the list.
      await client.create(configMaps, { metadata: { name: 'unlabelled', namespace: ns.name }, data: { v: '9' } });
      await client.create(configMaps, cm('x', '1'));
      await eventually(() => Promise.resolve(inf.get('x', ns.name)?.data?.v === '1'), { what: 'create seen' });
      await client.mergePatch(configMaps, 'x', { data: { v: '2' } }, ns.name);
      await eventually(() => Promise.resolve(inf.get('x', ns.name)?.data?.v === '2'), { what: 'update seen' });
      await client.delete(configMaps, 'x', ns.name);
      await eventually(() => Promise.resolve(inf.get('x', ns.name) === undefined), { what: 'delete seen' });
      expect(log).toEqual(['add pre=0', 'add x=1', 'upd x=2', 'del x=2']);
      expect(inf.get('unlabelled', ns.name)).toBeUndefined();
    } finally {
      inf.stop();
    }
  });

  it('recovers after its watch is cut: relists and emits what it missed, deletions included', async () => {
    await client.create(configMaps, cm('stay', '1'));
    await client.create(configMaps, cm('doomed', '1'));
    const breakable = new BreakableClient(client);
    const restarts: string[] = [];
    const inf = new Informer<ConfigMap>(breakable, configMaps, {
      namespace: ns.name,
      backoff: { baseMs: 1500, maxMs: 3000, jitter: 0 },
      metrics: { informerRestarts: { inc: (l) => restarts.push(l.reason) } },
    });
    const deleted: string[] = [];
    inf.onChange((o, _p, d) => d && deleted.push(o.metadata.name));
    try {
      await inf.start();
      await eventually(() => Promise.resolve(breakable.watchesOpened === 1), { what: 'first watch' });
      breakable.breakWatch();
      // While the informer waits out its backoff, the world changes under it.
      await client.delete(configMaps, 'doomed', ns.name);
      await client.mergePatch(configMaps, 'stay', { data: { v: '2' } }, ns.name);
      await client.create(configMaps, cm('late', '1'));
      await eventually(
        () =>
          Promise.resolve(
            inf.get('doomed', ns.name) === undefined && inf.get('stay', ns.name)?.data?.v === '2' && inf.get('late', ns.name) !== undefined,
          ),
        { what: 'informer converged after restart', timeoutMs: 20_000 },
      );
      expect(restarts).toContain('watch-error');
      expect(deleted).toContain('doomed');
      expect(breakable.watchesOpened).toBeGreaterThanOrEqual(2);
      // And it is watching again, not just relisted once.
      await client.create(configMaps, cm('after', '1'));
      await eventually(() => Promise.resolve(inf.get('after', ns.name) !== undefined), { what: 'event after recovery' });
    } finally {
      inf.stop();
    }
  });

  it('restarts a silent watch through the watchdog and stays in sync', async () => {
    const hanging = new BreakableClient(client, { hangFirst: true });
    const restarts: string[] = [];
    const inf = new Informer<ConfigMap>(hanging, configMaps, {
      namespace: ns.name,
      watchdogMs: 4000,
      backoff: { baseMs: 100, maxMs: 500, jitter: 0 },
      metrics: { informerRestarts: { inc: (l) => restarts.push(l.reason) } },
    });
    try {
      await inf.start();
      await eventually(() => Promise.resolve(restarts.includes('watchdog')), {
        what: () => `a watchdog restart of the hung watch (restarts so far: ${restarts.join(', ') || 'none'})`,
        timeoutMs: 20_000,
      });
      expect(restarts[0]).toBe('watchdog');
      await eventually(() => Promise.resolve(hanging.watchesOpened >= 2), { what: 'a new watch after the watchdog restart' });
      await client.create(configMaps, cm('wd', '1'));
      await eventually(() => Promise.resolve(inf.get('wd', ns.name) !== undefined), { what: 'event after watchdog restart' });
      // A healthy quiet watch is ended by the server (after 2-3 s here) before the 4 s watchdog fires, so no
      // further watchdog restart while it stays quiet.
      await new Promise((r) => setTimeout(r, 7000));
      expect(restarts.filter((r) => r === 'watchdog')).toHaveLength(1);
    } finally {
      inf.stop();
    }
  });
});
