import { ApiError } from '../../../src/k8s/errors.js';
import { EventRecorder } from '../../../src/k8s/event-recorder.js';
import type { ResourceRef } from '../../../src/k8s/resources.js';

interface StoredEvent {
  metadata: { name: string; namespace: string };
  involvedObject: Record<string, unknown>;
  type: string;
  reason: string;
  message: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string };
}

/** Event store with the two calls the recorder makes; can expire events or fail every call. */
class FakeEventClient {
  readonly events = new Map<string, StoredEvent>();
  failAll = false;
  creates = 0;
  patches = 0;

  async create<T>(_ref: ResourceRef, obj: T): Promise<T> {
    await new Promise((r) => setTimeout(r, 1)); // let concurrent calls interleave
    if (this.failAll) throw new ApiError('forbidden', 403, { reason: 'Forbidden' });
    const e = structuredClone(obj) as unknown as StoredEvent;
    const key = `${e.metadata.namespace}/${e.metadata.name}`;
    if (this.events.has(key)) throw new ApiError('exists', 409, { reason: 'AlreadyExists' });
    this.events.set(key, e);
    this.creates++;
    return obj;
  }

  async mergePatch<T>(_ref: ResourceRef, name: string, patch: object, namespace?: string): Promise<T> {
    await new Promise((r) => setTimeout(r, 1));
    if (this.failAll) throw new ApiError('forbidden', 403, { reason: 'Forbidden' });
    const e = this.events.get(`${namespace}/${name}`);
    if (!e) throw new ApiError('not found', 404, { reason: 'NotFound' });
    Object.assign(e, patch);
    this.patches++;
    return e as unknown as T;
  }
}

const partition = {
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuPartition',
  metadata: { name: 'notebook', namespace: 'team-a', uid: 'uid-1', resourceVersion: '17' },
};

describe('EventRecorder', () => {
  let now = new Date('2026-11-29T10:00:00.000Z');
  const clock = () => now;
  beforeEach(() => (now = new Date('2026-11-29T10:00:00.000Z')));

  it('creates a core/v1 Event referring to the object', async () => {
    const client = new FakeEventClient();
    const rec = new EventRecorder(client, { now: clock, instance: 'pod-1' });
    await rec.event(partition, 'Normal', 'Allocated', 'Allocated 2 slices of 1g.23gb on node-a');
    const [e] = [...client.events.values()];
    expect(e.metadata.namespace).toBe('team-a');
    expect(e.metadata.name).toMatch(/^notebook\.[0-9a-f]+$/);
    expect(e.involvedObject).toEqual({
      apiVersion: 'gpu.haein.dev/v1alpha1',
      kind: 'GpuPartition',
      name: 'notebook',
      namespace: 'team-a',
      uid: 'uid-1',
      resourceVersion: '17',
    });
    expect(e).toMatchObject({ type: 'Normal', reason: 'Allocated', count: 1, source: { component: 'haein-operator' } });
    expect(e.firstTimestamp).toBe('2026-11-29T10:00:00.000Z');
  });

  it('bumps count and lastTimestamp for a repeat instead of creating another Event', async () => {
    const client = new FakeEventClient();
    const rec = new EventRecorder(client, { now: clock });
    await rec.event(partition, 'Warning', 'Unschedulable', 'no B200 GPU has 3 free slots');
    now = new Date('2026-11-29T10:00:30.000Z');
    await rec.event(partition, 'Warning', 'Unschedulable', 'no B200 GPU has 3 free slots');
    await rec.event(partition, 'Warning', 'Unschedulable', 'no B200 GPU has 3 free slots');
    expect(client.events.size).toBe(1);
    const [e] = [...client.events.values()];
    expect(e.count).toBe(3);
    expect(e.lastTimestamp).toBe('2026-11-29T10:00:30.000Z');
    expect(e.firstTimestamp).toBe('2026-11-29T10:00:00.000Z');
    // A different message is a different event.
    await rec.event(partition, 'Warning', 'Unschedulable', 'no B200 GPU has 4 free slots');
    expect(client.events.size).toBe(2);
  });

  it('does not create duplicates when the same event is recorded concurrently', async () => {
    const client = new FakeEventClient();
    const rec = new EventRecorder(client, { now: clock });
    await Promise.all(Array.from({ length: 5 }, () => rec.event(partition, 'Normal', 'Ready', 'ready')));
    expect(client.creates).toBe(1);
    expect([...client.events.values()][0].count).toBe(5);
  });

  it('creates a new Event when the old one expired or the dedup window passed', async () => {
    const client = new FakeEventClient();
    const rec = new EventRecorder(client, { now: clock, dedupWindowMs: 60_000 });
    await rec.event(partition, 'Normal', 'Ready', 'ready');
    client.events.clear(); // the API server's TTL removed it
    await rec.event(partition, 'Normal', 'Ready', 'ready');
    expect(client.creates).toBe(2);
    now = new Date('2026-11-29T10:05:00.000Z');
    await rec.event(partition, 'Normal', 'Ready', 'ready');
    expect(client.creates).toBe(3);
  });

  it('puts events about cluster-scoped objects in the default namespace', async () => {
    const client = new FakeEventClient();
    const rec = new EventRecorder(client, { now: clock });
    await rec.event({ apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuNode', metadata: { name: 'node-a', uid: 'u' } }, 'Normal', 'LayoutRealised', 'ok');
    const [e] = [...client.events.values()];
    expect(e.metadata.namespace).toBe('default');
    expect(e.involvedObject.namespace).toBeUndefined();
  });

  it('never throws: failures are logged', async () => {
    const client = new FakeEventClient();
    client.failAll = true;
    const warnings: unknown[] = [];
    const logger = { warn: (...args: unknown[]) => warnings.push(args) } as never;
    const rec = new EventRecorder(client, { now: clock, logger });
    await expect(rec.event(partition, 'Warning', 'X', 'y')).resolves.toBeUndefined();
    expect(warnings).toHaveLength(1);
  });

  it('truncates overlong messages to the API limit', async () => {
    const client = new FakeEventClient();
    const rec = new EventRecorder(client, { now: clock });
    await rec.event(partition, 'Normal', 'Long', 'x'.repeat(5000));
    expect([...client.events.values()][0].message.length).toBe(1024);
  });
});
