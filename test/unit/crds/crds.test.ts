import { GROUP, VERSION, PLURALS } from '../../../src/api/constants.js';
import {
  crdFiles,
  crdsByKind,
  loadCrd,
  rootSchema,
  rulesOf,
  schemaAt,
  walkSchema,
  type Crd,
  type Schema,
} from './crd-schema.js';
import { mirrorMismatches } from './types-mirror.js';

const crds = crdsByKind();
const gpup = crds.get('GpuPartition')!;
const tj = crds.get('TrainingJob')!;
const gpun = crds.get('GpuNode')!;
const gput = crds.get('GpuTenant')!;
const gpuu = crds.get('GpuUsage')!;

/** Resolves a printer-column JSONPath (simple paths, `[*]` and `[?(@.x==…)]` filters) against the schema. */
function resolveColumnPath(root: Schema, jsonPath: string): Schema {
  if (jsonPath === '.metadata.creationTimestamp' || jsonPath === '.metadata.generation') return { type: 'string' };
  const steps = jsonPath
    .replace(/^\./, '')
    .replace(/\[\?\([^)]*\)\]/g, '[]')
    .replace(/\[\*\]/g, '[]')
    .replace(/\[\]\./g, '[].');
  return schemaAt(root, steps);
}

describe('CRD files', () => {
  it('define exactly the five Haein kinds, one file each, named <group>_<plural>.yaml', () => {
    expect(crdFiles()).toEqual(
      [PLURALS.gpuNode, PLURALS.gpuPartition, PLURALS.trainingJob, PLURALS.gpuTenant, PLURALS.gpuUsage].map((p) => `${GROUP}_${p}.yaml`).sort(),
    );
    for (const file of crdFiles()) {
      const crd = loadCrd(file);
      expect(`${GROUP}_${crd.spec.names.plural}.yaml`).toBe(file);
      expect(crd.metadata.name).toBe(`${crd.spec.names.plural}.${GROUP}`);
    }
  });

  it.each([...crds.entries()])('%s: group, version, status subresource and the haein category', (_kind, crd: Crd) => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.spec.group).toBe(GROUP);
    expect(crd.spec.versions).toHaveLength(1);
    const [v] = crd.spec.versions;
    expect(v).toMatchObject({ name: VERSION, served: true, storage: true });
    expect(v.subresources?.status).toEqual({});
    expect(crd.spec.names.categories).toEqual(['haein']);
  });

  it('GpuPartition has a scale subresource: spec.count, status.replicas and the consumer pod selector', () => {
    expect(gpup.spec.versions[0].subresources).toMatchObject({
      scale: { specReplicasPath: '.spec.count', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
    const root = rootSchema(gpup);
    expect([schemaAt(root, 'spec.count').type, schemaAt(root, 'status.replicas').type, schemaAt(root, 'status.selector').type]).toEqual(['integer', 'integer', 'string']);
    expect(tj.spec.versions[0].subresources?.scale).toBeUndefined();
  });

  it('use the promised short names and scopes', () => {
    expect([gpup, tj, gpun, gput, gpuu].map((c) => [c.spec.names.shortNames, c.spec.scope])).toEqual([
      [['gpup'], 'Namespaced'],
      [['tj'], 'Namespaced'],
      [['gpun'], 'Cluster'],
      [['gput'], 'Cluster'],
      [['gpuu'], 'Cluster'],
    ]);
  });
});

describe('schema documentation', () => {
  it.each([...crds.entries()])('%s: every property (and every object list item) has a description', (_k, crd) => {
    const missing: string[] = [];
    walkSchema(rootSchema(crd), (node, path) => {
      // The API server forbids anything but name/generateName restrictions on the root metadata.
      if (path === '' || path === 'metadata') return;
      const isItem = path.endsWith('[]') || path.endsWith('{}');
      if (isItem && node.type !== 'object') return;
      if (!node.description || node.description.trim().length < 10) missing.push(path);
    });
    expect(missing).toEqual([]);
  });

  it.each([...crds.entries()])('%s: spec and status say who writes them', (_k, crd) => {
    const root = rootSchema(crd);
    expect(schemaAt(root, 'spec').description).toMatch(/written by the (user|operator)/i);
    expect(schemaAt(root, 'status').description).toMatch(/written only by the (operator|node agent)/i);
  });

  it.each([...crds.entries()])('%s: bounds that keep CEL within the cost budget (maxItems, maxProperties, maxLength)', (_k, crd) => {
    const unbounded: string[] = [];
    walkSchema(rootSchema(crd), (node, path) => {
      if (node.type === 'array' && node.maxItems === undefined) unbounded.push(`${path} (maxItems)`);
      if (node.type === 'object' && node.additionalProperties && node.maxProperties === undefined) {
        unbounded.push(`${path} (maxProperties)`);
      }
      const isFreeString = node.type === 'string' && !node.enum && node.format !== 'date-time';
      // Annotation values are free text bounded by the API server's total annotation size.
      const exempt = ['apiVersion', 'kind'].includes(path) || path.endsWith('annotations{}');
      if (isFreeString && node.maxLength === undefined && !exempt) unbounded.push(`${path} (maxLength)`);
    });
    expect(unbounded).toEqual([]);
  });
});

describe('schema mirrors src/api/types.ts', () => {
  it.each([
    ['GpuPartition', gpup],
    ['TrainingJob', tj],
    ['GpuNode', gpun],
    ['GpuTenant', gput],
    ['GpuUsage', gpuu],
  ])('%s matches its TypeScript interface field by field', (kind, crd) => {
    const problems = mirrorMismatches(kind, rootSchema(crd), {
      skipPaths: ['metadata'],
      // A worker template accepts only labels and annotations of ObjectMeta.
      subsetPaths: ['spec.template.metadata'],
    });
    expect(problems).toEqual([]);
  });

  it('reports a field that exists only on one side (the comparison can fail)', () => {
    const schema = structuredClone(rootSchema(gpup));
    delete schema.properties!.spec.properties!.count;
    schema.properties!.spec.properties!.extra = { type: 'string', description: 'not in types.ts' };
    const problems = mirrorMismatches('GpuPartition', schema, { skipPaths: ['metadata'] });
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringContaining('spec.count'), expect.stringContaining('spec.extra')]),
    );
  });
});

