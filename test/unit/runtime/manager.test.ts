import { jest } from '@jest/globals';
import { ApiError, FencedWriteError, isFencedWrite } from '../../../src/k8s/errors.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import type { Lease } from '../../../src/k8s/leader-election.js';
import { RESOURCES, type ResourceRef } from '../../../src/k8s/resources.js';
import { Controller } from '../../../src/runtime/controller.js';
import { Manager } from '../../../src/runtime/manager.js';
import { OperatorMetrics } from '../../../src/runtime/metrics.js';
import type { ReconcileRequest, Reconciler } from '../../../src/runtime/reconciler.js';
import { FakeListWatch, type Obj } from '../k8s/fake-list-watch.js';
import { captureLogger } from './capture-logger.js';
import { sleep, waitFor } from './wait-for.js';

/** Shared "API server": pods via FakeListWatch, one Lease with optimistic concurrency, events accepted. */
class FakeCluster {
  readonly pods = new FakeListWatch();
  lease: Lease | undefined;
  rv = 1;

  client(): KubeClient {
    const c = {
      list: this.pods.list.bind(this.pods),
      watch: this.pods.watch.bind(this.pods),
      get: async (ref: ResourceRef) => (ref === RESOURCES.lease && this.lease ? structuredClone(this.lease) : undefined),
      create: async (ref: ResourceRef, obj: unknown) => {
        if (ref !== RESOURCES.lease) return obj;
        if (this.lease) throw new ApiError('exists', 409, { reason: 'AlreadyExists' });
        this.lease = { ...(structuredClone(obj) as Lease) };
        this.lease.metadata.resourceVersion = String(++this.rv);
        return structuredClone(this.lease);
      },
      replace: async (_ref: ResourceRef, obj: Lease) => {
        if (obj.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) throw new ApiError('conflict', 409, { reason: 'Conflict' });
        this.lease = structuredClone(obj);
        this.lease.metadata.resourceVersion = String(++this.rv);
        return structuredClone(this.lease);
      },
      mergePatch: async () => ({}),
    };
    const fenced = (fence: () => boolean) => {
      const guard = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => (...a: A) => (fence() ? f(...a) : Promise.reject(new FencedWriteError('WRITE', 'fake')));
      return { ...c, create: guard(c.create), replace: guard(c.replace), mergePatch: guard(c.mergePatch) };
    };
    return { ...c, withWriteFence: fenced } as unknown as KubeClient;
  }
}

class RecordingReconciler implements Reconciler {
  readonly name = 'pods';
  readonly seen: string[] = [];
  inFlight = 0;
  finished = 0;
  /** While set, passes wait for it before finishing. */
  gate: Promise<void> | undefined;
  async reconcile(req: ReconcileRequest): Promise<void> {
    this.inFlight++;
    this.seen.push(req.name);
    if (this.gate) await this.gate;
    this.inFlight--;
    this.finished++;
  }
}

const running: Manager[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.stop()));
});

function manager(cluster: FakeCluster, identity: string | undefined, reconciler: Reconciler, health: false | { port: number } = false) {
  const { logger } = captureLogger('error');
  const m = new Manager({
    client: cluster.client(),
    logger,
    metrics: new OperatorMetrics(),
    health: health === false ? false : { ...health, host: '127.0.0.1' },
    handleSignals: false,
    leaderElection: identity
      ? { namespace: 'haein-system', name: 'haein-operator', identity, leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 50 }
      : false,
    onLostLeadership: () => undefined,
  });
  running.push(m);
  const inf = m.informer<Obj>(RESOURCES.pod);
  m.addController(new Controller(reconciler, { logger })).watch(inf);
  return { m, inf };
}

