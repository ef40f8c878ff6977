/**
 * Pods that need no gate: unchanged NVIDIA-style pods (a `nvidia.com/mig-1g.23gb` request, no label, no gate)
 * against the real API server with the chart's admission policies bound to this suite's namespaces.
 * - With the MutatingAdmissionPolicy (the local API server offers admissionregistration.k8s.io/v1alpha1): the
 *   pod is gated at admission, the operator binds it to the Ready partition of its profile and admits it; a pod
 *   matching no partition stays gated with a Warning naming what to create.
 * - Without it (a namespace bound to the validating policy only): the pod is refused with a message saying what
 *   to add, and that the mutating policy would do it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { PARTITION_GATE, PARTITION_LABEL } from '../../../src/api/constants.js';
import type { GpuPartition } from '../../../src/api/types.js';
import { podGated, podTargetNode, type PodObject } from '../../../src/api/pods.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { REPO_ROOT, createTestNamespace, eventually, kubectl, toolDir, type TestNamespace } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';

const run = promisify(execFile);
const h = new OperatorHarness();
let plainNs: TestNamespace;
const installed: string[] = [];

interface Doc {
  kind: string;
  metadata: { name: string };
  spec: { policyName?: string; matchResources?: object };
}

/** The chart's admission policies, renamed for this suite and bound to the given namespaces only. */
async function installPolicies(name: string, namespaces: Record<'validating' | 'mutating', string[]>): Promise<void> {
  const { stdout } = await run(join(await toolDir(), 'helm'), [
    'template', 'haein', join(REPO_ROOT, 'charts', 'haein'), '-n', 'haein-system',
    '--api-versions', 'admissionregistration.k8s.io/v1alpha1/MutatingAdmissionPolicy',
    // The in-process operator writes as the admin user: trust it, as the chart trusts the operator's ServiceAccount.
    '--set', 'admission.trustedUsers={kubernetes-admin}',
    '--show-only', 'templates/admission-policy.yaml', '--show-only', 'templates/mutating-admission-policy.yaml',
  ]);
  const docs = yaml.loadAll(stdout).filter((d): d is Doc => d !== null && typeof d === 'object');
  for (const d of docs) {
    const mutating = d.kind.startsWith('Mutating');
    d.metadata.name = `${name}-${mutating ? 'm' : 'v'}`.slice(0, 63);
    if (d.kind.endsWith('Binding')) {
      d.spec.policyName = d.metadata.name;
      d.spec.matchResources = { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: namespaces[mutating ? 'mutating' : 'validating'] }] } };
    }
    installed.push(`${d.kind.toLowerCase()}/${d.metadata.name}`);
  }
  await kubectl(['apply', '-f', '-'], { input: docs.map((d) => JSON.stringify(d)).join('\n---\n') });
}

/** Creates a pod as a tenant would (not as the trusted admin user the operator runs as); kubectl's output. */
async function createAsTenant(namespace: string, pod: PodObject): Promise<string> {
  return kubectl(['create', '--as=haein-test-tenant', '--as-group=system:masters', '-n', namespace, '-f', '-', '-o', 'json'], { input: JSON.stringify(pod), allowFailure: true });
}

function plainPod(name: string, resource = 'nvidia.com/mig-1g.23gb'): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { restartPolicy: 'Never', containers: [{ name: 'cuda', image: 'nvcr.io/nvidia/cuda:12.8.0-base-ubuntu24.04', command: ['nvidia-smi', '-L'], resources: { limits: { [resource]: 1 } } }] },
  };
}

