/**
 * The manifests in examples/, created in a test namespace: each GpuPartition, TrainingJob, Pod and Deployment of
 * the examples' namespace (`haein-demo`) moves to that namespace, and partitions and jobs get a node selector for the
 * suite's own simulated nodes (isolation on a shared cluster). GpuTenants (cluster-wide) get the namespace as a
 * suffix of their name and cohort, and own the test namespace instead of `haein-demo` (other namespaces of the
 * examples are not created). Nothing else is changed.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { KubeClient } from '../../src/k8s/client.js';
import { RESOURCES, type ResourceRef } from '../../src/k8s/resources.js';
import { REPO_ROOT } from './cluster.js';

const REFS: Record<string, ResourceRef> = { GpuPartition: RESOURCES.gpuPartition, TrainingJob: RESOURCES.trainingJob, Pod: RESOURCES.pod, Deployment: RESOURCES.deployment };

/** The namespace the examples use; their objects in other namespaces are left out. */
export const EXAMPLES_NAMESPACE = 'haein-demo';

/**
 * Creates the examples in `namespace`, their partitions and jobs restricted to nodes labelled `selector`.
 * Returns the names of the GpuTenants created (cluster-scoped: the caller deletes them).
 */
export async function createExamples(client: KubeClient, namespace: string, selector: Record<string, string>): Promise<string[]> {
  const dir = join(REPO_ROOT, 'examples');
  const tenants: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of yaml.loadAll(readFileSync(join(dir, file), 'utf8')) as Array<{ kind: string; metadata: { name: string; namespace?: string }; spec: Record<string, unknown> }>) {
      if (doc?.kind === 'GpuTenant') {
        const name = `${doc.metadata.name}-${namespace}`;
        const spec = doc.spec as { namespaces?: string[]; cohort?: string };
        spec.namespaces = (spec.namespaces ?? []).includes(EXAMPLES_NAMESPACE) ? [namespace] : [];
        if (spec.cohort) spec.cohort = `${spec.cohort}-${namespace}`;
        await client.create(RESOURCES.gpuTenant, { ...doc, metadata: { name } });
        tenants.push(name);
        continue;
      }
      const ref = doc && REFS[doc.kind];
      if (!ref || (doc.metadata.namespace ?? EXAMPLES_NAMESPACE) !== EXAMPLES_NAMESPACE) continue;
      doc.metadata.namespace = namespace;
      if (doc.kind === 'GpuPartition' || doc.kind === 'TrainingJob') doc.spec.nodeSelector = { ...((doc.spec.nodeSelector as object) ?? {}), ...selector };
      await client.create(ref, doc);
    }
  }
  return tenants;
}