describe('defaults, enums and bounds', () => {
  it('GpuPartition defaults count 1, priority 0, preemptionPolicy Never, preemptible false', () => {
    const spec = schemaAt(rootSchema(gpup), 'spec');
    const defaults = Object.fromEntries(
      Object.entries(spec.properties!).filter(([, s]) => s.default !== undefined).map(([k, s]) => [k, s.default]),
    );
    expect(defaults).toEqual({ count: 1, priority: 0, preemptionPolicy: 'Never', preemptible: false });
    // 0 holds nothing: a partition scaled to zero (by spec.autoscale.min 0, kubectl scale or KEDA).
    expect(spec.properties!.count).toMatchObject({ minimum: 0, maximum: 256 });
    expect(spec.properties!.priority.minimum).toBe(0);
    expect(spec.properties!.computeSlices).toMatchObject({ minimum: 1, maximum: 7 });
  });

  it('TrainingJob defaults topology any, backoffLimit 3, restartPolicy RestartGang, masterPort 29500', () => {
    const spec = schemaAt(rootSchema(tj), 'spec');
    const defaults = Object.fromEntries(
      Object.entries(spec.properties!).filter(([, s]) => s.default !== undefined).map(([k, s]) => [k, s.default]),
    );
    expect(defaults).toEqual({
      topology: 'any',
      priority: 0,
      backoffLimit: 3,
      restartPolicy: 'RestartGang',
      suspend: false,
      masterPort: 29500,
    });
    expect(spec.required).toEqual(expect.arrayContaining(['replicas', 'template']));
    expect(spec.properties!.gpusPerWorker).toMatchObject({ minimum: 1, maximum: 8 });
  });

  it('profile patterns accept real MIG profile names and refuse others', () => {
    const patterns = [
      schemaAt(rootSchema(gpup), 'spec.profile').pattern!,
      schemaAt(rootSchema(tj), 'spec.profile').pattern!,
      schemaAt(rootSchema(gpun), 'spec.gpus[].slices[].profile').pattern!,
    ];
    for (const p of patterns) {
      const re = new RegExp(p);
      for (const ok of ['1g.23gb', '1g.23gb+me', '1g.45gb', '3g.90gb', '4g.90gb', '7g.180gb', '3g.139gb']) {
        expect(re.test(ok)).toBe(true);
      }
      for (const bad of ['8g.23gb', '1g23gb', '1g.23GB', '3g.90gb+', 'mig-1g.23gb', '1g.gb', '0g.10gb']) {
        expect(re.test(bad)).toBe(false);
      }
    }
  });

  it('memory pattern accepts positive quantities and refuses other strings', () => {
    const re = new RegExp(schemaAt(rootSchema(gpup), 'spec.memory').pattern!);
    for (const ok of ['40Gi', '90G', '1.5Ti', '45000Mi', '1024']) expect(re.test(ok)).toBe(true);
    for (const bad of ['-1Gi', '40 Gi', 'forty', '40gb', '']) expect(re.test(bad)).toBe(false);
  });

  it('GpuNode GPU index and slice start are bounded, and lists are keyed so duplicates are rejected', () => {
    const root = rootSchema(gpun);
    expect(schemaAt(root, 'spec.gpus[].slices[].start')).toMatchObject({ minimum: 0, maximum: 7 });
    expect(schemaAt(root, 'spec.gpus')).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['index'],
    });
    expect(schemaAt(root, 'spec.gpus[].slices')).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['start'],
    });
    for (const crd of [gpup, tj, gpun]) {
      expect(schemaAt(rootSchema(crd), 'status.conditions')['x-kubernetes-list-map-keys']).toEqual(['type']);
    }
  });

  it('keeps unknown fields only inside the worker pod template', () => {
    const preserved: string[] = [];
    for (const crd of [gpup, tj, gpun]) {
      walkSchema(rootSchema(crd), (node, path) => {
        if (node['x-kubernetes-preserve-unknown-fields']) preserved.push(`${crd.spec.names.kind}:${path}`);
      });
    }
    expect(preserved.sort()).toEqual(['TrainingJob:spec.template.spec', 'TrainingJob:spec.template.spec.containers[]']);
  });
});

