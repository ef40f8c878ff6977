/**
 * The CRDs and the partition-pod admission policy against the real API server: a corpus of valid manifests is
 * accepted, and each invalid one is rejected with a message that names the offending field. The policy is
 * installed under a test-only name and bound to this suite's namespace only, so other suites on the shared
 * cluster (and a real installation) are unaffected; it is removed afterwards.
 */
import { jest } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { API_VERSION, PARTITION_GATE, PARTITION_LABEL } from '../../../src/api/constants.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT, createTestNamespace, eventually, installCrds, kubectl, toolDir, type TestNamespace } from '../../support/cluster.js';

jest.setTimeout(120_000);

let ns: TestNamespace;
let policyName: string;
const gpuNodes: string[] = [];

/** The parts of the policy and binding documents the suite rewrites. */
interface PolicyDoc {
  kind: string;
  metadata: { name: string };
  spec: { policyName?: string; matchResources?: object };
}

/** Outcome of a create or patch: accepted, or the API server's message. */
interface Outcome {
  ok: boolean;
  message: string;
}

async function attempt(args: string[], input?: string): Promise<Outcome> {
  try {
    const out = await kubectl(args, input === undefined ? {} : { input });
    return { ok: true, message: out };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

const create = (obj: object, dryRun = false): Promise<Outcome> =>
  attempt(['create', '-f', '-', '-o', 'name', ...(dryRun ? ['--dry-run=server'] : [])], JSON.stringify(obj));

const mergePatch = (resource: string, name: string, patch: object, opts: { status?: boolean; namespaced?: boolean } = {}): Promise<Outcome> =>
  attempt([
    'patch', resource, name, '--type=merge', '-p', JSON.stringify(patch),
    ...(opts.namespaced === false ? [] : ['-n', ns.name]),
    ...(opts.status ? ['--subresource=status'] : []),
  ]);

const partition = (name: string, spec: object) => ({
  apiVersion: API_VERSION, kind: 'GpuPartition', metadata: { name, namespace: ns.name }, spec,
});
const trainingJob = (name: string, spec: object) => ({
  apiVersion: API_VERSION,
  kind: 'TrainingJob',
  metadata: { name, namespace: ns.name },
  spec: { template: { spec: { containers: [{ name: 'w', image: 'busybox', command: ['sleep', '1'] }] } }, ...spec },
});
const gpuNode = (suffix: string, gpus: object[]) => {
  const name = `${ns.name}-${suffix}`;
  gpuNodes.push(name);
  return { apiVersion: API_VERSION, kind: 'GpuNode', metadata: { name }, spec: { gpus } };
};
const pod = (name: string, opts: { labels?: Record<string, string>; gated?: boolean; limits?: Record<string, string> }) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns.name, labels: opts.labels ?? {} },
  spec: {
    ...(opts.gated ? { schedulingGates: [{ name: PARTITION_GATE }] } : {}),
    containers: [{ name: 'c', image: 'busybox', resources: { limits: opts.limits ?? {} } }],
  },
});

beforeAll(async () => {
  await installCrds();
  ns = await createTestNamespace('crdv');
  policyName = `haein-test-${ns.name}`.slice(0, 63);
  // The plain policy copy, renamed and bound to this namespace only.
  const docs = yaml
    .loadAll(readFileSync(join(REPO_ROOT, 'config', 'admission-policy.yaml'), 'utf8'))
    .filter((d): d is PolicyDoc => d !== null && typeof d === 'object');
  for (const d of docs) {
    d.metadata.name = policyName;
    if (d.kind === 'ValidatingAdmissionPolicyBinding') {
      d.spec.policyName = policyName;
      d.spec.matchResources = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns.name } } };
    }
  }
  await kubectl(['apply', '-f', '-'], { input: docs.map((d) => JSON.stringify(d)).join('\n---\n') });
  // Policies reach the admission chain asynchronously: wait until an ungated partition pod is refused.
  await eventually(async () => !(await create(pod('probe', { labels: { [PARTITION_LABEL]: 'x' } }), true)).ok, {
    timeoutMs: 60_000,
    what: 'the admission policy to take effect',
  });
});

