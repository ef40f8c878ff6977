/** The event recorder against the real API server: repeats are folded into one Event with a count. */
import { KubeClient } from '../../../src/k8s/client.js';
import { EventRecorder } from '../../../src/k8s/event-recorder.js';
import { RESOURCES, type ResourceRef } from '../../../src/k8s/resources.js';
import { createTestNamespace, getKubeConfig, type TestNamespace } from '../../support/cluster.js';

const configMaps: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };

interface CoreEvent {
  involvedObject: { kind: string; name: string; uid?: string };
  reason: string;
  message: string;
  type: string;
  count: number;
  source?: { component?: string };
  firstTimestamp: string;
  lastTimestamp: string;
}

let client: KubeClient;
let ns: TestNamespace;

beforeAll(async () => {
  client = new KubeClient(getKubeConfig());
  ns = await createTestNamespace('rt-ev');
});
afterAll(() => ns?.cleanup());

describe('EventRecorder (real API server)', () => {
  it('creates one Event per distinct event and counts repeats', async () => {
    const subject = await client.create<{ apiVersion: string; kind: string; metadata: { name: string; namespace: string; uid?: string } }>(
      configMaps,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'subject', namespace: ns.name } },
    );
    let t = Date.parse('2026-11-29T10:00:00Z');
    const rec = new EventRecorder(client, { now: () => new Date(t) });
    for (let i = 0; i < 3; i++) {
      await rec.event(subject, 'Warning', 'Unschedulable', 'no GPU has 3 free 1g.23gb slots');
      t += 1000;
    }
    await rec.event(subject, 'Normal', 'Allocated', 'allocated');

    const { items } = await client.list<CoreEvent>(RESOURCES.event, {
      namespace: ns.name,
      fieldSelector: `involvedObject.name=subject`,
    });
    expect(items).toHaveLength(2);
    const warning = items.find((e) => e.reason === 'Unschedulable')!;
    expect(warning).toMatchObject({ type: 'Warning', count: 3, source: { component: 'haein-operator' } });
    expect(warning.involvedObject).toMatchObject({ kind: 'ConfigMap', name: 'subject', uid: subject.metadata.uid });
    expect(Date.parse(warning.lastTimestamp) - Date.parse(warning.firstTimestamp)).toBe(2000);
    expect(items.find((e) => e.reason === 'Allocated')?.count).toBe(1);
  });
});
