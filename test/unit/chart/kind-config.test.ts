import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { NODE_LABELS } from '../../../src/api/constants.js';
import { ROOT } from '../crds/crd-schema.js';

interface KindNode {
  role: 'control-plane' | 'worker';
  labels?: Record<string, string>;
  extraMounts?: Array<{ hostPath: string; containerPath: string }>;
}
interface NodeAgentValues {
  nodeSelector: Record<string, string>;
  stateDir: string;
  model: string;
  gpus: number;
}

const kind = yaml.load(readFileSync(join(ROOT, 'kind-config.yaml'), 'utf8')) as { kind: string; apiVersion: string; nodes: KindNode[] };
const values = yaml.load(readFileSync(join(ROOT, 'charts', 'haein', 'values.yaml'), 'utf8')) as { nodeAgent: NodeAgentValues };
const workers = kind.nodes.filter((n) => n.role === 'worker');

describe('kind-config.yaml', () => {
  it('is a kind cluster with one control plane and at least two workers', () => {
    expect(kind).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4' });
    expect(kind.nodes.filter((n) => n.role === 'control-plane')).toHaveLength(1);
    expect(workers.length).toBeGreaterThanOrEqual(2);
  });

  it('labels every worker as an 8-GPU B200 node that the node-agent DaemonSet selects', () => {
    for (const w of workers) {
      expect(w.labels).toMatchObject({
        ...values.nodeAgent.nodeSelector,
        [NODE_LABELS.product]: values.nodeAgent.model,
        [NODE_LABELS.count]: String(values.nodeAgent.gpus),
        [NODE_LABELS.migCapable]: 'true',
      });
      expect(w.labels?.[NODE_LABELS.clique]).toMatch(/^[0-9a-f-]+\.\d+$/);
    }
  });

  it('puts at least two workers in one NVLink clique, as the example sameClique job needs', () => {
    const perClique = new Map<string, number>();
    for (const w of workers) perClique.set(w.labels![NODE_LABELS.clique], (perClique.get(w.labels![NODE_LABELS.clique]) ?? 0) + 1);
    expect(Math.max(...perClique.values())).toBeGreaterThanOrEqual(2);
  });

  it('mounts a distinct host directory per worker at the agent state directory', () => {
    const hostPaths = workers.map((w) => w.extraMounts?.find((m) => m.containerPath === values.nodeAgent.stateDir)?.hostPath);
    expect(hostPaths.every((p) => typeof p === 'string')).toBe(true);
    expect(new Set(hostPaths).size).toBe(workers.length);
  });
});
