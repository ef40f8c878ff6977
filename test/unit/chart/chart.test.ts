import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { toolDir } from '../../support/cluster.js';
import { ROOT } from '../crds/crd-schema.js';

const run = promisify(execFile);
const CHART = join(ROOT, 'charts', 'haein');
const NAMESPACE = 'haein-system';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface Container {
  name: string;
  image: string;
  imagePullPolicy: string;
  command: string[];
  args: string[];
  env: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  securityContext: Record<string, unknown>;
  livenessProbe?: { httpGet: { path: string } };
  readinessProbe?: { httpGet: { path: string } };
  resources: { requests?: object; limits?: { memory?: string } };
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  hostNetwork?: boolean;
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: Array<{ name: string; hostPath?: { path: string } }>;
  nodeSelector?: Record<string, string>;
  topologySpreadConstraints?: unknown[];
}
interface Workload extends K8sObject {
  spec: { replicas?: number; template: { spec: PodSpec } };
}

async function helm(args: string[]): Promise<string> {
  const { stdout } = await run(join(await toolDir(), 'helm'), args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Renders the chart as release `haein` in haein-system with the given --set values. */
async function render(...sets: string[]): Promise<K8sObject[]> {
  const out = await helm(['template', 'haein', CHART, '-n', NAMESPACE, ...sets.flatMap((s) => ['--set', s])]);
  return yaml.loadAll(out).filter((d): d is K8sObject => d !== null && typeof d === 'object');
}

const find = <T extends K8sObject>(docs: K8sObject[], kind: string, name?: string): T => {
  const hit = docs.find((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  if (!hit) throw new Error(`no ${kind}${name ? `/${name}` : ''} rendered`);
  return hit as T;
};
const kinds = (docs: K8sObject[]) => docs.map((d) => d.kind).sort();

jest.setTimeout(60_000);

let defaults: K8sObject[];
beforeAll(async () => {
  defaults = await render();
});

describe('chart CRDs', () => {
  it('are byte-identical copies of crds/ (same files, same bytes)', () => {
    const source = readdirSync(join(ROOT, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    const copies = readdirSync(join(CHART, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    expect(copies).toEqual(source);
    for (const f of source) {
      const a = readFileSync(join(ROOT, 'crds', f));
      const b = readFileSync(join(CHART, 'crds', f));
      expect({ file: f, identical: a.equals(b) }).toEqual({ file: f, identical: true });
    }
  });
});

describe('helm lint and template', () => {
  it('lint --strict passes', async () => {
    const out = await helm(['lint', '--strict', CHART]);
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('renders exactly the expected kinds with default values', () => {
    expect(kinds(defaults)).toEqual(
      [
        'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Deployment',
        'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'Service', 'Service', 'ServiceAccount', 'ServiceAccount',
        'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
        'ValidatingAdmissionPolicyBinding',
      ].sort(),
    );
    for (const d of defaults.filter((o) => !o.kind.startsWith('Cluster') && !o.kind.startsWith('ValidatingAdmission'))) {
      expect(d.metadata.namespace).toBe(NAMESPACE);
    }
  });

  it('optional parts follow their values', async () => {
    expect(kinds(await render('metrics.serviceMonitor.enabled=true'))).toContain('ServiceMonitor');
    const noAgent = await render('nodeAgent.enabled=false');
    expect(kinds(noAgent)).not.toContain('DaemonSet');
    expect(noAgent.filter((d) => d.metadata.name.includes('node-agent'))).toEqual([]);
    const noAdmission = await render('admission.enabled=false');
    expect(kinds(noAdmission).filter((k) => k.startsWith('ValidatingAdmission'))).toEqual([]);
    const single = await render('operator.replicas=1');
    expect(kinds(single)).not.toContain('PodDisruptionBudget');
  });

  it('serves the slice map on its port with a Service, and turns it off with sliceMap.enabled=false', async () => {
    const operator = (objs: K8sObject[]) => (objs.find((o) => o.kind === 'Deployment') as Workload).spec.template.spec.containers[0] as Container & { ports: Array<{ name: string; containerPort: number }> };
    expect(operator(defaults).args).toContain('--slice-map-port=8090');
    expect(operator(defaults).ports).toContainEqual({ name: 'slice-map', containerPort: 8090, protocol: 'TCP' });
    const svc = defaults.find((o) => o.kind === 'Service' && o.metadata.name.endsWith('-slice-map')) as K8sObject & { spec: { ports: Array<{ port: number; targetPort: string }> } };
    expect(svc.spec.ports).toEqual([{ name: 'slice-map', port: 8090, targetPort: 'slice-map', protocol: 'TCP' }]);
    const off = await render('sliceMap.enabled=false');
    expect(operator(off).args.some((a) => a.startsWith('--slice-map-port'))).toBe(false);
    expect(off.some((o) => o.metadata.name.endsWith('-slice-map'))).toBe(false);
  });

  it('meters with the configured interval and retention, serves the billing export with a Service, and turns either off', async () => {
    const operator = (objs: K8sObject[]) => (objs.find((o) => o.kind === 'Deployment') as Workload).spec.template.spec.containers[0] as Container & { ports: Array<{ name: string; containerPort: number }> };
    expect(operator(defaults).args).toEqual(expect.arrayContaining(['--metering-interval-ms=30000', '--metering-retention-days=90', '--billing-port=8091']));
    expect(operator(defaults).ports).toContainEqual({ name: 'billing', containerPort: 8091, protocol: 'TCP' });
    const svc = defaults.find((o) => o.kind === 'Service' && o.metadata.name.endsWith('-billing')) as K8sObject & { spec: { ports: Array<{ port: number; targetPort: string }> } };
    expect(svc.spec.ports).toEqual([{ name: 'billing', port: 8091, targetPort: 'billing', protocol: 'TCP' }]);
    const tuned = await render('metering.intervalSeconds=10', 'metering.retentionDays=400');
    expect(operator(tuned).args).toEqual(expect.arrayContaining(['--metering-interval-ms=10000', '--metering-retention-days=400']));
    const noBilling = await render('billing.enabled=false');
    expect(operator(noBilling).args.some((a) => a.startsWith('--billing-port'))).toBe(false);
    expect(noBilling.some((o) => o.metadata.name.endsWith('-billing'))).toBe(false);
    const off = await render('metering.enabled=false');
    expect(operator(off).args).toContain('--metering=false');
    expect(operator(off).args.some((a) => a.startsWith('--billing-port') || a.startsWith('--metering-interval'))).toBe(false);
    expect(off.some((o) => o.metadata.name.endsWith('-billing'))).toBe(false);
  });

  it('lets the operator keep GpuUsage records and mirror tenant usage, and nothing more on tenants', () => {
    const role = find<K8sObject & { rules: Rule[] }>(defaults, 'ClusterRole', 'haein-operator');
    const verbs = (resource: string) => role.rules.filter((r) => r.resources.includes(resource)).flatMap((r) => r.verbs).sort();
    expect(verbs('gpuusages')).toEqual(['create', 'delete', 'get', 'list', 'watch']);
    expect(verbs('gpuusages/status')).toEqual(['get', 'patch', 'update']);
    expect(verbs('gputenants/status')).toEqual(expect.arrayContaining(['patch']));
  });

  it('creates the GpuTenants listed in tenancy.tenants, and passes tenancy.unassignedNamespaces to the operator', async () => {
    const tenants = [
      { name: 'research', spec: { namespaces: ['research'], nominal: 64, cohort: 'lab', borrowingLimit: 32 } },
      { name: 'vision', spec: { namespaceSelector: { matchLabels: { team: 'vision' } }, nominal: 32, cohort: 'lab', weight: 2 } },
    ];
    const out = await helm(['template', 'haein', CHART, '-n', NAMESPACE, '--set-json', `tenancy.tenants=${JSON.stringify(tenants)}`, '--set', 'tenancy.unassignedNamespaces=refuse']);
    const docs = yaml.loadAll(out).filter((d): d is K8sObject & { spec: unknown } => d !== null && typeof d === 'object');
    expect(docs.filter((d) => d.kind === 'GpuTenant').map((d) => ({ name: d.metadata.name, spec: d.spec, namespaced: d.metadata.namespace !== undefined }))).toEqual(
      tenants.map((t) => ({ ...t, namespaced: false })),
    );
    const operator = (docs.find((o) => o.kind === 'Deployment') as unknown as Workload).spec.template.spec.containers[0] as Container;
    expect(operator.args).toContain('--unassigned-namespaces=refuse');
    expect(defaults.some((d) => d.kind === 'GpuTenant')).toBe(false);
    await expect(helm(['template', 'haein', CHART, '--set-json', 'tenancy.tenants=[{"name":"x"}]'])).rejects.toThrow(/tenancy.tenants\[x\].spec is required/);
  });

  it('refuses apiServerOverride without a host, with a message naming the value', async () => {
    await expect(render('apiServerOverride.enabled=true')).rejects.toThrow(/apiServerOverride.host is required/);
  });
});

describe('operator Deployment', () => {
  it('runs 2 locked-down replicas with leader election, probes, resources and spreading', () => {
    const dep = find<Workload>(defaults, 'Deployment');
    expect(dep.spec.replicas).toBe(2);
    const pod = dep.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    const [c] = pod.containers;
    expect(c.command).toEqual(['haein-operator']);
    expect(c.args).toEqual(expect.arrayContaining(['--leader-elect', `--lease-namespace=${NAMESPACE}`]));
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.livenessProbe?.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe?.httpGet.path).toBe('/readyz');
    expect(c.resources.requests).toBeDefined();
    expect(c.resources.limits).toBeDefined();
    expect(pod.topologySpreadConstraints).toHaveLength(1);
    expect(pod.hostNetwork).toBeUndefined();
    expect(c.env.map((e) => e.name)).not.toContain('KUBERNETES_SERVICE_HOST');
    // The heap limit sits under the memory limit, so V8 collects before the kubelet OOM-kills.
    expect(c.env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=320 --max-semi-space-size=16' });
    expect(parseInt(String(c.resources.limits?.memory), 10)).toBeGreaterThan(320);
  });

  it('operator.heapLimitMiB and operator.semiSpaceMiB set the heap sizes, and empty leaves Node its defaults', async () => {
    const env = async (...set: string[]) => find<Workload>(await render(...set), 'Deployment').spec.template.spec.containers[0].env;
    expect(await env('operator.heapLimitMiB=200')).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=200 --max-semi-space-size=16' });
    expect(await env('operator.semiSpaceMiB=null')).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=320' });
    expect(await env('operator.heapLimitMiB=null', 'operator.semiSpaceMiB=8')).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-semi-space-size=8' });
    expect((await env('operator.heapLimitMiB=null', 'operator.semiSpaceMiB=null')).map((e) => e.name)).not.toContain('NODE_OPTIONS');
  });

  it('takes image, pull policy and the API server override from values', async () => {
    const docs = await render(
      'image.repository=example.org/haein', 'image.tag=v9', 'image.pullPolicy=Never',
      'apiServerOverride.enabled=true', 'apiServerOverride.host=192.0.2.10', 'apiServerOverride.port=16443',
    );
    for (const kind of ['Deployment', 'DaemonSet']) {
      const pod = find<Workload>(docs, kind).spec.template.spec;
      const [c] = pod.containers;
      expect(c.image).toBe('example.org/haein:v9');
      expect(c.imagePullPolicy).toBe('Never');
      expect(pod.hostNetwork).toBe(true);
      expect(c.env).toEqual(
        expect.arrayContaining([
          { name: 'KUBERNETES_SERVICE_HOST', value: '192.0.2.10' },
          { name: 'KUBERNETES_SERVICE_PORT', value: '16443' },
        ]),
      );
    }
  });
});

describe('node-agent DaemonSet', () => {
  it('runs on GPU nodes with the kubelet directories, NODE_NAME and every documented flag', () => {
    const ds = find<Workload>(defaults, 'DaemonSet');
    const pod = ds.spec.template.spec;
    expect(pod.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    const [c] = pod.containers;
    expect(c.command).toEqual(['haein-node-agent']);
    const flags = c.args.map((a) => a.split('=')[0]);
    expect(flags).toEqual(
      expect.arrayContaining(['--node-name', '--model', '--gpus', '--device-plugin-dir', '--state-file', '--pod-resources-socket']),
    );
    expect(c.args).toContain('--node-name=$(NODE_NAME)');
    expect(c.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    const hostPaths = pod.volumes.filter((v) => v.hostPath).map((v) => v.hostPath!.path);
    expect(hostPaths).toEqual(expect.arrayContaining(['/var/lib/kubelet/device-plugins', '/var/lib/kubelet/pod-resources']));
    const pluginArg = c.args.find((a) => a.startsWith('--device-plugin-dir='))!.split('=')[1];
    expect(c.volumeMounts.map((m) => m.mountPath)).toContain(pluginArg);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c.args).toContain('--health-port=8082');
    expect(c.livenessProbe?.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe?.httpGet.path).toBe('/readyz');
  });

  it('drops the probes when the health server is disabled', async () => {
    const [c] = find<Workload>(await render('nodeAgent.healthPort=0'), 'DaemonSet').spec.template.spec.containers;
    expect(c.args).toContain('--health-port=0');
    expect(c.livenessProbe).toBeUndefined();
  });
});

describe('RBAC', () => {
  const rulesOf = (docs: K8sObject[], kind: string, name: string): Rule[] => find<K8sObject & { rules: Rule[] }>(docs, kind, name).rules;
  const allows = (rules: Rule[], group: string, resource: string, verb: string) =>
    rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));

  it('uses no wildcards and never touches secrets', () => {
    for (const d of defaults.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
      for (const r of (d as unknown as { rules: Rule[] }).rules) {
        expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*');
        expect(r.resources).not.toContain('secrets');
      }
    }
  });

  it('gives the operator its resources, status, finalizers, pods, services, events and read-only nodes', () => {
    const rules = rulesOf(defaults, 'ClusterRole', 'haein-operator');
    for (const res of ['gpupartitions', 'trainingjobs', 'gpunodes']) {
      for (const verb of ['get', 'list', 'watch', 'update', 'patch']) expect(allows(rules, 'gpu.haein.dev', res, verb)).toBe(true);
      expect(allows(rules, 'gpu.haein.dev', `${res}/status`, 'update')).toBe(true);
    }
    expect(allows(rules, 'gpu.haein.dev', 'gpupartitions/finalizers', 'update')).toBe(true);
    for (const verb of ['get', 'list', 'watch', 'create', 'delete', 'patch', 'update']) expect(allows(rules, '', 'pods', verb)).toBe(true);
    expect(allows(rules, '', 'services', 'create')).toBe(true);
    expect(allows(rules, '', 'events', 'create') && allows(rules, '', 'events', 'patch')).toBe(true);
    expect(allows(rules, '', 'nodes', 'watch')).toBe(true);
    expect(allows(rules, '', 'nodes', 'patch') || allows(rules, '', 'nodes', 'update')).toBe(false);
    // Leases only through the namespaced Role, never cluster-wide.
    expect(allows(rules, 'coordination.k8s.io', 'leases', 'update')).toBe(false);
    const role = find<K8sObject & { rules: Rule[] }>(defaults, 'Role');
    expect(role.metadata.namespace).toBe(NAMESPACE);
    expect(allows(role.rules, 'coordination.k8s.io', 'leases', 'update')).toBe(true);
  });

  it('gives the node agent only GpuNodes, their status and its Node', () => {
    const rules = rulesOf(defaults, 'ClusterRole', 'haein-node-agent');
    expect(allows(rules, 'gpu.haein.dev', 'gpunodes', 'create')).toBe(true);
    expect(allows(rules, 'gpu.haein.dev', 'gpunodes/status', 'patch')).toBe(true);
    expect(allows(rules, 'gpu.haein.dev', 'gpunodes', 'update') || allows(rules, 'gpu.haein.dev', 'gpunodes', 'delete')).toBe(false);
    expect(allows(rules, '', 'nodes', 'patch') && allows(rules, '', 'nodes/status', 'patch')).toBe(true);
    const resources = new Set(rules.flatMap((r) => r.resources));
    expect([...resources].sort()).toEqual(['gpunodes', 'gpunodes/status', 'nodes', 'nodes/status']);
  });

  it('binds each role to its own ServiceAccount in the release namespace', () => {
    for (const binding of defaults.filter((d) => d.kind.endsWith('Binding') && !d.kind.startsWith('Validating'))) {
      const b = binding as unknown as { roleRef: { name: string }; subjects: Array<{ kind: string; name: string; namespace: string }> };
      expect(b.subjects).toHaveLength(1);
      expect(b.subjects[0]).toMatchObject({ kind: 'ServiceAccount', namespace: NAMESPACE });
      expect(b.roleRef.name.startsWith(b.subjects[0].name)).toBe(true);
    }
  });
});

describe('admission policy', () => {
  interface Policy extends K8sObject {
    spec: { matchConditions: Array<{ expression: string }>; validations: Array<{ expression: string }> };
  }
  interface Binding extends K8sObject {
    spec: { policyName: string; validationActions: string[]; matchResources: { namespaceSelector: { matchExpressions: Array<{ values: string[] }> } } };
  }

  it('exempts kube-system, the release namespace and the operator ServiceAccount', () => {
    const policy = find<Policy>(defaults, 'ValidatingAdmissionPolicy', 'haein-partition-pods');
    const binding = find<Binding>(defaults, 'ValidatingAdmissionPolicyBinding', 'haein-partition-pods');
    expect(binding.spec.policyName).toBe(policy.metadata.name);
    expect(binding.spec.validationActions).toEqual(['Deny']);
    expect(binding.spec.matchResources.namespaceSelector.matchExpressions[0].values.sort()).toEqual(['haein-system', 'kube-system']);
    const sa = find<K8sObject>(defaults, 'ServiceAccount', 'haein-operator');
    expect(policy.spec.matchConditions[0].expression).toContain(`system:serviceaccount:${sa.metadata.namespace}:${sa.metadata.name}`);
  });

  it('config/admission-policy.yaml is the chart rendering for release haein in haein-system', async () => {
    const rendered = yaml.loadAll(
      await helm(['template', 'haein', CHART, '-n', NAMESPACE, '--show-only', 'templates/admission-policy.yaml']),
    );
    const plain = yaml.loadAll(readFileSync(join(ROOT, 'config', 'admission-policy.yaml'), 'utf8')).filter((d) => d !== null);
    expect(plain).toEqual(rendered.filter((d) => d !== null));
  });

  it('gates plain NVIDIA-style pods with a MutatingAdmissionPolicy only where the API server offers one', async () => {
    const map = (objs: K8sObject[]) => objs.filter((o) => o.kind.startsWith('MutatingAdmissionPolicy'));
    expect(map(defaults)).toEqual([]);
    const alpha = await helm(['template', 'haein', CHART, '-n', NAMESPACE, '--api-versions', 'admissionregistration.k8s.io/v1alpha1/MutatingAdmissionPolicy']);
    const docs = yaml.loadAll(alpha).filter((d): d is K8sObject => d !== null && typeof d === 'object');
    expect(map(docs).map((d) => `${d.apiVersion} ${d.kind}`)).toEqual([
      'admissionregistration.k8s.io/v1alpha1 MutatingAdmissionPolicy',
      'admissionregistration.k8s.io/v1alpha1 MutatingAdmissionPolicyBinding',
    ]);
    const beta = await helm(['template', 'haein', CHART, '-n', NAMESPACE, '--api-versions', 'admissionregistration.k8s.io/v1beta1/MutatingAdmissionPolicy', '--api-versions', 'admissionregistration.k8s.io/v1alpha1/MutatingAdmissionPolicy']);
    expect(beta).toContain('apiVersion: admissionregistration.k8s.io/v1beta1\nkind: MutatingAdmissionPolicy\n');
    const off = await helm(['template', 'haein', CHART, '--api-versions', 'admissionregistration.k8s.io/v1alpha1/MutatingAdmissionPolicy', '--set', 'admission.gatePlainPods=false']);
    expect(off).not.toContain('kind: MutatingAdmissionPolicy');
    const plain = yaml.loadAll(readFileSync(join(ROOT, 'config', 'mutating-admission-policy.yaml'), 'utf8')).filter((d) => d !== null);
    expect(plain).toEqual(map(docs));
  });
});
