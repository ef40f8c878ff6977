/**
 * Serving on slices against the real API server, kube-controller-manager (Deployments, the HPA controller),
 * kube-scheduler and KWOK, with the operator in-process and a simulated agent that reports which slice each
 * running pod holds:
 * - `kubectl scale` drives a partition's count through the scale subresource (to 3, then to 0);
 * - an elastic 3g.90gb partition follows a Deployment 1 → 6 (each pod its own slice), stops at max, shrinks
 *   after the delay — across an operator restart, the clock kept in status — down to what the pods need and
 *   then to min, and never releases a slice a running pod holds (the ledger is sampled throughout);
 * - with the cluster full, the partition grows as far as it can and the pod left over waits with a Warning
 *   that names the partition's Allocated reason;
 * - an HPA whose scaleTargetRef is a GpuPartition is reconciled by the real controller-manager: AbleToScale=True.
 */
import { PARTITION_GATE, PARTITION_LABEL } from '../../../src/api/constants.js';
import type { Condition, GpuNode, GpuPartition } from '../../../src/api/types.js';
import { podGated, type PodObject } from '../../../src/api/pods.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES, type ResourceRef } from '../../../src/k8s/resources.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import type { Manager } from '../../../src/runtime/manager.js';
import { eventually, kubectl, type TestNamespace, type EventLike } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';
import { backgroundPoll } from '../../support/background-poll.js';

const HPA: ResourceRef = { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', namespaced: true };
const RES = 'nvidia.com/mig-3g.90gb';
const DELAY_S = 6;

let client: KubeClient;
let ns: TestNamespace;
let selector: Record<string, string>;
let nodeNames: string[];
let operator: Manager;
const h = new OperatorHarness();


beforeAll(async () => {
  // Two nodes × 2 B200: room for 8 × 3g.90gb.
  await h.setUp('scale', { count: 2, gpus: 2 });
  ({ client, ns, selector, nodeNames } = h);
  h.startAgent({ trackPods: true });
  operator = await h.startOperator();
});

afterAll(() => h.stop());

const get = (name: string) => client.get<GpuPartition>(RESOURCES.gpuPartition, name, ns.name);
const cond = (p: GpuPartition | undefined, type: string): Condition | undefined => p?.status?.conditions?.find((c) => c.type === type);
const events = async (name: string) => (await client.list<EventLike>(RESOURCES.event, { namespace: ns.name })).items.filter((e) => e.involvedObject.name === name);
const gpuNodes = async () => (await client.list<GpuNode>(RESOURCES.gpuNode)).items.filter((n) => nodeNames.includes(n.metadata.name ?? ''));
const claimsOf = async (name: string) => ledgerEntries(await gpuNodes()).filter((e) => e.claim.namespace === ns.name && e.claim.name === name);
const podsOf = async (app: string) =>
  (await client.list<PodObject>(RESOURCES.pod, { namespace: ns.name, labelSelector: `app=${app}` })).items.filter((p) => !p.metadata.deletionTimestamp);

/**
 * The count change a set of ScaledDown Event messages (`count A → B: N slice(s) idle for …`) adds up to, checking
 * that each step releases exactly its idle slices after the delay and that the steps chain without a gap.
 */
function scaleDownSteps(messages: string[]): { from: number; to: number } {
  const steps = messages.map((m) => {
    const match = /^count (\d+) → (\d+): (\d+) slice\(s\) idle for spec\.autoscale\.scaleDownDelaySeconds \((\d+) s\)/.exec(m);
    if (!match) throw new Error(`unexpected ScaledDown message: ${m}`);
    const [from, to, idle, delay] = match.slice(1).map(Number) as [number, number, number, number];
    if (from - to !== idle || delay !== DELAY_S) throw new Error(`inconsistent ScaledDown step: ${m}`);
    return { from, to };
  });
  if (steps.length === 0) throw new Error('no ScaledDown Event');
  // Counts only go down, so the steps in order of their starting count must each start where the last one ended.
  steps.sort((a, b) => b.from - a.from);
  if (steps.some((s, i) => i > 0 && steps[i - 1]!.to !== s.from)) throw new Error(`ScaledDown steps do not chain: ${messages.join(' | ')}`);
  return { from: steps[0]!.from, to: steps[steps.length - 1]!.to };
}

function partition(name: string, spec: GpuPartition['spec']): GpuPartition {
  return { apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuPartition', metadata: { name, namespace: ns.name }, spec: { nodeSelector: selector, ...spec } };
}

/** A vLLM-style serving Deployment (busybox stand-in) whose pods consume partition `name`. */
function deployment(name: string, replicas: number): object {
  const labels = { app: name, [PARTITION_LABEL]: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns.name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels },
        spec: {
          schedulingGates: [{ name: PARTITION_GATE }],
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'server', image: 'busybox', resources: { limits: { [RES]: 1 } } }],
        },
      },
    },
  };
}

