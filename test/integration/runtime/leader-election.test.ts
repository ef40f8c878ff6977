/**
 * Lease leader election against the real API server: two candidates yield exactly one leader, a released
 * Lease is taken over at once, and a leader that stops renewing is replaced after the lease expires.
 */
import { KubeClient } from '../../../src/k8s/client.js';
import { LeaderElector, type Lease } from '../../../src/k8s/leader-election.js';
import { RESOURCES, type ResourceRef } from '../../../src/k8s/resources.js';
import { createTestNamespace, eventually, getKubeConfig, type TestNamespace } from '../../support/cluster.js';

/** The real client, unless partitioned: then every call fails like an unreachable API server. */
class PartitionableClient {
  partitioned = false;
  constructor(private readonly real: KubeClient) {}
  private check(): void {
    if (this.partitioned) throw new Error('injected: API server unreachable');
  }
  get<T>(ref: ResourceRef, name: string, namespace?: string) {
    this.check();
    return this.real.get<T>(ref, name, namespace);
  }
  create<T>(ref: ResourceRef, obj: T) {
    this.check();
    return this.real.create<T>(ref, obj);
  }
  replace<T>(ref: ResourceRef, obj: T) {
    this.check();
    return this.real.replace<T>(ref, obj);
  }
}

const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200 };
let client: KubeClient;
let ns: TestNamespace;

beforeAll(async () => {
  client = new KubeClient(getKubeConfig());
  ns = await createTestNamespace('rt-le');
});
afterAll(() => ns?.cleanup());

function candidates(lease: string) {
  return ['a', 'b'].map((identity) => {
    const c = new PartitionableClient(client);
    const elector = new LeaderElector(c, { namespace: ns.name, name: lease, identity, ...timing });
    const events: string[] = [];
    void elector.run({ onStartedLeading: () => void events.push('started'), onStoppedLeading: () => void events.push('stopped') });
    return { identity, client: c, elector, events };
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LeaderElector (real API server)', () => {
  it('two candidates: exactly one leader; release hands over at once', async () => {
    const cs = candidates('release');
    try {
      await eventually(() => Promise.resolve(cs.some((c) => c.elector.isLeader())), { what: 'a leader' });
      for (let i = 0; i < 15; i++) {
        expect(cs.filter((c) => c.elector.isLeader())).toHaveLength(1);
        await sleep(100);
      }
      const leader = cs.find((c) => c.elector.isLeader())!;
      const standby = cs.find((c) => c !== leader)!;
      const lease = await client.get<Lease>(RESOURCES.lease, 'release', ns.name);
      expect(lease?.spec?.holderIdentity).toBe(leader.identity);

      const t0 = Date.now();
      await leader.elector.stop();
      await eventually(() => Promise.resolve(standby.elector.isLeader()), { what: 'standby leads', intervalMs: 20 });
      // Released: faster than waiting out the 3 s lease.
      expect(Date.now() - t0).toBeLessThan(timing.leaseDurationMs);
      expect(leader.events).toEqual(['started', 'stopped']);
      const after = await client.get<Lease>(RESOURCES.lease, 'release', ns.name);
      expect(after?.spec?.holderIdentity).toBe(standby.identity);
    } finally {
      await Promise.all(cs.map((c) => c.elector.stop()));
    }
  });

  it('fails over when the leader stops renewing', async () => {
    const cs = candidates('failover');
    try {
      await eventually(() => Promise.resolve(cs.some((c) => c.elector.isLeader())), { what: 'a leader' });
      const leader = cs.find((c) => c.elector.isLeader())!;
      const standby = cs.find((c) => c !== leader)!;
      const before = await client.get<Lease>(RESOURCES.lease, 'failover', ns.name);
      const t0 = Date.now();
      leader.client.partitioned = true;
      await eventually(() => Promise.resolve(standby.elector.isLeader()), { what: 'standby takes over', timeoutMs: 15_000, intervalMs: 50 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(timing.leaseDurationMs - 500);
      // The partitioned leader stepped down on its own (renew deadline) before the standby took over.
      expect(leader.elector.isLeader()).toBe(false);
      expect(leader.events).toEqual(['started', 'stopped']);
      const after = await client.get<Lease>(RESOURCES.lease, 'failover', ns.name);
      expect(after?.spec?.holderIdentity).toBe(standby.identity);
      expect(after?.spec?.leaseTransitions).toBe((before?.spec?.leaseTransitions ?? 0) + 1);
    } finally {
      for (const c of cs) c.client.partitioned = false;
      await Promise.all(cs.map((c) => c.elector.stop()));
    }
  });
});
