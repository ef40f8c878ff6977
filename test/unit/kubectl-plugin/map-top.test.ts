import type { ClaimRef } from '../../../src/api/types.js';
import { SLOT_GLYPH, TENANT_LEGEND, narrowMap, renderMap, slotBar } from '../../../src/kubectl-plugin/map-text.js';
import { renderTenantTop, tenantRows } from '../../../src/kubectl-plugin/top-tenants.js';
import { renderTop, topRows } from '../../../src/kubectl-plugin/top.js';
import { buildSliceMap } from '../../../src/slice-map/build-model.js';
import { makeGpuNode, makeNode, makeTenant, realise } from '../support/builders.js';

const claim = (kind: ClaimRef['kind'], ns: string, name: string, slot: number): ClaimRef => ({ kind, namespace: ns, name, uid: name, slot, priority: 0, preemptible: false });
const AT = '2026-03-01T11:00:00.000Z';

function model() {
  const a = makeGpuNode('a', { gpus: 2 });
  a.spec = {
    gpus: [
      { index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: claim('GpuPartition', 'team-a', 'inf', 0) }, { profile: '1g.23gb', start: 4, claim: claim('GpuPartition', 'team-b', 'nb', 0) }, { profile: '1g.23gb', start: 5 }] },
      { index: 1, mode: 'whole', slices: [], claim: claim('TrainingJob', 'team-a', 'llm', 0) },
    ],
  };
  realise(a);
  a.status!.gpus![0]!.slices[0]!.inUse = true;
  const b = makeGpuNode('b', { gpus: 1 });
  return buildSliceMap({ gpuNodes: [a, b], node: (n) => makeNode(n), partitions: [], jobs: [], pods: [], synced: true, now: new Date() });
}

test('one line per GPU with a bar of its memory slots', () => {
  const m = model();
  expect(slotBar(m.nodes[0]!.gpus[0]!)).toBe(`${SLOT_GLYPH['in-use'].repeat(4)}${SLOT_GLYPH.allocated}${SLOT_GLYPH.free}··`);
  const text = renderMap(m, false).split('\n');
  expect(text[0]).toMatch(/^NODE\s+GPU\s+MODE\s+SLOTS\s+SLICES$/);
  expect(text[1]).toContain('3g.90gb@0 in-use gpup/team-a/inf#0 | 1g.23gb@4 allocated gpup/team-b/nb#0 | 1g.23gb@5 free');
  expect(text[2]).toContain('whole allocated tj/team-a/llm#0');
  expect(text[3]).toMatch(/^b\s+0\s+mig\s+········\s+-$/);
  expect(text.at(-1)).toBe('2 node(s), 3 GPU(s); slices: 1 in use, 2 allocated, 0 realising, 1 free; 0 waiting');
  expect(renderMap(m, true).split('\n')[1]).toContain('MIG-a-0-0-3g.90gb');
});

test('-n keeps the GPUs holding that namespace', () => {
  const m = narrowMap(model(), { namespace: 'team-b' });
  expect(m.nodes.map((n) => [n.name, n.gpus.map((g) => g.index)])).toEqual([['a', [0]]]);
  expect(renderMap(narrowMap(model(), { namespace: 'nobody' }), false)).toBe('No GPUs found.');
});

test('top: slices per namespace and profile, with the share of memory', () => {
  const rows = topRows(model());
  expect(rows).toEqual([
    { namespace: 'team-a', profile: '3g.90gb', allocated: 1, inUse: 1, realising: 0, memorySlots: 4, gpuEq: 0.429, tenants: [], holders: ['gpup/inf'] },
    { namespace: 'team-a', profile: 'whole', allocated: 1, inUse: 0, realising: 0, memorySlots: 8, gpuEq: 1, tenants: [], holders: ['tj/llm'] },
    { namespace: 'team-b', profile: '1g.23gb', allocated: 1, inUse: 0, realising: 0, memorySlots: 1, gpuEq: 0.143, tenants: [], holders: ['gpup/nb'] },
  ]);
  expect(topRows(model(), new Set(['team-b']))).toHaveLength(1);
  const text = renderTop(rows, 24, true).split('\n');
  expect(text[0]).toMatch(/^NAMESPACE\s+PROFILE\s+ALLOCATED\s+IN-USE\s+REALISING\s+GPU-EQ\s+GPU-SHARE\s+TENANT\s+HOLDERS$/);
  expect(text[2]).toMatch(/^team-a\s+whole\s+1\s+0\s+0\s+1\s+33\.3%\s+<none>\s+tj\/llm$/);
  expect(renderTop([], 24, false)).toBe('No slices allocated.');
});