afterAll(async () => {
  if (policyName) {
    await kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', policyName, '--ignore-not-found'], { allowFailure: true });
  }
  for (const n of gpuNodes) await kubectl(['delete', 'gpunode', n, '--ignore-not-found', '--wait=false'], { allowFailure: true });
  await ns?.cleanup();
});

describe('valid manifests are accepted', () => {
  it.each([
    ['partition by profile', () => partition('by-profile', { profile: '1g.23gb' })],
    ['partition by memory', () => partition('by-memory', { memory: '80Gi', count: 2 })],
    ['partition by compute slices', () => partition('by-compute', { computeSlices: 3, priority: 10, preemptionPolicy: 'PreemptLowerPriority' })],
    ['media-extension profile', () => partition('by-me', { profile: '1g.23gb+me', gpuProducts: ['NVIDIA-B200'] })],
    ['partition scaled to zero', () => partition('zero', { profile: '1g.23gb', count: 0 })],
    ['elastic partition', () => partition('elastic', { profile: '3g.90gb', autoscale: { min: 0, max: 4, scaleDownDelaySeconds: 0 } })],
    ['whole-GPU gang', () => trainingJob('whole', { replicas: 2, gpusPerWorker: 8, topology: 'sameClique' })],
    ['sameNode gang that fits one node', () => trainingJob('same-node', { replicas: 2, gpusPerWorker: 4, topology: 'sameNode' })],
    ['slice gang', () => trainingJob('slices', { replicas: 4, profile: '3g.90gb' })],
    ['GpuNode layout', () => gpuNode('ok', [
      { index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0 }, { profile: '2g.45gb', start: 4 }, { profile: '1g.23gb', start: 6 }] },
      { index: 1, mode: 'whole' },
    ])],
  ])('%s', async (_name, build) => {
    const out = await create(build());
    expect(out).toEqual({ ok: true, message: expect.any(String) });
  });

  it('fills the documented defaults', async () => {
    await create(trainingJob('defaults', { replicas: 1, gpusPerWorker: 1 }));
    const spec = JSON.parse(await kubectl(['get', 'trainingjob', 'defaults', '-n', ns.name, '-o', 'jsonpath={.spec}']));
    expect(spec).toMatchObject({ topology: 'any', backoffLimit: 3, restartPolicy: 'RestartGang', masterPort: 29500, priority: 0, suspend: false });
    await create(partition('defaults', { profile: '7g.180gb' }));
    const p = JSON.parse(await kubectl(['get', 'gpupartition', 'defaults', '-n', ns.name, '-o', 'jsonpath={.spec}']));
    expect(p).toMatchObject({ count: 1, priority: 0, preemptionPolicy: 'Never', preemptible: false });
    await create(partition('elastic-defaults', { profile: '3g.90gb', autoscale: { max: 3 } }));
    const e = JSON.parse(await kubectl(['get', 'gpupartition', 'elastic-defaults', '-n', ns.name, '-o', 'jsonpath={.spec.autoscale}']));
    expect(e).toEqual({ min: 1, max: 3, scaleDownDelaySeconds: 300 });
  });

  it.each(
    readdirSync(join(REPO_ROOT, 'examples'))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .flatMap((f) => (yaml.loadAll(readFileSync(join(REPO_ROOT, 'examples', f), 'utf8')) as Array<{ kind: string; metadata: { namespace?: string } }>)
        .filter((d) => d && d.kind !== 'Namespace')
        .map((d) => [`${f} ${d.kind}`, d] as const)),
  )('example %s passes server-side validation', async (_name, doc) => {
    const copy = structuredClone(doc);
    copy.metadata.namespace = ns.name;
    expect(await create(copy, true)).toEqual({ ok: true, message: expect.any(String) });
  });
});