describe('CEL rules', () => {
  const has = (node: Schema, ...fragments: string[]): boolean =>
    rulesOf(node).some((r) => fragments.every((f) => r.includes(f)));

  it('GpuPartition: profile exclusive with memory/computeSlices, one of them required, size immutable', () => {
    const spec = schemaAt(rootSchema(gpup), 'spec');
    expect(has(spec, 'has(self.profile) && (has(self.memory) || has(self.computeSlices))')).toBe(true);
    expect(has(spec, 'has(self.profile) || has(self.memory) || has(self.computeSlices)')).toBe(true);
    expect(has(spec, 'has(self.profile) == has(oldSelf.profile)')).toBe(true);
    for (const f of ['profile', 'memory', 'computeSlices']) {
      expect(rulesOf(schemaAt(spec, f))).toContain('self == oldSelf');
    }
    expect(rulesOf(schemaAt(spec, 'count'))).toEqual([]);
    expect(has(rootSchema(gpup), 'oldSelf.status.allocations', 'self.spec.nodeSelector == oldSelf.spec.nodeSelector')).toBe(true);
  });

  it('GpuPartition autoscale: min ≤ max, bounds of min, max and the delay', () => {
    const autoscale = schemaAt(rootSchema(gpup), 'spec.autoscale');
    expect(autoscale.required).toEqual(['max']);
    expect(has(autoscale, 'self.min <= self.max')).toBe(true);
    expect(autoscale['x-kubernetes-validations']?.[0]?.message).toMatch(/^spec\.autoscale\.min must not be greater than spec\.autoscale\.max/);
    expect(rulesOf(schemaAt(autoscale, 'min'))).toEqual(['self >= 0 && self <= 256']);
    expect(rulesOf(schemaAt(autoscale, 'max'))).toEqual(['self >= 1 && self <= 256']);
    expect(rulesOf(schemaAt(autoscale, 'scaleDownDelaySeconds'))).toEqual(['self >= 0 && self <= 86400']);
    expect([schemaAt(autoscale, 'min').default, schemaAt(autoscale, 'scaleDownDelaySeconds').default]).toEqual([1, 300]);
  });

  it('TrainingJob: exactly one of gpusPerWorker/profile, sameNode bound, shape frozen while running', () => {
    const spec = schemaAt(rootSchema(tj), 'spec');
    expect(has(spec, 'has(self.gpusPerWorker) && has(self.profile)')).toBe(true);
    expect(has(spec, 'has(self.gpusPerWorker) || has(self.profile)')).toBe(true);
    expect(has(spec, "'sameNode'", 'self.gpusPerWorker * self.replicas <= 8')).toBe(true);
    expect(has(rootSchema(tj), "['Placing', 'Running']", 'self.spec.replicas == oldSelf.spec.replicas')).toBe(true);
  });

  it('GpuNode: legal start per profile, whole GPUs have no slices, one +me per GPU', () => {
    const gpu = schemaAt(rootSchema(gpun), 'spec.gpus[]');
    expect(has(gpu, "self.mode == 'mig' || size(self.slices) == 0")).toBe(true);
    expect(has(gpu, "endsWith('+me')")).toBe(true);
    expect(has(schemaAt(gpu, 'slices[]'), "startsWith('3g') ? self.start in [0, 4]")).toBe(true);
  });

  it('every rule carries a message that names a field', () => {
    for (const crd of [gpup, tj, gpun]) {
      walkSchema(rootSchema(crd), (node, path) => {
        for (const v of node['x-kubernetes-validations'] ?? []) {
          const message = v.message ?? v.messageExpression ?? '';
          expect({ path, message }).toEqual({ path, message: expect.stringMatching(/spec\.[a-zA-Z]+/) });
        }
      });
    }
  });
});