beforeAll(async () => {
  await h.setUp('plain', { count: 1, gpus: 8 });
  h.startAgent();
  await h.startOperator();
  plainNs = await createTestNamespace('plain-nomap');
  await installPolicies(`haein-test-${h.ns.name}`, { validating: [h.ns.name, plainNs.name], mutating: [h.ns.name] });
  // Policies reach the admission chain asynchronously: wait until a plain pod is gated in one and refused in the other.
  for (const namespace of [h.ns.name, plainNs.name]) {
    await eventually(async () => {
      const out = await createAsTenant(namespace, plainPod('probe', 'nvidia.com/mig-7g.180gb'));
      const created = out.startsWith('{') ? (JSON.parse(out) as PodObject) : undefined;
      if (created) {
        await kubectl(['delete', 'pod', 'probe', '-n', namespace, '--wait=false']);
        await eventually(async () => !(await h.client.get(RESOURCES.pod, 'probe', namespace)), { what: 'probe gone' });
      }
      // Gated where the mutating policy is bound (created with the gate: the validating policy's refusal names the
      // gate too), refused where only the validating one is.
      return namespace === h.ns.name ? created?.spec.schedulingGates?.some((g) => g.name === PARTITION_GATE) === true : out.includes('denied');
    }, { timeoutMs: 60_000, what: `the admission policies to take effect in ${namespace}` });
  }
  await h.client.create(RESOURCES.gpuPartition, {
    apiVersion: 'gpu.haein.dev/v1alpha1',
    kind: 'GpuPartition',
    metadata: { name: 'notebook', namespace: h.ns.name },
    spec: { profile: '1g.23gb', count: 1, nodeSelector: h.selector },
  });
  await eventually(async () => (await h.client.get<GpuPartition>(RESOURCES.gpuPartition, 'notebook', h.ns.name))?.status?.phase === 'Ready', { timeoutMs: 60_000, what: 'notebook Ready' });
}, 180_000);

afterAll(async () => {
  for (const obj of installed) await kubectl(['delete', obj, '--ignore-not-found'], { allowFailure: true });
  await plainNs?.cleanup();
  await h.stop();
});

test('an unchanged NVIDIA-style pod is gated at admission, bound to the Ready partition of its profile and admitted', async () => {
  const created = JSON.parse(await createAsTenant(h.ns.name, plainPod('cuda'))) as PodObject;
  // What the API server stored: the mutating policy added the empty label and the gate.
  expect(created.metadata.labels?.[PARTITION_LABEL]).toBe('');
  expect(created.spec.schedulingGates).toEqual([{ name: PARTITION_GATE }]);
  const admitted = await eventually(async () => {
    const p = await h.client.get<PodObject>(RESOURCES.pod, 'cuda', h.ns.name);
    return p && !podGated(p) ? p : undefined;
  }, { timeoutMs: 30_000, what: 'cuda admitted' });
  expect(admitted.metadata.labels?.[PARTITION_LABEL]).toBe('notebook');
  const partition = await h.client.get<GpuPartition>(RESOURCES.gpuPartition, 'notebook', h.ns.name);
  expect(podTargetNode(admitted)).toBe(partition?.status?.allocations?.[0]?.node);
  // Events are sent after the gate is lifted, not awaited by it.
  const reasons = async () =>
    (JSON.parse(await kubectl(['get', 'events', '-n', h.ns.name, '--field-selector', 'involvedObject.name=cuda', '-o', 'json'])) as { items: Array<{ reason: string }> }).items.map((e) => e.reason);
  let seen: string[] = [];
  await eventually(
    async () => {
      seen = await reasons();
      return ['Bound', 'Admitted'].every((r) => seen.includes(r));
    },
    { timeoutMs: 30_000, what: () => `Bound and Admitted Events on cuda (seen: ${seen.join(', ') || 'none'})` },
  );
});

test('a plain pod that matches no partition stays gated with a Warning naming what to create', async () => {
  expect(await createAsTenant(h.ns.name, plainPod('big', 'nvidia.com/mig-3g.90gb'))).toContain('"name": "big"');
  const warning = await eventually(async () => {
    const events = JSON.parse(await kubectl(['get', 'events', '-n', h.ns.name, '--field-selector', 'involvedObject.name=big,type=Warning', '-o', 'json'])) as { items: Array<{ reason: string; message: string }> };
    return events.items.find((e) => e.reason === 'NoMatchingPartition');
  }, { timeoutMs: 30_000, what: 'the NoMatchingPartition Warning' });
  expect(warning.message).toContain(`no GpuPartition in namespace ${h.ns.name} offers nvidia.com/mig-3g.90gb: create one with spec.profile 3g.90gb`);
  const pod = await h.client.get<PodObject>(RESOURCES.pod, 'big', h.ns.name);
  expect(podGated(pod as PodObject)).toBe(true);
  expect(pod?.metadata.labels?.[PARTITION_LABEL]).toBe('');
});

test('without the mutating policy the same pod is refused with a message saying what to add', async () => {
  const out = await createAsTenant(plainNs.name, plainPod('cuda'));
  expect(out).toContain('denied');
  expect(out).toContain('add the label gpu.haein.dev/partition=<partition name>');
  expect(out).toContain('MutatingAdmissionPolicy');
});
