/**
 * KubeClient against the real local API server over TLS with a client certificate: CRUD, merge patch,
 * optimistic concurrency, the status subresource and the error predicates.
 */
import type { GpuNode } from '../../../src/api/types.js';
import { KubeClient } from '../../../src/k8s/client.js';
import { isAlreadyExists, isConflict, isFencedWrite, isNotFound } from '../../../src/k8s/errors.js';
import { RESOURCES, type ResourceRef } from '../../../src/k8s/resources.js';
import { createTestNamespace, getKubeConfig, installCrds, type TestNamespace } from '../../support/cluster.js';

const configMaps: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };

interface ConfigMap {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

let client: KubeClient;
let ns: TestNamespace;

beforeAll(async () => {
  client = new KubeClient(getKubeConfig(), { fieldManager: 'haein-it' });
  await installCrds();
  ns = await createTestNamespace('rt-client');
});
afterAll(() => ns?.cleanup());

describe('KubeClient (real API server)', () => {
  it('creates, reads, lists, merge-patches and deletes', async () => {
    const cm: ConfigMap = { metadata: { name: 'a', namespace: ns.name, labels: { app: 'x' } }, data: { k: 'v1' } };
    const created = await client.create<ConfigMap>(configMaps, cm);
    expect(created.metadata.resourceVersion).toBeTruthy();
    expect(isAlreadyExists(await client.create(configMaps, cm).catch((e) => e))).toBe(true);

    const got = await client.get<ConfigMap>(configMaps, 'a', ns.name);
    expect(got?.data).toEqual({ k: 'v1' });
    expect(await client.get(configMaps, 'missing', ns.name)).toBeUndefined();

    const listed = await client.list<ConfigMap>(configMaps, { namespace: ns.name, labelSelector: 'app=x' });
    expect(listed.items.map((i) => i.metadata.name)).toEqual(['a']);
    expect(listed.items[0].kind).toBe('ConfigMap');
    expect(Number(listed.resourceVersion)).toBeGreaterThan(0);

    const patched = await client.mergePatch<ConfigMap>(configMaps, 'a', { data: { k2: 'v2' } }, ns.name);
    expect(patched.data).toEqual({ k: 'v1', k2: 'v2' });

    expect(await client.delete(configMaps, 'a', ns.name, { propagationPolicy: 'Background' })).toBe(true);
    expect(await client.delete(configMaps, 'a', ns.name)).toBe(false);
  });

  it('rejects a replace with a stale resourceVersion as a conflict', async () => {
    const created = await client.create<ConfigMap>(configMaps, { metadata: { name: 'b', namespace: ns.name }, data: { n: '1' } });
    const fresh = await client.replace<ConfigMap>(configMaps, { ...created, data: { n: '2' } });
    expect(fresh.data).toEqual({ n: '2' });
    const err = await client.replace(configMaps, { ...created, data: { n: '3' } }).catch((e) => e);
    expect(isConflict(err)).toBe(true);
    expect(isNotFound(err)).toBe(false);
  });

  it('writes the status subresource of a custom resource separately from spec', async () => {
    const name = `${ns.name}-node`;
    try {
      const node = await client.create<GpuNode>(RESOURCES.gpuNode, { metadata: { name }, spec: {} } as GpuNode);
      const withStatus = await client.replaceStatus<GpuNode>(RESOURCES.gpuNode, { ...node, status: { observedGeneration: 1 } });
      expect(withStatus.status?.observedGeneration).toBe(1);
      const patched = await client.mergePatchStatus<GpuNode>(RESOURCES.gpuNode, name, { status: { observedGeneration: 2 } });
      expect(patched.status?.observedGeneration).toBe(2);
      // A status write through the main resource is ignored by the API server.
      const viaMain = await client.mergePatch<GpuNode>(RESOURCES.gpuNode, name, { status: { observedGeneration: 9 } });
      expect(viaMain.status?.observedGeneration).toBe(2);
    } finally {
      await client.delete(RESOURCES.gpuNode, name);
    }
  });

  it('a write-fenced client reads always and writes only while its fence holds, sharing the same server', async () => {
    let valid = true;
    const fenced = client.withWriteFence(() => valid);
    await fenced.create<ConfigMap>(configMaps, { metadata: { name: 'f', namespace: ns.name }, data: { n: '1' } });
    valid = false;
    const refused = await fenced.mergePatch(configMaps, 'f', { data: { n: '2' } }, ns.name).catch((e) => e);
    expect(isFencedWrite(refused)).toBe(true);
    expect(isFencedWrite(await fenced.delete(configMaps, 'f', ns.name).catch((e) => e))).toBe(true);
    // Reads still work, the object is untouched, and the unfenced client it came from is unaffected.
    expect((await fenced.get<ConfigMap>(configMaps, 'f', ns.name))?.data).toEqual({ n: '1' });
    expect((await client.mergePatch<ConfigMap>(configMaps, 'f', { data: { n: '3' } }, ns.name)).data).toEqual({ n: '3' });
    valid = true;
    expect(await fenced.delete(configMaps, 'f', ns.name)).toBe(true);
  });

  it('checks the fence again when the request gets its connected socket: a write that turned stale in between is not sent', async () => {
    await client.create<ConfigMap>(configMaps, { metadata: { name: 'g', namespace: ns.name }, data: { n: '1' } });
    // Valid when the request is prepared, no longer when its bytes would go out (a pause in between).
    let checks = 0;
    const flips = client.withWriteFence(() => ++checks === 1);
    expect(isFencedWrite(await flips.mergePatch(configMaps, 'g', { data: { n: '2' } }, ns.name).catch((e) => e))).toBe(true);
    expect(checks).toBe(2);
    expect((await client.get<ConfigMap>(configMaps, 'g', ns.name))?.data).toEqual({ n: '1' });
  });
});