describe('invalid manifests are rejected with a message naming the field', () => {
  it.each([
    ['both profile and memory', () => partition('bad-both', { profile: '1g.23gb', memory: '20Gi' }), /spec\.profile is mutually exclusive with spec\.memory/],
    ['neither profile nor size', () => partition('bad-neither', { count: 1 }), /one of spec\.profile, spec\.memory or spec\.computeSlices is required/],
    ['bad profile pattern', () => partition('bad-pattern', { profile: '1g.23GB' }), /spec\.profile.*should match/],
    ['negative count', () => partition('bad-count', { profile: '1g.23gb', count: -1 }), /spec\.count.*greater than or equal to 0/],
    ['autoscale min above max', () => partition('bad-minmax', { profile: '1g.23gb', autoscale: { min: 4, max: 2 } }), /spec\.autoscale\.min: Invalid value.*spec\.autoscale\.min must not be greater than spec\.autoscale\.max/],
    ['autoscale negative min', () => partition('bad-min', { profile: '1g.23gb', autoscale: { min: -1, max: 2 } }), /spec\.autoscale\.min must be between 0 and 256/],
    ['autoscale max 0', () => partition('bad-max', { profile: '1g.23gb', autoscale: { min: 0, max: 0 } }), /spec\.autoscale\.max must be between 1 and 256/],
    ['autoscale without max', () => partition('bad-nomax', { profile: '1g.23gb', autoscale: { min: 1 } as never }), /spec\.autoscale\.max: Required value/],
    ['scale-down delay over a day', () => partition('bad-delay', { profile: '1g.23gb', autoscale: { max: 2, scaleDownDelaySeconds: 90000 } }), /spec\.autoscale\.scaleDownDelaySeconds must be between 0 and 86400/],
    ['negative priority', () => partition('bad-priority', { profile: '1g.23gb', priority: -1 }), /spec\.priority.*greater than or equal to 0/],
    ['zero memory', () => partition('bad-memory', { memory: '0Gi' }), /spec\.memory must be greater than zero/],
    ['computeSlices 8', () => partition('bad-compute', { computeSlices: 8 }), /spec\.computeSlices.*less than or equal to 7/],
    ['job with gpusPerWorker and profile', () => trainingJob('bad-both', { replicas: 1, gpusPerWorker: 1, profile: '1g.23gb' }), /spec\.gpusPerWorker and spec\.profile are mutually exclusive/],
    ['job with neither', () => trainingJob('bad-neither', { replicas: 1 }), /one of spec\.gpusPerWorker .* or spec\.profile .* is required/],
    ['oversized sameNode gang', () => trainingJob('bad-gang', { replicas: 2, gpusPerWorker: 8, topology: 'sameNode' }), /spec\.topology.*gpusPerWorker × spec\.replicas ≤ 8/],
    ['bad topology enum', () => trainingJob('bad-topology', { replicas: 2, gpusPerWorker: 8, topology: 'rack' }), /spec\.topology: Unsupported value: "rack"/],
    ['job without containers', () => ({ ...trainingJob('bad-template', { replicas: 1, gpusPerWorker: 1 }), spec: { replicas: 1, gpusPerWorker: 1, template: { spec: { containers: [] } } } }), /spec\.template\.spec\.containers.*at least 1 items/],
    ['GpuNode slice start 8', () => gpuNode('start8', [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 8 }] }]), /spec\.gpus\[0\]\.slices\[0\]\.start.*less than or equal to 7/],
    ['GpuNode illegal 3g placement', () => gpuNode('start3g', [{ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 2 }] }]), /spec\.gpus\[0\]\.slices\[0\]\.start.*not a legal placement/],
    ['GpuNode duplicate GPU index', () => gpuNode('dup', [{ index: 0, mode: 'mig' }, { index: 0, mode: 'whole' }]), /spec\.gpus\[1\]: Duplicate value/],
    ['GpuNode bad profile name', () => gpuNode('badprof', [{ index: 0, mode: 'mig', slices: [{ profile: '9g.10gb', start: 0 }] }]), /spec\.gpus\[0\]\.slices\[0\]\.profile.*should match/],
    ['GpuNode whole GPU with slices', () => gpuNode('whole', [{ index: 0, mode: 'whole', slices: [{ profile: '1g.23gb', start: 0 }] }]), /spec\.gpus\[0\]\.slices.*must be empty when spec\.gpus\[\]\.mode is whole/],
  ])('%s', async (_name, build, message) => {
    const out = await create(build());
    expect(out.ok).toBe(false);
    expect(out.message).toMatch(message);
  });
});

