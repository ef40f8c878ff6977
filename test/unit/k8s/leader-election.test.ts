import { ApiError } from '../../../src/k8s/errors.js';
import { LeaderElector, type Lease } from '../../../src/k8s/leader-election.js';
import type { ResourceRef } from '../../../src/k8s/resources.js';

/** Lease store shared by the candidates, with optimistic concurrency like the API server. */
class LeaseStore {
  lease: Lease | undefined;
  rv = 1;
  writes = 0;
}

/** One candidate's view of the API: can be partitioned (every call fails) and can hold reads at a barrier. */
class FakeLeaseClient {
  partitioned = false;
  barrier: Promise<void> | undefined;

  constructor(private readonly store: LeaseStore) {}

  async get<T>(_ref: ResourceRef, _name: string, _ns?: string): Promise<T | undefined> {
    this.check();
    const snapshot = this.store.lease ? structuredClone(this.store.lease) : undefined;
    if (this.barrier) await this.barrier;
    return snapshot as T | undefined;
  }

  async create<T>(_ref: ResourceRef, obj: T): Promise<T> {
    this.check();
    if (this.store.lease) throw new ApiError('exists', 409, { reason: 'AlreadyExists' });
    const lease = structuredClone(obj) as Lease;
    lease.metadata.resourceVersion = String(++this.store.rv);
    this.store.lease = lease;
    this.store.writes++;
    return structuredClone(lease) as T;
  }

  async replace<T>(_ref: ResourceRef, obj: T): Promise<T> {
    this.check();
    const lease = structuredClone(obj) as Lease;
    if (lease.metadata.resourceVersion !== this.store.lease?.metadata.resourceVersion) {
      throw new ApiError('modified', 409, { reason: 'Conflict' });
    }
    lease.metadata.resourceVersion = String(++this.store.rv);
    this.store.lease = lease;
    this.store.writes++;
    return structuredClone(lease) as T;
  }

