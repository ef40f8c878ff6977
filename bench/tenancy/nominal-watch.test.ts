import { describe, expect, it } from '@jest/globals';
import type { ClaimRef, GpuNode, GpuTenant } from '../../src/api/types.js';
import { ledgerEntries } from '../../src/ledger/claims.js';
import type { NodeObject } from '../../src/ledger/snapshot.js';
import type { PlacementRequest } from '../../src/placement/types.js';
import { QuotaBook } from '../../src/tenancy/quota-book.js';
import { TenantDirectory } from '../../src/tenancy/tenant-resolution.js';
import { ClusterSim } from './cluster-sim.js';
import { NominalWatch, OwedCapacity } from './nominal-watch.js';

const READY: NodeObject = { metadata: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
const tenant = (name: string, nominal: number, cohort?: string): GpuTenant => ({ apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuTenant', metadata: { name }, spec: { nominal, namespaces: [name], ...(cohort ? { cohort } : {}) } });
const claim = (t: string, name: string, borrowed = false): ClaimRef => ({ kind: 'GpuPartition', namespace: t, name, uid: name, slot: 0, priority: 0, preemptible: false, tenant: t, ...(borrowed ? { borrowed } : {}) });
const whole: PlacementRequest = { id: 'r', members: [{ kind: 'slice', key: 'GpuPartition/a/r/0', profile: '7g.180gb' }] };

/** One 2-GPU node whose GPUs hold the given claims as 7g slices. */
function ledger(claims: ClaimRef[]): GpuNode[] {
  const sim = new ClusterSim(1, 2, () => false);
  const gn = sim.list()[0] as GpuNode;
  sim.write([{ ...gn, spec: { gpus: claims.map((c, index) => ({ index, mode: 'mig' as const, slices: [{ profile: '7g.180gb', start: 0, claim: c }] })) } }], 0);
  return sim.list();
}

function owed(tenants: GpuTenant[], claims: ClaimRef[]): OwedCapacity {
  const nodes = ledger(claims);
  return new OwedCapacity(nodes, () => READY, new QuotaBook(new TenantDirectory(tenants, []), ledgerEntries(nodes), 'allow'));
}

describe('OwedCapacity', () => {
  it('free capacity is owed', () => {
    expect(owed([tenant('a', 1)], [claim('b', 'b0')]).fits('a', whole)).toBe(true);
  });

  it('borrowed claims of a cohort peer above its nominal quota count as free; its own quota, other cohorts and non-borrowed claims do not', () => {
    const tenants = [tenant('a', 1, 'c'), tenant('b', 1, 'c'), tenant('x', 0, 'other')];
    expect(owed(tenants, [claim('b', 'b0'), claim('b', 'b1', true)]).fits('a', whole)).toBe(true);
    // b within its nominal quota: its borrowed-flagged claim is not reclaimable.
    expect(owed([tenant('a', 1, 'c'), tenant('b', 2, 'c')], [claim('b', 'b0'), claim('b', 'b1', true)]).fits('a', whole)).toBe(false);
    expect(owed(tenants, [claim('b', 'b0'), claim('x', 'x0', true)]).fits('a', whole)).toBe(false);
    expect(owed(tenants, [claim('b', 'b0'), claim('b', 'b1')]).fits('a', whole)).toBe(false);
  });
});

describe('NominalWatch', () => {
  it('counts a request owed at two consecutive cycles and still waiting after the second, once per episode', () => {
    const w = new NominalWatch();
    w.cycle(['r'], (k) => `late ${k}`);
    expect(w.violations).toBe(0);
    w.cycle(['r'], (k) => `late ${k}`);
    w.cycle(['r'], (k) => `late ${k}`);
    expect(w.violations).toBe(1);
    // Served or no longer owed: the streak ends; a new episode counts again.
    w.cycle([], () => '');
    w.cycle(['r', 's'], (k) => `late ${k}`);
    w.cycle(['r'], (k) => `late ${k}`);
    w.cycle(['s'], (k) => `late ${k}`);
    expect(w.violations).toBe(2);
    expect(w.examples).toEqual(['late r', 'late r']);
  });
});
