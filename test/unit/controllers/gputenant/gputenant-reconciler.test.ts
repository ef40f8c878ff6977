import type { GpuTenant } from '../../../../src/api/types.js';
import { GpuTenantReconciler } from '../../../../src/controllers/gputenant/gputenant-reconciler.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { OperatorMetrics } from '../../../../src/runtime/metrics.js';
import { makeGpuNode, makePartition } from '../../support/builders.js';
import { quietLog } from '../../support/fakes.js';
import { OperatorSim } from '../../support/operator-sim.js';

const tenant = (name: string, spec: Partial<GpuTenant['spec']>): GpuTenant => ({ apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuTenant', metadata: { name }, spec: { nominal: 0, namespaces: [name], ...spec } });

let sim: OperatorSim;
afterEach(() => sim?.stop());

test('tenant status: namespaces, used, borrowed, lent, waiting and per-profile use; a conflict is reported with one Event', async () => {
  sim = new OperatorSim([makeGpuNode('n1', { gpus: 3 })]);
  const metrics = new OperatorMetrics();
  sim.client.seed(RESOURCES.gpuTenant, tenant('acme', { nominal: 1, cohort: 'c' }));
  sim.client.seed(RESOURCES.gpuTenant, tenant('globex', { nominal: 2, cohort: 'c', namespaces: ['globex', 'shared'] }));
  sim.client.seed(RESOURCES.gpuTenant, tenant('initech', { nominal: 1, namespaces: ['shared'] }));
  sim.start();
  sim.client.seed(RESOURCES.gpuPartition, makePartition('a1', 'acme', { profile: '7g.180gb', count: 2 }));
  sim.client.seed(RESOURCES.gpuPartition, makePartition('a2', 'acme', { profile: '3g.90gb' }));
  sim.client.seed(RESOURCES.gpuPartition, makePartition('a3', 'acme', { profile: '7g.180gb' }));
  sim.client.seed(RESOURCES.gpuPartition, makePartition('s', 'shared', { profile: '1g.23gb' }));
  await sim.settle();
  const r = new GpuTenantReconciler({
    client: sim.client,
    tenants: sim.tenants,
    namespaces: () => sim.namespaces.list().map((n) => ({ name: n.metadata.name as string })),
    ledger: sim.ledger,
    waiting: () => sim.cycle.waitingByTenant(),
    unassigned: 'allow',
    recorder: sim.recorder,
    metrics,
  });
  for (const name of ['acme', 'globex', 'initech']) await r.reconcile({ name }, quietLog);
  const acme = sim.tenants.get('acme')!.status!;
  // Nominal 1 in a pool of 3 (acme's 1 + globex's 2): a1 (2) and a2 (3/7) borrow 1.43 of globex's idle 2;
  // a3 (1 more) would need more than the 0.57 left, and waits.
  expect(acme).toMatchObject({
    namespaces: ['acme'],
    used: 2.429,
    borrowed: 1.429,
    lent: 0,
    waiting: 1,
    usageByProfile: [
      { profile: '3g.90gb', slices: 1, gpuEquivalents: 0.429 },
      { profile: '7g.180gb', slices: 2, gpuEquivalents: 2 },
    ],
  });
  expect(sim.tenants.get('globex')!.status).toMatchObject({ used: 0, borrowed: 0, lent: 1.429, namespaces: ['globex', 'shared'], conflicts: [{ namespace: 'shared', tenants: ['globex', 'initech'] }] });
  expect(sim.tenants.get('globex')!.status!.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'NamespaceConflict' });
  expect(sim.tenants.get('initech')!.status!.waiting).toBe(0);
  expect(sim.recorder.events.filter((e) => e.reason === 'NamespaceConflict').map((e) => e.name).sort()).toEqual(['globex', 'initech']);
  const writes = sim.client.writesOf('GpuTenant');
  for (const name of ['acme', 'globex', 'initech']) await r.reconcile({ name }, quietLog);
  expect(sim.client.writesOf('GpuTenant')).toBe(writes);
  expect(sim.recorder.events.filter((e) => e.reason === 'NamespaceConflict')).toHaveLength(2);

  // The tenant gauges carry the same figures, and a tenant that is gone leaves none behind.
  const text = await metrics.render();
  for (const line of [
    'haein_tenant_gpu_equivalents{tenant="acme",quantity="nominal"} 1',
    'haein_tenant_gpu_equivalents{tenant="acme",quantity="used"} 2.429',
    'haein_tenant_gpu_equivalents{tenant="acme",quantity="borrowed"} 1.429',
    'haein_tenant_gpu_equivalents{tenant="globex",quantity="lent"} 1.429',
    'haein_tenant_waiting_requests{tenant="acme"} 1',
  ]) expect(text).toContain(line);
  await sim.client.delete(RESOURCES.gpuTenant, 'acme');
  await sim.settle();
  await r.reconcile({ name: 'acme' }, quietLog);
  expect(await metrics.render()).not.toContain('tenant="acme"');
  expect(await metrics.render()).toContain('haein_tenant_waiting_requests{tenant="globex"} 0');
});