  private check(): void {
    if (this.partitioned) throw new ApiError('connect ECONNREFUSED', 0);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timing = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 50 };

function candidate(store: LeaseStore, identity: string) {
  const client = new FakeLeaseClient(store);
  const elector = new LeaderElector(client, { namespace: 'haein-system', name: 'haein-operator', identity, ...timing });
  const log: string[] = [];
  const running = elector.run({
    onStartedLeading: () => void log.push('started'),
    onStoppedLeading: () => void log.push('stopped'),
  });
  return { client, elector, log, running };
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('LeaderElector', () => {
  it('creates the Lease when missing, leads and keeps renewing it', async () => {
    const store = new LeaseStore();
    const a = candidate(store, 'a');
    await waitFor(() => a.elector.isLeader());
    expect(a.log).toEqual(['started']);
    expect(store.lease?.spec?.holderIdentity).toBe('a');
    expect(store.lease?.spec?.leaseDurationSeconds).toBe(1);
    const firstRenew = store.lease?.spec?.renewTime;
    await sleep(150);
    expect(store.lease?.spec?.renewTime).not.toBe(firstRenew);
    expect(store.lease?.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await a.elector.stop();
  });

  it('lets exactly one of two candidates lead', async () => {
    const store = new LeaseStore();
    const a = candidate(store, 'a');
    const b = candidate(store, 'b');
    await waitFor(() => a.elector.isLeader() || b.elector.isLeader());
    for (let i = 0; i < 30; i++) {
      expect(Number(a.elector.isLeader()) + Number(b.elector.isLeader())).toBe(1);
      await sleep(20);
    }
    const leader = a.elector.isLeader() ? a : b;
    const follower = leader === a ? b : a;
    expect(follower.elector.leader()).toBe(store.lease?.spec?.holderIdentity);
    expect(follower.log).toEqual([]);
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  });

  it('resolves a simultaneous takeover race through resourceVersion: one wins, one gets 409', async () => {
    const store = new LeaseStore();
    store.lease = {
      metadata: { name: 'haein-operator', namespace: 'haein-system', resourceVersion: '1' },
      spec: { holderIdentity: '', leaseDurationSeconds: 1 },
    };
    let open!: () => void;
    const barrier = new Promise<void>((r) => (open = r));
    const clients = [new FakeLeaseClient(store), new FakeLeaseClient(store)];
    for (const c of clients) c.barrier = barrier;
    const started: string[] = [];
    const electors = ['a', 'b'].map(
      (id, i) => new LeaderElector(clients[i], { namespace: 'haein-system', name: 'haein-operator', identity: id, ...timing }),
    );
    electors.forEach((e, i) => void e.run({ onStartedLeading: () => void started.push(['a', 'b'][i]), onStoppedLeading: () => undefined }));
    await sleep(20); // both have read the same version
    for (const c of clients) c.barrier = undefined;
    open();
    await sleep(200);
    expect(started).toHaveLength(1);
    expect(store.lease?.spec?.holderIdentity).toBe(started[0]);
    expect(store.lease?.spec?.leaseTransitions).toBe(1);
    await Promise.all(electors.map((e) => e.stop()));
  });

  it('releases the Lease on stop so a standby takes over well before the lease would expire', async () => {
    const store = new LeaseStore();
    const a = candidate(store, 'a');
    await waitFor(() => a.elector.isLeader());
    const b = candidate(store, 'b');
    await sleep(100);
    expect(b.elector.isLeader()).toBe(false);
    const t0 = Date.now();
    await a.elector.stop();
    expect(a.log).toEqual(['started', 'stopped']);
    await waitFor(() => b.elector.isLeader());
    expect(Date.now() - t0).toBeLessThan(timing.leaseDurationMs / 2);
    expect(store.lease?.spec?.holderIdentity).toBe('b');
    await a.running;
    await b.elector.stop();
  });

  it('fails over when the leader stops renewing: the leader steps down, the standby takes over after expiry', async () => {
    const store = new LeaseStore();
    const a = candidate(store, 'a');
    await waitFor(() => a.elector.isLeader());
    const b = candidate(store, 'b');
    await sleep(100);
    const t0 = Date.now();
    a.client.partitioned = true;
    await waitFor(() => !a.elector.isLeader());
    expect(a.log).toEqual(['started', 'stopped']);
    await waitFor(() => b.elector.isLeader());
    // b must not take over before the lease (as b observed it) expired.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(timing.leaseDurationMs - 150);
    expect(store.lease?.spec?.holderIdentity).toBe('b');
    expect(store.lease?.spec?.leaseTransitions).toBe(1);
    // `a` campaigns again as a standby, and takes over when `b` hands the Lease back.
    a.client.partitioned = false;
    await waitFor(() => a.elector.leader() === 'b');
    expect(a.elector.isLeader()).toBe(false);
    await b.elector.stop();
    await waitFor(() => a.elector.isLeader());
    expect(a.log).toEqual(['started', 'stopped', 'started']);
    await a.elector.stop();
    await a.running;
  });

  it('fences writes by its own clock: the Lease is no longer valid once a renewal is overdue, even before the loop notices', async () => {
    const store = new LeaseStore();
    const a = candidate(store, 'a');
    await waitFor(() => a.elector.isLeader());
    expect(a.elector.leaseValid()).toBe(true);
    a.client.partitioned = true;
    // Renewals fail from now on; within the renew deadline the Lease stays valid, past it not.
    await sleep(timing.renewDeadlineMs + 100);
    expect(a.elector.leaseValid()).toBe(false);
    await a.elector.stop();
  });

  it('rejects a renew deadline that is not shorter than the lease duration', () => {
    expect(
      () => new LeaderElector(new FakeLeaseClient(new LeaseStore()), { namespace: 'n', name: 'l', identity: 'a', leaseDurationMs: 1000, renewDeadlineMs: 1000 }),
    ).toThrow(/renewDeadline/);
  });
});