const scaleDeployment = (name: string, replicas: number) => kubectl(['-n', ns.name, 'scale', `deployment/${name}`, `--replicas=${replicas}`]);

/** Slices running pods of `app` hold, per the agent, as `node/gpu@start` → pod name. */
async function heldByPods(app: string): Promise<Map<string, string>> {
  const live = new Set((await podsOf(app)).filter((p) => p.status?.phase === 'Running').map((p) => p.metadata.name));
  const out = new Map<string, string>();
  for (const gn of await gpuNodes()) {
    for (const g of gn.status?.gpus ?? []) {
      for (const s of g.slices) if (s.inUse && s.pod?.namespace === ns.name && live.has(s.pod.name)) out.set(`${gn.metadata.name}/${g.index}@${s.start}`, s.pod.name);
    }
  }
  return out;
}

/**
 * Samples the ledger every 100 ms until stopped: every slice a running pod of `app` holds must stay claimed by
 * partition `name` in the node's spec. Returns the violations seen.
 */
function sampleHeldSlices(name: string, app: string): { stop(): Promise<string[]> } {
  const violations: string[] = [];
  const poll = backgroundPoll(async () => {
    const held = await heldByPods(app);
    const claimed = new Set((await claimsOf(name)).map((e) => `${e.node}/${e.gpuIndex}@${e.start}`));
    for (const [where, pod] of held) if (!claimed.has(where)) violations.push(`${where} (pod ${pod}) not in the ledger`);
  }, 100);
  return {
    async stop() {
      await poll.stop();
      return violations;
    },
  };
}

test('kubectl scale drives count through the scale subresource; the subresource reports slices held and the pod selector', async () => {
  await client.create(RESOURCES.gpuPartition, partition('manual', { profile: '3g.90gb', count: 1 }));
  await eventually(async () => (await get('manual'))?.status?.phase === 'Ready', { timeoutMs: 30_000, what: 'manual Ready' });
  await kubectl(['-n', ns.name, 'scale', 'gpupartition/manual', '--replicas=3']);
  const p = await eventually(async () => {
    const x = await get('manual');
    return x?.status?.phase === 'Ready' && x.status.replicas === 3 ? x : undefined;
  }, { timeoutMs: 30_000, what: 'manual holds 3' });
  expect(p.spec.count).toBe(3);
  expect(await claimsOf('manual')).toHaveLength(3);
  const scale = JSON.parse(await kubectl(['get', '--raw', `/apis/gpu.haein.dev/v1alpha1/namespaces/${ns.name}/gpupartitions/manual/scale`]));
  expect(scale).toMatchObject({ kind: 'Scale', spec: { replicas: 3 }, status: { replicas: 3, selector: 'gpu.haein.dev/partition=manual' } });

  await kubectl(['-n', ns.name, 'scale', 'gpup/manual', '--replicas=0']);
  const zero = await eventually(async () => {
    const x = await get('manual');
    return x?.status?.replicas === 0 && cond(x, 'Ready')?.reason === 'ScaledToZero' ? x : undefined;
  }, { timeoutMs: 30_000, what: 'manual scaled to zero' });
  expect(zero.status?.phase).toBe('Ready');
  // Scaled to zero at once; the cycle releases the slices right after.
  await eventually(async () => (await claimsOf('manual')).length === 0, { timeoutMs: 30_000, what: 'manual\'s slices released' });
  // Out of the range the CRD allows: refused by the API server with its message.
  await expect(kubectl(['-n', ns.name, 'scale', 'gpup/manual', '--replicas=300'])).rejects.toThrow(/spec\.count/);
  await client.delete(RESOURCES.gpuPartition, 'manual', ns.name);
});