describe('Manager', () => {
  it('shares one informer per resource and selector', () => {
    const cluster = new FakeCluster();
    const { m, inf } = manager(cluster, undefined, new RecordingReconciler());
    expect(m.informer(RESOURCES.pod)).toBe(inf);
    expect(m.informer(RESOURCES.pod, { labelSelector: 'a=b' })).not.toBe(inf);
  });

  it('syncs informers before running controllers, is ready once synced, and shuts down gracefully', async () => {
    const cluster = new FakeCluster();
    cluster.pods.put('p1', 1, 'ns', false);
    const rec = new RecordingReconciler();
    let open!: () => void;
    rec.gate = new Promise<void>((r) => (open = r));
    const { m, inf } = manager(cluster, undefined, rec, { port: 0 });
    await m.start();
    expect(inf.hasSynced()).toBe(true);
    const ready = await fetch(`http://127.0.0.1:${m.port()}/readyz`);
    expect(ready.status).toBe(200);
    await waitFor(() => rec.inFlight === 1);
    expect(rec.seen).toEqual(['p1']);
    let stopped = false;
    const stopping = m.stop().then(() => (stopped = true));
    await sleep(50);
    expect(stopped).toBe(false); // waits for the pass in flight
    cluster.pods.put('p2', 1, 'ns');
    open();
    await stopping;
    // The pass in flight completed; nothing new was started during shutdown.
    expect(rec.inFlight).toBe(0);
    expect(rec.seen).toEqual(['p1']);
    expect(rec.finished).toBe(rec.seen.length);
    const count = rec.seen.length;
    cluster.pods.put('p3', 1, 'ns');
    await sleep(50);
    expect(rec.seen).toHaveLength(count);
    await expect(m.done()).resolves.toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${m.port()}/healthz`)).rejects.toThrow();
  });

  it('runs controllers only on the leader; the standby takes over promptly when the leader shuts down', async () => {
    const cluster = new FakeCluster();
    cluster.pods.put('p1', 1, 'ns', false);
    const recA = new RecordingReconciler();
    const recB = new RecordingReconciler();
    const a = manager(cluster, 'a', recA);
    await a.m.start();
    await waitFor(() => a.m.isLeader());
    const b = manager(cluster, 'b', recB);
    await b.m.start();
    expect(b.inf.hasSynced()).toBe(true); // followers keep warm caches
    cluster.pods.put('p2', 1, 'ns');
    await waitFor(() => recA.seen.length >= 2);
    await sleep(100);
    expect(recA.seen.sort()).toEqual(['p1', 'p2']);
    expect(recB.seen).toEqual([]);
    expect(b.m.isLeader()).toBe(false);

    const t0 = Date.now();
    await a.m.stop();
    expect(cluster.lease?.spec?.holderIdentity).not.toBe('a');
    while (!b.m.isLeader() && Date.now() - t0 < 3000) await sleep(10);
    expect(Date.now() - t0).toBeLessThan(500); // released, not waited out (lease is 1 s)
    await waitFor(() => recB.seen.length >= 2);
    // The new leader reconciles the whole current state.
    expect(recB.seen.sort()).toEqual(['p1', 'p2']);
    await b.m.stop();
  });

  it('fences writes by the Lease: once its own clock says the renew deadline passed, the leader sends none', async () => {
    const cluster = new FakeCluster();
    const a = manager(cluster, 'a', new RecordingReconciler());
    await a.m.start();
    await waitFor(() => a.m.isLeader());
    const writer = a.m.fenced(cluster.client());
    await expect(writer.mergePatch(RESOURCES.pod, 'p', {}, 'ns')).resolves.toEqual({});
    // A process resumed after a pause: its clock jumps past the 600 ms renew deadline before any renewal runs.
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 700);
    try {
      expect(a.m.leaseValid()).toBe(false);
      expect(isFencedWrite(await writer.mergePatch(RESOURCES.pod, 'p', {}, 'ns').catch((e: unknown) => e))).toBe(true);
    } finally {
      clock.mockRestore();
    }
    // Without leader election there is no Lease to fence by.
    const single = manager(new FakeCluster(), undefined, new RecordingReconciler());
    const plain = cluster.client();
    expect(single.m.fenced(plain)).toBe(plain);
  });

  it('stops on SIGTERM when signal handling is on', async () => {
    const cluster = new FakeCluster();
    const { logger } = captureLogger('error');
    const m = new Manager({ client: cluster.client(), logger, metrics: new OperatorMetrics(), health: false });
    running.push(m);
    m.informer(RESOURCES.pod);
    await m.start();
    process.emit('SIGTERM');
    await expect(m.done()).resolves.toBeUndefined();
    expect(m.isLeader()).toBe(false);
  });
});
