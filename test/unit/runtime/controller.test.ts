import { KeyedBackoff } from '../../../src/k8s/backoff.js';
import { ApiError } from '../../../src/k8s/errors.js';
import { Informer } from '../../../src/k8s/informer.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { Controller } from '../../../src/runtime/controller.js';
import { OperatorMetrics } from '../../../src/runtime/metrics.js';
import type { ReconcileRequest, ReconcileResult, Reconciler } from '../../../src/runtime/reconciler.js';
import type winston from 'winston';
import { FakeListWatch, type Obj } from '../k8s/fake-list-watch.js';
import { captureLogger } from './capture-logger.js';
import { sleep, waitFor } from './wait-for.js';

/** Reconciler whose behaviour each test scripts; records calls and concurrency. */
class ScriptedReconciler implements Reconciler {
  readonly name = 'test';
  readonly calls: string[] = [];
  active = new Set<string>();
  maxConcurrent = 0;
  overlappedSameKey = false;
  behaviour: (req: ReconcileRequest, n: number) => Promise<ReconcileResult | void> = async () => undefined;

  async reconcile(req: ReconcileRequest, log: winston.Logger): Promise<ReconcileResult | void> {
    const key = `${req.namespace ?? ''}/${req.name}`;
    if (this.active.has(key)) this.overlappedSameKey = true;
    this.active.add(key);
    this.maxConcurrent = Math.max(this.maxConcurrent, this.active.size);
    this.calls.push(key);
    log.info('reconciling');
    try {
      return await this.behaviour(req, this.calls.filter((c) => c === key).length);
    } finally {
      this.active.delete(key);
    }
  }
}

async function setup(workers = 2) {
  const fake = new FakeListWatch();
  const informer = new Informer<Obj>(fake, RESOURCES.pod, { backoff: { baseMs: 10, maxMs: 10, jitter: 0 } });
  const reconciler = new ScriptedReconciler();
  const metrics = new OperatorMetrics();
  const { logger, lines } = captureLogger();
  const controller = new Controller(reconciler, {
    workers,
    kind: 'Pod',
    logger,
    metrics,
    rateLimiter: new KeyedBackoff({ baseMs: 20, maxMs: 200 }),
  });
  controller.watch(informer);
  await informer.start();
  await sleep(0);
  return { fake, informer, reconciler, metrics, controller, lines };
}

