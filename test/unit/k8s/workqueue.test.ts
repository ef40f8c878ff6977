import { jest } from '@jest/globals';
import { KeyedBackoff } from '../../../src/k8s/backoff.js';
import { WorkQueue } from '../../../src/k8s/workqueue.js';

describe('WorkQueue', () => {
  afterEach(() => jest.useRealTimers());

  it('de-duplicates queued keys and keeps FIFO order', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('hands out first-lane keys before the others, FIFO within each lane, de-duplicated across lanes', async () => {
    const depths: number[] = [];
    const q = new WorkQueue({ onDepth: (d) => depths.push(d) });
    q.add('old-1');
    q.add('old-2');
    q.add('new-1', true);
    q.add('old-1', true); // already queued: stays where it is
    q.add('new-2', true);
    expect(q.len()).toBe(4);
    const order: Array<string | undefined> = [];
    for (let i = 0; i < 4; i++) order.push(await q.get());
    expect(order).toEqual(['new-1', 'new-2', 'old-1', 'old-2']);
    expect(depths).toEqual([1, 2, 3, 4, 3, 2, 1, 0]);
    // Re-added while processing: handed out again after done, in the ordinary lane.
    q.add('new-1', true);
    q.add('x');
    q.done('new-1');
    expect(await q.get()).toBe('x');
    expect(await q.get()).toBe('new-1');
    q.add('a', true);
    q.shutDown();
    expect(q.len()).toBe(0);
  });

  it('never hands a key in processing to a second worker, and reprocesses it after done if re-added', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    expect(first).toBe('a');
    q.add('a'); // re-added while processing
    q.add('b');
    // The second worker gets b, not a.
    expect(await q.get()).toBe('b');
    let third: string | undefined;
    void q.get().then((k) => (third = k));
    await Promise.resolve();
    expect(third).toBeUndefined();
    q.done('a');
    await Promise.resolve();
    expect(third).toBe('a');
  });

  it('a key re-added several times while processing is processed once more', async () => {
    const q = new WorkQueue();
    q.add('a');
    await q.get();
    q.add('a');
    q.add('a');
    q.done('a');
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('wakes a waiting worker on add', async () => {
    const q = new WorkQueue();
    const pending = q.get();
    q.add('x');
    await expect(pending).resolves.toBe('x');
  });

  it('addAfter delays and keeps the earliest schedule', async () => {
    jest.useFakeTimers();
    const q = new WorkQueue();
    q.addAfter('a', 1000);
    q.addAfter('a', 5000);
    jest.advanceTimersByTime(999);
    expect(q.len()).toBe(0);
    jest.advanceTimersByTime(1);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    jest.advanceTimersByTime(10_000);
    expect(q.len()).toBe(0); // the later schedule was dropped
  });

  it('addRateLimited backs off per key until forget', () => {
    jest.useFakeTimers();
    const q = new WorkQueue({ rateLimiter: new KeyedBackoff({ baseMs: 100, maxMs: 400 }) });
    q.addRateLimited('a');
    jest.advanceTimersByTime(100);
    expect(q.len()).toBe(1);
    void q.get();
    q.done('a');
    q.addRateLimited('a');
    jest.advanceTimersByTime(199);
    expect(q.len()).toBe(0);
    jest.advanceTimersByTime(1);
    expect(q.len()).toBe(1);
    expect(q.numRequeues('a')).toBe(2);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
  });

  it('shutDown releases waiters, drops queued and delayed keys, refuses new work', async () => {
    jest.useFakeTimers();
    const depths: number[] = [];
    const q = new WorkQueue({ onDepth: (d) => depths.push(d) });
    const waiting = q.get();
    q.add('a'); // consumed by the waiter
    q.add('b');
    q.addAfter('c', 100);
    const idle = q.get();
    expect(await idle).toBe('b');
    q.add('d');
    const w2 = new Promise((r) => setTimeout(r, 0));
    q.shutDown();
    expect(await waiting).toBe('a');
    expect(await q.get()).toBeUndefined();
    q.add('e');
    jest.advanceTimersByTime(1000);
    await w2;
    expect(q.len()).toBe(0);
    expect(depths.at(-1)).toBe(0);
    expect(q.isShuttingDown()).toBe(true);
  });
});
