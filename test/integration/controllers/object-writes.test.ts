/**
 * A reconciler's writes to its own object against the real API server: the finalizer is added and dropped by
 * server-side apply without touching other finalizers, and an object deleted meanwhile (or deleted and created
 * again under the same name) is neither re-created by the apply nor given or stripped of the finalizer.
 */
import { PARTITION_FINALIZER as FINALIZER } from '../../../src/api/constants.js';
import type { GpuPartition } from '../../../src/api/types.js';
import { ObjectWrites } from '../../../src/controllers/common/object-writes.js';
import { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { createTestNamespace, getKubeConfig, installCrds, type TestNamespace } from '../../support/cluster.js';

let client: KubeClient;
let ns: TestNamespace;
let writes: ObjectWrites<GpuPartition>;

beforeAll(async () => {
  client = new KubeClient(getKubeConfig(), { fieldManager: 'haein-it-writes' });
  await installCrds();
  ns = await createTestNamespace('writes');
  writes = new ObjectWrites<GpuPartition>(client, RESOURCES.gpuPartition, FINALIZER);
});
afterAll(() => ns?.cleanup());

const partition = (name: string, finalizers: string[] = []): GpuPartition => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuPartition',
  metadata: { name, namespace: ns.name, finalizers },
  spec: { profile: '1g.23gb' },
});
const get = (name: string) => client.get<GpuPartition>(RESOURCES.gpuPartition, name, ns.name);

test('adds and drops only its own finalizer', async () => {
  const created = await client.create(RESOURCES.gpuPartition, partition('a', ['example.com/keep']));
  const withOurs = await writes.addFinalizer(created);
  expect(withOurs?.metadata.finalizers?.sort()).toEqual(['example.com/keep', FINALIZER].sort());
  await writes.removeFinalizer(withOurs!);
  expect((await get('a'))?.metadata.finalizers).toEqual(['example.com/keep']);
  await client.mergePatch(RESOURCES.gpuPartition, 'a', { metadata: { finalizers: null } }, ns.name);
  await client.delete(RESOURCES.gpuPartition, 'a', ns.name);
});

test('an object gone meanwhile is not created again by the apply, and the write is not an error', async () => {
  const created = await client.create(RESOURCES.gpuPartition, partition('b'));
  const stale = (await writes.addFinalizer(created))!;
  await writes.removeFinalizer(stale);
  await client.delete(RESOURCES.gpuPartition, 'b', ns.name);
  expect(await get('b')).toBeUndefined();
  // A second pass from a cache that still shows the finalizer, and one that would add it.
  await expect(writes.removeFinalizer(stale)).resolves.toBeUndefined();
  await expect(writes.addFinalizer(created)).resolves.toBeUndefined();
  expect(await get('b')).toBeUndefined();
});

test('an object deleted and created again under the same name is another object: the old one’s writes do not touch it', async () => {
  const first = await client.create(RESOURCES.gpuPartition, partition('c'));
  await client.delete(RESOURCES.gpuPartition, 'c', ns.name);
  const second = await client.create(RESOURCES.gpuPartition, partition('c', ['example.com/keep']));
  expect(second.metadata.uid).not.toBe(first.metadata.uid);
  await expect(writes.addFinalizer(first)).resolves.toBeUndefined();
  expect((await get('c'))?.metadata.finalizers).toEqual(['example.com/keep']);
  await client.mergePatch(RESOURCES.gpuPartition, 'c', { metadata: { finalizers: null } }, ns.name);
});
