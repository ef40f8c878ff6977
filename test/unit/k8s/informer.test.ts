import { jest } from '@jest/globals';
import { Informer } from '../../../src/k8s/informer.js';
import { ApiError } from '../../../src/k8s/errors.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { FakeListWatch, type Obj } from './fake-list-watch.js';

type Change = [string, number | undefined, number | undefined, boolean];

function setup(opts: ConstructorParameters<typeof Informer<Obj>>[2] = {}) {
  const fake = new FakeListWatch();
  const restarts: Array<{ resource: string; reason: string }> = [];
  const inf = new Informer<Obj>(fake, RESOURCES.pod, {
    backoff: { baseMs: 100, maxMs: 1000, jitter: 0 },
    watchdogMs: 60_000,
    relistIntervalMs: 600_000,
    metrics: { informerRestarts: { inc: (l) => restarts.push(l) } },
    ...opts,
  });
  const changes: Change[] = [];
  inf.onChange((obj, prev, deleted) => changes.push([obj.metadata.name, obj.value, prev?.value, deleted]));
  return { fake, inf, changes, restarts };
}

/** Lets pending promise callbacks run. */
const flush = () => jest.advanceTimersByTimeAsync(0);

describe('Informer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('lists, syncs, emits the initial objects, then watches from the list resourceVersion', async () => {
    const { fake, inf, changes } = setup();
    fake.put('a', 1, 'ns1', false);
    fake.put('b', 2, 'ns2', false);
    expect(inf.hasSynced()).toBe(false);
    await inf.start();
    expect(inf.hasSynced()).toBe(true);
    expect(changes).toEqual([['a', 1, undefined, false], ['b', 2, undefined, false]]);
    expect(inf.get('a', 'ns1')?.value).toBe(1);
    expect(inf.list('ns2').map((o) => o.metadata.name)).toEqual(['b']);
    expect(inf.list()).toHaveLength(2);
    await flush();
    expect(fake.active()?.opts.resourceVersion).toBe(String(fake.rv));
    inf.stop();
  });

  it('applies watch events to the cache before handlers run, with the previous state', async () => {
    const { fake, inf, changes } = setup();
    await inf.start();
    await flush();
    const seen: Array<number | undefined> = [];
    inf.onChange((obj) => seen.push(inf.get(obj.metadata.name, 'ns')?.value));
    fake.put('a', 1, 'ns');
    fake.put('a', 2, 'ns');
    fake.remove('a', 'ns');
    expect(changes).toEqual([['a', 1, undefined, false], ['a', 2, 1, false], ['a', 2, 2, true]]);
    expect(seen).toEqual([1, 2, undefined]);
    expect(inf.list()).toHaveLength(0);
    inf.stop();
  });

  it('caches objects without metadata.managedFields, from the list and from the watch', async () => {
    const { fake, inf } = setup();
    const managedFields = [{ manager: 'haein-operator', operation: 'Apply', fieldsV1: { 'f:metadata': {} } }];
    const withFields = (o: Obj) => Object.assign(o.metadata, { managedFields });
    withFields(fake.put('listed', 1, 'ns', false));
    await inf.start();
    await flush();
    withFields(fake.put('watched', 2, 'ns', false));
    fake.active()!.onEvent('ADDED', structuredClone(fake.store.get('ns/watched')));
    for (const name of ['listed', 'watched']) {
      expect(inf.get(name, 'ns')?.value).toBeDefined();
      expect(inf.get(name, 'ns')?.metadata).not.toHaveProperty('managedFields');
    }
    inf.stop();
  });

  it('resumes from the bookmark resourceVersion after a clean server-side close', async () => {
    const { fake, inf } = setup();
    await inf.start();
    await flush();
    fake.active()!.onEvent('BOOKMARK', { metadata: { resourceVersion: '555' } });
    await jest.advanceTimersByTimeAsync(5000);
    fake.close(fake.active());
    await flush();
    expect(fake.listCalls).toBe(1); // no relist for a clean end
    expect(fake.active()?.opts.resourceVersion).toBe('555');
    inf.stop();
  });

  it('on 410 relists at once and emits the difference, deletions included', async () => {
    const { fake, inf, changes, restarts } = setup();
    fake.put('keep', 1, 'ns', false);
    fake.put('change', 1, 'ns', false);
    fake.put('vanish', 1, 'ns', false);
    await inf.start();
    await flush();
    changes.length = 0;
    // Changes the watch never delivered:
    fake.put('change', 2, 'ns', false);
    fake.remove('vanish', 'ns', false);
    fake.put('new', 1, 'ns', false);
    fake.active()!.onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
    await flush();
    expect(fake.listCalls).toBe(2);
    expect(changes).toEqual(
      expect.arrayContaining([['change', 2, 1, false], ['new', 1, undefined, false], ['vanish', 1, 1, true]]),
    );
    expect(changes).toHaveLength(3);
    expect(inf.list().map((o) => o.metadata.name).sort()).toEqual(['change', 'keep', 'new']);
    expect(restarts).toEqual([{ resource: 'pods', reason: 'gone' }]);
    expect(fake.active()?.opts.resourceVersion).toBe(String(fake.rv));
    inf.stop();
  });

  it('treats a 410 from the watch request itself like an expired event', async () => {
    const { fake, inf } = setup();
    await inf.start();
    await flush();
    fake.close(fake.active(), new ApiError('GET watch: 410 Gone', 410, { reason: 'Gone' }));
    await flush();
    expect(fake.listCalls).toBe(2);
    expect(fake.active()).toBeDefined();
    inf.stop();
  });

  it('retries a failing list with capped exponential backoff and resolves start once it succeeds', async () => {
    const { fake, inf, restarts } = setup();
    fake.put('a', 1, 'ns', false);
    fake.listErrors.push(new Error('connection refused'), new Error('connection refused'), new Error('connection refused'));
    let synced = false;
    void inf.start().then(() => (synced = true));
    await flush();
    expect(fake.listCalls).toBe(1);
    await jest.advanceTimersByTimeAsync(99);
    expect(fake.listCalls).toBe(1);
    await jest.advanceTimersByTimeAsync(1); // 100 ms
    expect(fake.listCalls).toBe(2);
    await jest.advanceTimersByTimeAsync(199);
    expect(fake.listCalls).toBe(2);
    await jest.advanceTimersByTimeAsync(1); // 200 ms
    expect(fake.listCalls).toBe(3);
    expect(synced).toBe(false);
    await jest.advanceTimersByTimeAsync(400);
    expect(fake.listCalls).toBe(4);
    expect(synced).toBe(true);
    expect(restarts.map((r) => r.reason)).toEqual(['list-error', 'list-error', 'list-error']);
    inf.stop();
  });

  it('restarts once when one failure is reported twice (error event, then stream end)', async () => {
    const { fake, inf, restarts } = setup();
    await inf.start();
    await flush();
    const w = fake.active()!;
    w.onEvent('ERROR', { kind: 'Status', code: 500, message: 'internal error' });
    w.onDone(new Error('stream reset')); // same failure reported twice
    await jest.advanceTimersByTimeAsync(5000);
    expect(fake.listCalls).toBe(2);
    expect(restarts).toHaveLength(1);
    expect(fake.watches.filter((x) => !x.closed)).toHaveLength(1);
    inf.stop();
  });

  it('resets the backoff after the watch delivers data again', async () => {
    const { fake, inf } = setup();
    await inf.start();
    await flush();
    fake.close(fake.active(), new Error('boom'));
    await jest.advanceTimersByTimeAsync(100);
    fake.close(fake.active(), new Error('boom'));
    await jest.advanceTimersByTimeAsync(200); // second delay doubled
    expect(fake.listCalls).toBe(3);
    fake.put('a', 1, 'ns');
    fake.close(fake.active(), new Error('boom'));
    await jest.advanceTimersByTimeAsync(100); // back to the base delay
    expect(fake.listCalls).toBe(4);
    inf.stop();
  });

  it('the watchdog restarts a watch that went silent', async () => {
    const { fake, inf, restarts } = setup({ watchdogMs: 1000 });
    await inf.start();
    await flush();
    const first = fake.active()!;
    await jest.advanceTimersByTimeAsync(600);
    fake.put('a', 1, 'ns'); // activity resets the watchdog
    await jest.advanceTimersByTimeAsync(600);
    expect(first.closed).toBe(false);
    await jest.advanceTimersByTimeAsync(1000); // silent for > 1 s
    expect(first.closed).toBe(true);
    expect(restarts.map((r) => r.reason)).toEqual(['watchdog']);
    await jest.advanceTimersByTimeAsync(100);
    expect(fake.listCalls).toBe(2);
    expect(fake.active()).toBeDefined();
    inf.stop();
  });

  it('always asks the server to end a quiet watch before the watchdog would fire', async () => {
    for (const watchdogMs of [1000, 1500, 60_000]) {
      const { fake, inf } = setup({ watchdogMs });
      await inf.start();
      await flush();
      const timeout = fake.active()?.opts.timeoutSeconds;
      expect(timeout).toBeGreaterThanOrEqual(1);
      expect(timeout! * 1000).toBeLessThanOrEqual(Math.max(1000, watchdogMs));
      inf.stop();
    }
  });

  it('relists periodically and re-delivers every object, even unchanged ones', async () => {
    const { fake, inf, changes, restarts } = setup({ relistIntervalMs: 2000 });
    fake.put('a', 1, 'ns', false);
    await inf.start();
    await flush();
    changes.length = 0;
    await jest.advanceTimersByTimeAsync(2100);
    expect(fake.listCalls).toBe(2);
    expect(changes).toEqual([['a', 1, 1, false]]);
    expect(restarts.map((r) => r.reason)).toEqual(['relist']);
    inf.stop();
  });

  it('shows handlers the whole relisted cache, never a partial one', async () => {
    const { fake, inf } = setup();
    for (let i = 0; i < 5; i++) fake.put(`o${i}`, 1, 'ns', false);
    await inf.start();
    await flush();
    for (let i = 0; i < 5; i++) fake.put(`o${i}`, 2, 'ns', false);
    const observed: number[][] = [];
    inf.onChange(() => observed.push(inf.list().map((o) => o.value ?? 0)));
    fake.active()!.onEvent('ERROR', { code: 410, reason: 'Expired' });
    await flush();
    expect(observed).toHaveLength(5);
    for (const values of observed) expect(values).toEqual([2, 2, 2, 2, 2]);
    inf.stop();
  });

  it('a throwing handler does not stop the others or the cache', async () => {
    const { fake, inf, changes } = setup();
    inf.onChange(() => {
      throw new Error('handler bug');
    });
    await inf.start();
    await flush();
    fake.put('a', 1, 'ns');
    expect(inf.get('a', 'ns')?.value).toBe(1);
    expect(changes).toEqual([['a', 1, undefined, false]]);
    inf.stop();
  });

  it('reports unhealthy after too many consecutive failures and healthy after recovery', async () => {
    const { fake, inf } = setup({ maxConsecutiveFailures: 3 });
    fake.listErrors.push(new Error('x'), new Error('x'), new Error('x'));
    void inf.start();
    await jest.advanceTimersByTimeAsync(100 + 200);
    expect(inf.isHealthy()).toBe(false);
    await jest.advanceTimersByTimeAsync(400);
    expect(inf.hasSynced()).toBe(true);
    fake.put('a', 1, 'ns');
    expect(inf.isHealthy()).toBe(true);
    inf.stop();
  });

  it('stop() closes the watch, cancels restarts and rejects a start that never synced', async () => {
    const { fake, inf } = setup();
    fake.listErrors.push(new Error('down'));
    const started = inf.start();
    await flush();
    inf.stop();
    await expect(started).rejects.toThrow(/stopped before it synced/);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(fake.listCalls).toBe(1);

    const b = setup();
    await b.inf.start();
    await flush();
    const w = b.fake.active()!;
    b.inf.stop();
    expect(w.closed).toBe(true);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(b.fake.listCalls).toBe(1);
  });
});
