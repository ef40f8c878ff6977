import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { API_VERSION, PARTITION_GATE, PARTITION_LABEL, migResourceName } from '../../../src/api/constants.js';
import type { GpuPartition, TrainingJob } from '../../../src/api/types.js';
import { ROOT, crdsByKind, rootSchema, structuralErrors } from './crd-schema.js';

const EXAMPLES = join(ROOT, 'examples');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
}

const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort();
const docs: Array<{ file: string; doc: Manifest }> = files.flatMap((file) =>
  yaml
    .loadAll(readFileSync(join(EXAMPLES, file), 'utf8'))
    .filter((d): d is Manifest => d !== null && typeof d === 'object')
    .map((doc) => ({ file, doc })),
);
const crds = crdsByKind();
const ofKind = <T>(kind: string): T[] => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc as unknown as T);

describe('examples/', () => {
  it('hold two namespaces, two tenants, four partitions, a training job, a consuming pod and a serving Deployment, every file commented', () => {
    expect(docs.map((d) => d.doc.kind).sort()).toEqual(
      ['Deployment', 'GpuPartition', 'GpuPartition', 'GpuPartition', 'GpuPartition', 'GpuTenant', 'GpuTenant', 'Namespace', 'Namespace', 'Pod', 'TrainingJob'],
    );
    for (const file of files) expect(readFileSync(join(EXAMPLES, file), 'utf8')).toMatch(/^# \S/);
  });

  it('create each namespace before anything that lives in it (kubectl applies files in name order)', () => {
    const namespaces = new Map(docs.filter((d) => d.doc.kind === 'Namespace').map((d) => [d.doc.metadata.name, { file: d.file, index: docs.indexOf(d) }]));
    docs.forEach(({ file, doc }, index) => {
      if (doc.kind === 'Namespace' || doc.kind === 'GpuTenant') return;
      const ns = namespaces.get(doc.metadata.namespace ?? '');
      expect({ object: `${doc.kind}/${doc.metadata.name}`, namespace: ns !== undefined }).toEqual({ object: `${doc.kind}/${doc.metadata.name}`, namespace: true });
      expect(file > ns!.file || (file === ns!.file && index > ns!.index)).toBe(true);
    });
  });

  it('two tenants share a cohort, and research needs more than its nominal quota (it borrows)', () => {
    const tenants = ofKind<{ metadata: Manifest['metadata']; spec: { namespaces?: string[]; nominal: number; cohort?: string } }>('GpuTenant');
    expect(new Set(tenants.map((t) => t.spec.cohort)).size).toBe(1);
    const research = tenants.find((t) => t.spec.namespaces?.includes('haein-demo'));
    expect(research).toBeDefined();
    // Whole GPUs of the job, plus compute slices / 7 of each partition slice in the namespace.
    const [job] = ofKind<TrainingJob>('TrainingJob');
    const slices = ofKind<GpuPartition>('GpuPartition').filter((p) => p.metadata.namespace === 'haein-demo');
    const computeOf = (p: GpuPartition) => (p.spec.profile ? Number(p.spec.profile.split('g')[0]) : (p.spec.computeSlices as number));
    const need = job.spec.replicas * (job.spec.gpusPerWorker ?? 0) + slices.reduce((s, p) => s + ((p.spec.count ?? 1) * computeOf(p)) / 7, 0);
    expect(need).toBeGreaterThan(research!.spec.nominal);
  });

  it.each(docs.filter((d) => d.doc.apiVersion === API_VERSION).map((d) => [`${d.file} ${d.doc.kind}/${d.doc.metadata.name}`, d.doc]))(
    '%s uses only fields its CRD defines, with valid values',
    (_name, doc) => {
      const crd = crds.get((doc as Manifest).kind);
      expect(crd).toBeDefined();
      expect(structuralErrors(rootSchema(crd!), doc)).toEqual([]);
    },
  );

  it('the structural check catches an unknown field and a bad enum (it can fail)', () => {
    const job = structuredClone(ofKind<TrainingJob>('TrainingJob')[0]) as unknown as Record<string, Record<string, unknown>>;
    job.spec.gpusPerNode = 8;
    job.spec.topology = 'rack';
    const errors = structuralErrors(rootSchema(crds.get('TrainingJob')!), job);
    expect(errors).toEqual(expect.arrayContaining([expect.stringContaining('spec.gpusPerNode'), expect.stringContaining('spec.topology')]));
  });

  it('cover the issue: a 1g.23gb notebook, a 2-slice inference partition, a 2 × 8-GPU sameClique job', () => {
    const parts = ofKind<GpuPartition>('GpuPartition');
    expect(parts.some((p) => p.spec.profile === '1g.23gb' && (p.spec.count ?? 1) === 1)).toBe(true);
    expect(parts.some((p) => (p.spec.count ?? 1) === 2 && p.spec.profile === undefined && p.spec.memory !== undefined)).toBe(true);
    const [job] = ofKind<TrainingJob>('TrainingJob');
    expect(job.spec).toMatchObject({ replicas: 2, gpusPerWorker: 8, topology: 'sameClique' });
    const [container] = (job.spec.template.spec as { containers: Array<{ command: string[] }> }).containers;
    expect(container.command.join(' ')).toMatch(/env/);
    expect(container.command.join(' ')).toMatch(/sleep/);
  });

  it('the serving Deployment consumes the elastic 3g.90gb partition: every replica labelled, gated, one slice', () => {
    const [d] = ofKind<{ metadata: Manifest['metadata']; spec: { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: { schedulingGates: Array<{ name: string }>; containers: Array<{ resources: { limits: Record<string, unknown> } }> } } } }>('Deployment');
    const partitionName = d.spec.template.metadata.labels[PARTITION_LABEL];
    const partition = ofKind<GpuPartition>('GpuPartition').find((p) => p.metadata.name === partitionName);
    expect(partition?.spec).toMatchObject({ profile: '3g.90gb', autoscale: { min: expect.any(Number), max: expect.any(Number) } });
    expect(partition!.spec.autoscale!.max).toBeGreaterThan(d.spec.replicas);
    expect(d.spec.template.spec.schedulingGates).toContainEqual({ name: PARTITION_GATE });
    expect(d.spec.template.spec.containers[0].resources.limits).toEqual({ [migResourceName('3g.90gb')]: 1 });
  });

  it('the pod consumes the notebook partition the way the admission policy demands', () => {
    const [pod] = ofKind<{ metadata: Manifest['metadata']; spec: { schedulingGates: Array<{ name: string }>; containers: Array<{ resources: { limits: Record<string, unknown> } }> } }>('Pod');
    const partitionName = pod.metadata.labels?.[PARTITION_LABEL];
    const partition = ofKind<GpuPartition>('GpuPartition').find((p) => p.metadata.name === partitionName);
    expect(partition?.spec.profile).toBeDefined();
    expect(pod.spec.schedulingGates).toContainEqual({ name: PARTITION_GATE });
    expect(pod.spec.containers[0].resources.limits[migResourceName(partition!.spec.profile!)]).toBe(1);
  });
});