describe('transition rules', () => {
  it('a partition may change count but not its profile', async () => {
    expect((await create(partition('immutable', { profile: '1g.23gb' }))).ok).toBe(true);
    const changed = await mergePatch('gpupartition', 'immutable', { spec: { profile: '2g.45gb' } });
    expect(changed.ok).toBe(false);
    expect(changed.message).toMatch(/spec\.profile: Forbidden: spec\.profile is immutable/);
    const swapped = await mergePatch('gpupartition', 'immutable', { spec: { profile: null, memory: '20Gi' } });
    expect(swapped.ok).toBe(false);
    expect(swapped.message).toMatch(/spec\.profile cannot be added or removed after creation/);
    expect((await mergePatch('gpupartition', 'immutable', { spec: { count: 3 } })).ok).toBe(true);
  });

  it('a partition holding slices cannot be moved to other nodes', async () => {
    expect((await create(partition('placed', { profile: '1g.23gb' }))).ok).toBe(true);
    expect((await mergePatch('gpupartition', 'placed', { spec: { nodeSelector: { zone: 'a' } } })).ok).toBe(true);
    const allocation = { slot: 0, node: 'n1', gpuIndex: 0, profile: '1g.23gb', start: 0, realised: true, inUse: false };
    expect((await mergePatch('gpupartition', 'placed', { status: { allocations: [allocation] } }, { status: true })).ok).toBe(true);
    const moved = await mergePatch('gpupartition', 'placed', { spec: { nodeSelector: { zone: 'b' } } });
    expect(moved.ok).toBe(false);
    expect(moved.message).toMatch(/spec\.nodeSelector and spec\.gpuProducts are immutable while the partition holds slices/);
    expect((await mergePatch('gpupartition', 'placed', { spec: { priority: 5 } })).ok).toBe(true);
  });

  it('a running job keeps its shape until suspended', async () => {
    expect((await create(trainingJob('running', { replicas: 2, gpusPerWorker: 4 }))).ok).toBe(true);
    expect((await mergePatch('trainingjob', 'running', { spec: { replicas: 3 } })).ok).toBe(true);
    expect((await mergePatch('trainingjob', 'running', { status: { phase: 'Running' } }, { status: true })).ok).toBe(true);
    const grown = await mergePatch('trainingjob', 'running', { spec: { replicas: 4 } });
    expect(grown.ok).toBe(false);
    expect(grown.message).toMatch(/spec\.replicas: Forbidden: .*cannot change while the job is Placing or Running/);
    expect((await mergePatch('trainingjob', 'running', { spec: { suspend: true } })).ok).toBe(true);
    expect((await mergePatch('trainingjob', 'running', { status: { phase: 'Suspended' } }, { status: true })).ok).toBe(true);
    expect((await mergePatch('trainingjob', 'running', { spec: { replicas: 4 } })).ok).toBe(true);
  });
});