/** Node t: research's borrowed 3g and whole GPU (claims naming it), and a claim from before tenancy in team-v (vision's). */
function tenantModel() {
  const t = makeGpuNode('t', { gpus: 2 });
  t.spec = {
    gpus: [
      {
        index: 0,
        mode: 'mig',
        slices: [
          { profile: '3g.90gb', start: 0, claim: { ...claim('GpuPartition', 'team-r', 'inf', 0), tenant: 'research', borrowed: true, allocatedAt: AT } },
          { profile: '3g.90gb', start: 4, claim: claim('GpuPartition', 'team-v', 'old', 0) },
        ],
      },
      { index: 1, mode: 'whole', slices: [], claim: { ...claim('TrainingJob', 'team-r', 'llm', 0), tenant: 'research', allocatedAt: AT } },
    ],
  };
  realise(t);
  const research = makeTenant('research', { namespaces: ['team-r'], cohort: 'lab', nominal: 1, borrowingLimit: 4, profileLimits: [{ profile: '1g.23gb', max: 8 }] }, {
    used: 1.429,
    borrowed: 0.429,
    lent: 0,
    waiting: 2,
    namespaces: ['team-r'],
    usageByProfile: [{ profile: '3g.90gb', slices: 1, gpuEquivalents: 0.429 }, { profile: 'whole', slices: 1, gpuEquivalents: 1 }],
  });
  const vision = makeTenant('vision', { namespaces: ['team-v'], cohort: 'lab', nominal: 16, lendingLimit: 12, weight: 2 }, { used: 0, borrowed: 0, lent: 0.429, waiting: 0, namespaces: ['team-v', 'shared'], conflicts: [{ namespace: 'shared', tenants: ['other', 'vision'] }] });
  const idle = makeTenant('idle', { namespaces: ['x'] });
  return buildSliceMap({ gpuNodes: [t], node: (n) => makeNode(n), partitions: [], jobs: [], pods: [], tenants: [research, vision, idle], namespaces: [], synced: true, now: new Date() });
}

test('map -o wide: the tenant of each holder, * when borrowed, ~ for a claim from before tenancy; borrowed in the summary', () => {
  const m = tenantModel();
  const wide = renderMap(m, true).split('\n');
  expect(wide[1]).toContain('3g.90gb@0 allocated gpup/team-r/inf#0 [research*] MIG-');
  expect(wide[1]).toContain('3g.90gb@4 allocated gpup/team-v/old#0 [~vision] MIG-');
  expect(wide[2]).toContain('whole allocated tj/team-r/llm#0 [research] GPU-');
  expect(wide).toContain(TENANT_LEGEND);
  expect(wide.at(-1)).toBe('1 node(s), 2 GPU(s); slices: 0 in use, 3 allocated, 0 realising, 0 free; 1 held on borrowed quota; 0 waiting');
  // The narrow map stays as it was.
  expect(renderMap(m, false)).not.toContain('[research');
  expect(renderMap(m, false)).not.toContain(TENANT_LEGEND);
});

test('--tenant narrows the map to the GPUs holding its slices and to itself', () => {
  const m = narrowMap(tenantModel(), { tenant: 'vision' });
  expect(m.nodes.map((n) => [n.name, n.gpus.map((g) => g.index)])).toEqual([['t', [0]]]);
  expect(m.tenants.map((t) => t.name)).toEqual(['vision']);
  expect(narrowMap(tenantModel(), { namespace: 'team-r' }).tenants.map((t) => t.name)).toEqual(['research']);
  expect(topRows(tenantModel(), undefined, 'research').map((r) => [r.namespace, r.profile, r.tenants])).toEqual([
    ['team-r', '3g.90gb', ['research']],
    ['team-r', 'whole', ['research']],
  ]);
  expect(topRows(tenantModel()).find((r) => r.namespace === 'team-v')?.tenants).toEqual(['~vision']);
});

test('top --by tenant: the figures of each tenant, GPU-eq by profile; wide adds limits, weight, caps and namespaces', () => {
  const m = tenantModel();
  const rows = tenantRows(m.tenants, {});
  const text = renderTenantTop(rows, false).split('\n');
  expect(text).toEqual([
    expect.stringMatching(/^TENANT\s+COHORT\s+NOMINAL\s+USED\s+BORROWED\s+LENT\s+WAITING\s+GPU-EQ BY PROFILE$/),
    expect.stringMatching(/^idle\s+<none>\s+1\s+<unknown>\s+<unknown>\s+<unknown>\s+<unknown>\s+<unknown>$/),
    expect.stringMatching(/^research\s+lab\s+1\s+1\.429\s+0\.429\s+0\s+2\s+1×3g\.90gb=0\.429, 1×whole=1$/),
    expect.stringMatching(/^vision\s+lab\s+16\s+0\s+0\s+0\.429\s+0\s+-$/),
  ]);
  const wide = renderTenantTop(rows, true).split('\n');
  expect(wide[0]).toMatch(/GPU-EQ BY PROFILE\s+WEIGHT\s+BORROWING-LIMIT\s+LENDING-LIMIT\s+PROFILE-CAPS\s+NAMESPACES$/);
  expect(wide[1]).toMatch(/\s1\s+0\s+0\s+<none>\s+x$/);
  expect(wide[2]).toMatch(/\s1\s+4\s+all\s+8×1g\.23gb\s+team-r$/);
  expect(wide[3]).toMatch(/\s2\s+cohort\s+12\s+<none>\s+shared\(conflict\),team-v$/);
  expect(tenantRows(m.tenants, { namespace: 'team-v' }).map((t) => t.name)).toEqual(['vision']);
  expect(tenantRows(m.tenants, { tenant: 'research' }).map((t) => t.name)).toEqual(['research']);
  expect(renderTenantTop([], false)).toBe('No GpuTenants found.');
});