describe('printer columns', () => {
  it.each([...crds.entries()])('%s: every column path exists in the schema and Age is last of the default view', (_k, crd) => {
    const columns = crd.spec.versions[0].additionalPrinterColumns ?? [];
    for (const c of columns) {
      expect(() => resolveColumnPath(rootSchema(crd), c.jsonPath)).not.toThrow();
    }
    const defaults = columns.filter((c) => !c.priority);
    expect(defaults.at(-1)).toMatchObject({ name: 'Age', type: 'date' });
    expect(columns.filter((c) => c.priority === 1).length).toBeGreaterThanOrEqual(3);
    expect(new Set(columns.map((c) => c.name)).size).toBe(columns.length);
  });

  it('tell the story at a glance: profile, count, node, GPU and phase for partitions; phase for jobs', () => {
    const names = (crd: Crd, wide: boolean) =>
      (crd.spec.versions[0].additionalPrinterColumns ?? []).filter((c) => wide || !c.priority).map((c) => c.name);
    expect(names(gpup, false)).toEqual(['Profile', 'Count', 'Held', 'Node', 'GPU', 'Phase', 'Age']);
    expect(names(gpup, true)).toEqual(expect.arrayContaining(['Resource', 'Priority', 'Allocated', 'Ready', 'Consumers', 'Max']));
    expect(names(tj, false)).toEqual(expect.arrayContaining(['Replicas', 'Topology', 'Node', 'Phase', 'Restarts']));
    expect(names(gpun, false)).toEqual(expect.arrayContaining(['Product', 'GPUs', 'Realised', 'Reason']));
  });

  it('column resolution rejects a path the schema lacks (the check can fail)', () => {
    expect(() => resolveColumnPath(rootSchema(gpup), '.status.nowhere')).toThrow(/nowhere/);
  });
});