test('an elastic partition follows a Deployment 1 → 6 (max 6), shrinks after the delay across an operator restart, to min at zero pods, never taking a slice a pod holds', async () => {
  await client.create(RESOURCES.gpuPartition, partition('serve', { profile: '3g.90gb', count: 1, autoscale: { min: 1, max: 6, scaleDownDelaySeconds: DELAY_S } }));
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(deployment('serve', 1)) });
  await eventually(async () => (await podsOf('serve')).filter((p) => p.status?.phase === 'Running').length === 1, { timeoutMs: 60_000, what: 'first serving pod Running' });
  expect((await get('serve'))?.spec.count).toBe(1);
  const sampler = sampleHeldSlices('serve', 'serve');

  // Up: one slice per pod, each pod its own slice.
  await scaleDeployment('serve', 6);
  await eventually(async () => (await heldByPods('serve')).size === 6, { timeoutMs: 90_000, what: '6 pods each holding a slice' });
  let p = (await get('serve'))!;
  expect(p.spec.count).toBe(6);
  expect(p.status?.replicas).toBe(6);
  expect(new Set((await heldByPods('serve')).values()).size).toBe(6);
  expect((await events('serve')).some((e) => e.reason === 'ScaledUp')).toBe(true);

  // Max: a seventh pod waits, told that the partition is at its max.
  await scaleDeployment('serve', 7);
  const extra = await eventually(async () => (await podsOf('serve')).find((x) => podGated(x)), { timeoutMs: 30_000, what: 'a seventh pod, gated' });
  await eventually(async () => (await events(extra.metadata.name as string)).some((e) => e.type === 'Warning' && e.reason === 'PartitionFull' && /spec\.autoscale\.max 6/.test(e.message)), { what: 'PartitionFull at max' });
  expect((await get('serve'))?.spec.count).toBe(6);
  await eventually(async () => cond(await get('serve'), 'Autoscaled')?.reason === 'LimitedByMaximum', { what: 'LimitedByMaximum' });

  // Down to 2 pods: count waits for the delay, which is kept in status across an operator restart.
  await scaleDeployment('serve', 2);
  const delayed = await eventually(async () => {
    const x = await get('serve');
    return x?.status?.autoscale?.scaleDownSince && x.status.autoscale.consumers === 2 ? x : undefined;
  }, { timeoutMs: 30_000, what: 'scale-down pending' });
  expect(delayed.spec.count).toBe(6);
  expect(cond(delayed, 'Autoscaled')?.reason).toMatch(/ScaleDownDelayed|WaitingForPods/);
  const since = delayed.status!.autoscale!.scaleDownSince!;
  await operator.stop();
  operator = await h.startOperator();
  p = await eventually(async () => {
    const x = await get('serve');
    return x?.spec.count === 2 && x.status?.replicas === 2 ? x : undefined;
  }, { timeoutMs: 60_000, what: 'count 2, 2 slices held' });
  const scaledAt = Date.parse(p.status!.autoscale!.lastScaleTime!);
  expect(scaledAt - Date.parse(since)).toBeGreaterThanOrEqual(DELAY_S * 1000);
  // 6 → 2, in one step or more: a pod being deleted still counts as a consumer until it is gone, so the
  // scale-down may first aim higher and take the rest after another delay. Each step names the slices it let go,
  // idle for the delay. Events are written after the count, so the last one may trail it.
  const scaledDown = async () => scaleDownSteps((await events('serve')).filter((e) => e.reason === 'ScaledDown').map((e) => e.message));
  await eventually(async () => (await scaledDown().catch(() => undefined))?.to === 2, { timeoutMs: 30_000, what: 'ScaledDown Events down to count 2' });
  expect(await scaledDown()).toEqual({ from: 6, to: 2 });
  // The partition stays Ready while the cycle releases the surplus; then the ledger holds exactly what the pods hold.
  expect(p.status?.phase).toBe('Ready');
  const claimed = async () => (await claimsOf('serve')).map((e) => `${e.node}/${e.gpuIndex}@${e.start}`).sort();
  await eventually(async () => (await claimed()).length === 2, { timeoutMs: 30_000, what: 'the surplus released from the ledger' });
  expect([...(await heldByPods('serve')).keys()].sort()).toEqual(await claimed());

  // No pods: count goes to min 1, not 0.
  await scaleDeployment('serve', 0);
  await eventually(async () => (await get('serve'))?.status?.replicas === 1, { timeoutMs: 60_000, what: 'count at min 1' });
  expect((await get('serve'))?.spec.count).toBe(1);
  expect(await sampler.stop()).toEqual([]);
});

