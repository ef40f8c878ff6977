/**
 * The manifests in examples/, created in a test namespace: each GpuPartition, TrainingJob, Pod and Deployment
 * moves to that namespace, and partitions and jobs get a node selector for the suite's own simulated nodes
 * (isolation on a shared cluster; pods follow their partition's nodes); nothing else is changed.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { KubeClient } from '../../src/k8s/client.js';
import { RESOURCES, type ResourceRef } from '../../src/k8s/resources.js';
import { REPO_ROOT } from './cluster.js';

const REFS: Record<string, ResourceRef> = { GpuPartition: RESOURCES.gpuPartition, TrainingJob: RESOURCES.trainingJob, Pod: RESOURCES.pod, Deployment: RESOURCES.deployment };

/** Creates the examples in `namespace`, their partitions and jobs restricted to nodes labelled `selector`. */
export async function createExamples(client: KubeClient, namespace: string, selector: Record<string, string>): Promise<void> {
  const dir = join(REPO_ROOT, 'examples');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of yaml.loadAll(readFileSync(join(dir, file), 'utf8')) as Array<{ kind: string; metadata: { namespace?: string }; spec: Record<string, unknown> }>) {
      const ref = doc && REFS[doc.kind];
      if (!ref) continue;
      doc.metadata.namespace = namespace;
      if (doc.kind === 'GpuPartition' || doc.kind === 'TrainingJob') doc.spec.nodeSelector = { ...((doc.spec.nodeSelector as object) ?? {}), ...selector };
      await client.create(ref, doc);
    }
  }
}