describe('admission policy for partition pods', () => {
  it('rejects a labelled pod without the scheduling gate, telling the user what to add', async () => {
    const out = await create(pod('ungated', { labels: { [PARTITION_LABEL]: 'notebook' }, limits: { 'nvidia.com/mig-1g.23gb': '1' } }));
    expect(out.ok).toBe(false);
    expect(out.message).toContain(`spec.schedulingGates: [{name: ${PARTITION_GATE}}]`);
    expect(out.message).toContain(`${PARTITION_LABEL}=notebook`);
  });

  it('rejects a MIG request without the partition label', async () => {
    const out = await create(pod('unlabelled', { limits: { 'nvidia.com/mig-3g.90gb': '1' } }));
    expect(out.ok).toBe(false);
    expect(out.message).toMatch(/must consume it through a GpuPartition: add the label gpu\.haein\.dev\/partition=/);
  });

  it('rejects a label value that cannot be a partition name', async () => {
    const out = await create(pod('badname', { labels: { [PARTITION_LABEL]: 'Not_A_Name' }, gated: true }));
    expect(out.ok).toBe(false);
    expect(out.message).toMatch(/gpu\.haein\.dev\/partition=Not_A_Name cannot name a GpuPartition/);
  });

  it('accepts a gated, labelled pod and then refuses to re-point it at another partition', async () => {
    const out = await create(pod('gated', { labels: { [PARTITION_LABEL]: 'notebook' }, gated: true, limits: { 'nvidia.com/mig-1g.23gb': '1' } }));
    expect(out).toEqual({ ok: true, message: expect.stringContaining('pod/gated') });
    const relabel = await attempt(['label', 'pod', 'gated', '-n', ns.name, '--overwrite', `${PARTITION_LABEL}=other`]);
    expect(relabel.ok).toBe(false);
    expect(relabel.message).toMatch(/cannot be added, changed or removed after the pod is created/);
    expect((await attempt(['label', 'pod', 'gated', '-n', ns.name, 'team=a'])).ok).toBe(true);
  });

  it('leaves ordinary pods alone', async () => {
    expect((await create(pod('plain', { limits: { cpu: '10m' } }), true)).ok).toBe(true);
    expect((await create(pod('whole-gpu', { limits: { 'nvidia.com/gpu': '1' } }), true)).ok).toBe(true);
  });

  it('type-checks cleanly against the Pod schema', async () => {
    const status = await eventually(async () => {
      const raw = await kubectl(['get', 'validatingadmissionpolicy', policyName, '-o', 'json']);
      const policy = JSON.parse(raw) as { metadata: { generation: number }; status?: { observedGeneration?: number; typeChecking?: { expressionWarnings?: unknown[] } } };
      return policy.status?.observedGeneration === policy.metadata.generation ? policy.status : undefined;
    }, { timeoutMs: 60_000, what: 'the policy type check (kube-controller-manager)' });
    expect(status.typeChecking?.expressionWarnings ?? []).toEqual([]);
  });
});

describe('served API', () => {
  it('kubectl explain shows the field documentation', async () => {
    const out = await kubectl(['explain', 'gpupartition.spec.memory']);
    expect(out).toMatch(/minimum GPU memory per slice as a Kubernetes quantity/);
    expect(await kubectl(['explain', 'tj.spec.topology'])).toMatch(/sameClique/);
  });

  it('kubectl get haein lists every kind', async () => {
    const out = await kubectl(['get', 'haein', '-n', ns.name, '-o', 'name']);
    expect(out).toMatch(/gpupartition\.gpu\.haein\.dev\//);
    expect(out).toMatch(/trainingjob\.gpu\.haein\.dev\//);
    expect(out).toMatch(/gpunode\.gpu\.haein\.dev\//);
  });

  it('every manifest the chart renders passes server-side validation', async () => {
    const { stdout } = await promisify(execFile)(
      join(await toolDir(), 'helm'),
      ['template', 'haein-test', join(REPO_ROOT, 'charts', 'haein'), '-n', ns.name],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const rendered = yaml.loadAll(stdout).filter((d) => d !== null);
    const lines = (await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: stdout })).trim().split('\n');
    expect(lines).toHaveLength(rendered.length);
    for (const line of lines) expect(line).toMatch(/^\S+\/\S+ created \(server dry run\)$/);
    expect(lines.join('\n')).toMatch(/^deployment\.apps\/haein-test-operator created/m);
  });
});