test('cluster full: the partition grows as far as it can, and the pod left over waits with a Warning naming InsufficientCapacity', async () => {
  // serve holds 1 slice (min); a filler takes 6 of the 8, leaving room for one more.
  await client.create(RESOURCES.gpuPartition, partition('filler', { profile: '3g.90gb', count: 6 }));
  await eventually(async () => (await get('filler'))?.status?.phase === 'Ready', { timeoutMs: 30_000, what: 'filler Ready' });
  await scaleDeployment('serve', 3);
  await eventually(async () => (await heldByPods('serve')).size === 2, { timeoutMs: 60_000, what: 'two pods holding slices' });
  const waiting = await eventually(async () => {
    const gated = (await podsOf('serve')).filter((x) => podGated(x));
    if (gated.length !== 1) return undefined;
    const warned = (await events(gated[0]!.metadata.name as string)).find((e) => e.type === 'Warning' && e.reason === 'PartitionCannotGrow');
    return warned;
  }, { timeoutMs: 60_000, what: 'the third pod warned that the partition cannot grow' });
  expect(waiting.message).toMatch(/Allocated=False, InsufficientCapacity/);
  const p = await get('serve');
  expect(p?.status?.replicas).toBe(2);
  expect(cond(p, 'Autoscaled')?.reason).toBe('LimitedByCapacity');
  // Once with the same reason, however many passes ran meanwhile.
  expect((await events(waiting.involvedObject.name)).filter((e) => e.reason === 'PartitionCannotGrow')).toHaveLength(1);

  // Capacity comes back: the third pod gets its slice.
  await client.delete(RESOURCES.gpuPartition, 'filler', ns.name);
  await eventually(async () => (await heldByPods('serve')).size === 3, { timeoutMs: 60_000, what: 'third pod holding a slice' });
  expect((await get('serve'))?.spec.count).toBe(3);
});

test('an HPA targeting a GpuPartition is reconciled by kube-controller-manager: AbleToScale=True', async () => {
  await client.create(RESOURCES.gpuPartition, partition('hpa-target', { profile: '1g.23gb', count: 1 }));
  await eventually(async () => (await get('hpa-target'))?.status?.selector !== undefined, { timeoutMs: 30_000, what: 'hpa-target status' });
  await client.create(HPA, {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'hpa-target', namespace: ns.name },
    spec: {
      scaleTargetRef: { apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuPartition', name: 'hpa-target' },
      minReplicas: 1,
      maxReplicas: 3,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
    },
  });
  type Hpa = { status?: { currentReplicas?: number; conditions?: Condition[] } };
  const hpa = await eventually(async () => {
    const x = await client.get<Hpa>(HPA, 'hpa-target', ns.name);
    return cond(x as GpuPartition | undefined, 'AbleToScale') ? x : undefined;
  }, { timeoutMs: 90_000, what: 'HPA AbleToScale condition' });
  expect(cond(hpa as GpuPartition, 'AbleToScale')).toMatchObject({ status: 'True', reason: 'SucceededGetScale' });
  expect(hpa?.status?.currentReplicas).toBe(1);
});