async function metricValue(m: OperatorMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

describe('Controller', () => {
  it('coalesces changes queued while stopped and reconciles the current state on start', async () => {
    const { fake, informer, reconciler, controller } = await setup();
    fake.put('a', 1, 'ns');
    fake.put('a', 2, 'ns');
    fake.put('b', 1, 'ns');
    expect(reconciler.calls).toEqual([]);
    controller.start();
    await waitFor(() => reconciler.calls.length >= 2);
    await sleep(30);
    expect(reconciler.calls.sort()).toEqual(['ns/a', 'ns/b']);
    await controller.stop();
    informer.stop();
  });

  it('never runs one key on two workers, but runs distinct keys in parallel', async () => {
    const { fake, informer, reconciler, controller } = await setup(3);
    reconciler.behaviour = () => sleep(40).then(() => undefined);
    controller.start();
    fake.put('a', 1, 'ns');
    fake.put('b', 1, 'ns');
    await sleep(10);
    fake.put('a', 2, 'ns'); // while a is in flight
    fake.put('a', 3, 'ns');
    await waitFor(() => reconciler.calls.length >= 3 && reconciler.active.size === 0);
    await sleep(60);
    expect(reconciler.overlappedSameKey).toBe(false);
    expect(reconciler.maxConcurrent).toBe(2);
    // a: first pass, then exactly one more for the two changes made during it.
    expect(reconciler.calls.filter((c) => c === 'ns/a')).toHaveLength(2);
    await controller.stop();
    informer.stop();
  });

  it('retries a failing key with growing backoff, logs the error and counts it', async () => {
    const { fake, informer, reconciler, controller, metrics, lines } = await setup();
    const times: number[] = [];
    reconciler.behaviour = async (_req, n) => {
      times.push(Date.now());
      if (n < 4) throw new Error('node agent unreachable', { cause: new Error('ECONNREFUSED') });
    };
    controller.start();
    fake.put('a', 1, 'ns');
    await waitFor(() => reconciler.calls.length >= 4);
    await sleep(30);
    expect(reconciler.calls).toHaveLength(4);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    expect(gaps[0]).toBeGreaterThanOrEqual(15);
    expect(gaps[1]).toBeGreaterThanOrEqual(35);
    expect(gaps[2]).toBeGreaterThanOrEqual(75);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatchObject({ message: 'Reconcile failed', kind: 'Pod', namespace: 'ns', name: 'a', controller: 'test' });
    expect(await metricValue(metrics, 'haein_reconcile_errors_total', { controller: 'test' })).toBe(3);
    expect(await metricValue(metrics, 'haein_reconcile_total', { controller: 'test', result: 'success' })).toBe(1);
    await controller.stop();
    informer.stop();
  });

  it('requeues a conflict without an error log', async () => {
    const { fake, informer, reconciler, controller, metrics, lines } = await setup();
    reconciler.behaviour = async (_req, n) => {
      if (n === 1) throw new Error('writing status', { cause: new ApiError('modified', 409, { reason: 'Conflict' }) });
    };
    controller.start();
    fake.put('a', 1, 'ns');
    await waitFor(() => reconciler.calls.length >= 2);
    expect(reconciler.calls).toEqual(['ns/a', 'ns/a']);
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(0);
    expect(lines.some((l) => l.level === 'debug' && String(l.message).includes('Conflict'))).toBe(true);
    expect(await metricValue(metrics, 'haein_reconcile_total', { controller: 'test', result: 'conflict' })).toBe(1);
    await controller.stop();
    informer.stop();
  });

  it('honours requeueAfterMs', async () => {
    const { fake, informer, reconciler, controller } = await setup();
    reconciler.behaviour = async (_req, n) => (n === 1 ? { requeueAfterMs: 60 } : undefined);
    controller.start();
    const t0 = Date.now();
    fake.put('a', 1, 'ns');
    await waitFor(() => reconciler.calls.length >= 2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    await controller.stop();
    informer.stop();
  });

  it('gives each pass a child logger with kind, namespace, name and a fresh reconcile ID', async () => {
    const { fake, informer, controller, lines } = await setup();
    controller.start();
    fake.put('a', 1, 'ns');
    await waitFor(() => lines.filter((l) => l.message === 'reconciling').length >= 1);
    fake.put('a', 2, 'ns');
    await waitFor(() => lines.filter((l) => l.message === 'reconciling').length >= 2);
    const passes = lines.filter((l) => l.message === 'reconciling');
    expect(passes).toHaveLength(2);
    for (const p of passes) expect(p).toMatchObject({ kind: 'Pod', namespace: 'ns', name: 'a', reconcileId: expect.stringMatching(/^[0-9a-f]{8}$/) });
    expect(passes[0].reconcileId).not.toBe(passes[1].reconcileId);
    await controller.stop();
    informer.stop();
  });

  it('serves a created object before queued changes of older objects', async () => {
    const { fake, informer, reconciler, controller } = await setup(1);
    fake.put('old-1', 1, 'ns');
    fake.put('old-2', 1, 'ns');
    controller.start();
    await waitFor(() => reconciler.calls.length === 2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    reconciler.behaviour = (req, n) => (req.name === 'old-1' && n === 2 ? gate : Promise.resolve());
    fake.put('old-1', 2, 'ns');
    await waitFor(() => reconciler.calls.length === 3);
    // While the only worker is busy: old-2 changes (ordinary lane), then a new object appears (first lane).
    fake.put('old-2', 2, 'ns');
    fake.put('new', 1, 'ns');
    await sleep(20);
    release();
    await waitFor(() => reconciler.calls.length === 5);
    expect(reconciler.calls.slice(2)).toEqual(['ns/old-1', 'ns/new', 'ns/old-2']);
    await controller.stop();
    informer.stop();
  });

  it('maps changes through a custom mapper', async () => {
    const fake = new FakeListWatch();
    const informer = new Informer<Obj>(fake, RESOURCES.pod);
    const reconciler = new ScriptedReconciler();
    const controller = new Controller(reconciler, { logger: captureLogger().logger });
    // A change of a pod triggers its "owner" named by value, and nothing on deletion.
    controller.watch(informer, (obj, _prev, deleted) => (deleted ? [] : [{ namespace: 'owners', name: `owner-${obj.value}` }]));
    await informer.start();
    controller.start();
    fake.put('p1', 7, 'ns');
    fake.remove('p1', 'ns');
    await waitFor(() => reconciler.calls.length >= 1);
    await sleep(20);
    expect(reconciler.calls).toEqual(['owners/owner-7']);
    await controller.stop();
    informer.stop();
  });

  it('stop() lets the pass in flight finish and starts nothing new; start() again resyncs everything', async () => {
    const { fake, informer, reconciler, controller } = await setup();
    let finished = 0;
    reconciler.behaviour = async () => {
      await sleep(60);
      finished++;
    };
    controller.start();
    fake.put('a', 1, 'ns');
    await sleep(10);
    fake.put('b', 1, 'ns'); // with 2 workers b starts too
    fake.put('c', 1, 'ns');
    await sleep(5);
    const stopping = controller.stop();
    await stopping;
    const callsAtStop = reconciler.calls.length;
    expect(finished).toBe(callsAtStop); // nothing was cut off
    expect(controller.isRunning()).toBe(false);
    fake.put('d', 1, 'ns');
    await sleep(100);
    expect(reconciler.calls).toHaveLength(callsAtStop);
    controller.start();
    await waitFor(() => new Set(reconciler.calls.slice(callsAtStop)).size >= 4);
    expect(new Set(reconciler.calls.slice(callsAtStop))).toEqual(new Set(['ns/a', 'ns/b', 'ns/c', 'ns/d']));
    await controller.stop();
    informer.stop();
  });

  it('reports queue depth', async () => {
    const { fake, informer, controller, metrics } = await setup();
    fake.put('a', 1, 'ns');
    fake.put('b', 1, 'ns');
    expect(await metricValue(metrics, 'haein_workqueue_depth', { controller: 'test' })).toBe(2);
    controller.start();
    await waitFor(() => controller.queueLength() === 0);
    expect(await metricValue(metrics, 'haein_workqueue_depth', { controller: 'test' })).toBe(0);
    await controller.stop();
    informer.stop();
  });
});
