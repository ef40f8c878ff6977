/** The KWOK nodes a benchmark run creates (served by one multi-node agent selecting them by a label). */
import { RESOURCES, isAlreadyExists, type KubeClient } from '../../src/k8s/client.js';
import { forEachLimit } from './pool.js';

/** `count` node names `<prefix>-00`, `<prefix>-01`, … (zero-padded, so they sort in order). */
export function kwokNodeNames(prefix: string, count: number): string[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(width, '0')}`);
}

/** Creates KWOK-managed Nodes labelled `label=value` (an existing one is left as it is). */
export async function createKwokNodes(client: KubeClient, names: readonly string[], label: string, value: string, concurrency: number): Promise<void> {
  await forEachLimit([...names], concurrency, async (name) => {
    const resources = { cpu: '224', memory: '2Ti', pods: '110' };
    try {
      await client.create(RESOURCES.node, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake' },
          labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', type: 'kwok', 'haein.dev/simulated': 'true', [label]: value },
        },
        status: { capacity: resources, allocatable: resources },
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw new Error(`creating node ${name}`, { cause: err });
    }
  });
}
