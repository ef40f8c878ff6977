/**
 * The client with in-cluster credentials (service-account token file + CA file, the way a pod sees them),
 * against the real API server: requests and watches authenticate as the service account, and RBAC applies; a
 * token rotated in the mounted folder is used without a restart.
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, loadInClusterConfig } from '../../../src/k8s/client.js';
import { ApiError } from '../../../src/k8s/errors.js';
import { Informer } from '../../../src/k8s/informer.js';
import type { ResourceRef } from '../../../src/k8s/resources.js';
import { createTestNamespace, getKubeConfig, kubectl, waitUntilTokenRejected, type TestNamespace } from '../../support/cluster.js';

const configMaps: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };

let ns: TestNamespace;
let root: string;
let firstToken: string;
const savedEnv = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };

beforeAll(async () => {
  ns = await createTestNamespace('rt-incluster');
  await kubectl(['-n', ns.name, 'create', 'serviceaccount', 'operator']);
  await kubectl(['-n', ns.name, 'create', 'rolebinding', 'operator-view', '--clusterrole=view', `--serviceaccount=${ns.name}:operator`]);
  const token = (await kubectl(['-n', ns.name, 'create', 'token', 'operator', '--duration=10m'])).trim();
  firstToken = token;
  const admin = getKubeConfig().cluster;
  const server = new URL(admin.server);
  root = await mkdtemp(join(tmpdir(), 'haein-incluster-'));
  const saDir = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  await mkdir(saDir, { recursive: true });
  await writeFile(join(saDir, 'token'), token);
  await writeFile(join(saDir, 'ca.crt'), Buffer.from(admin.certificateAuthorityData!, 'base64'));
  await writeFile(join(saDir, 'namespace'), ns.name);
  process.env.KUBERNETES_SERVICE_HOST = server.hostname;
  process.env.KUBERNETES_SERVICE_PORT = server.port;
});

afterAll(async () => {
  for (const [k, v] of [['KUBERNETES_SERVICE_HOST', savedEnv.host], ['KUBERNETES_SERVICE_PORT', savedEnv.port]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  if (root) await rm(root, { recursive: true, force: true });
  await ns?.cleanup();
});

describe('KubeClient with in-cluster credentials', () => {
  it('authenticates as the service account for requests and watches; RBAC applies', async () => {
    const client = new KubeClient(loadInClusterConfig(root));

    await kubectl(['-n', ns.name, 'create', 'configmap', 'visible', '--from-literal=a=b']);
    const listed = await client.list<{ metadata: { name: string } }>(configMaps, { namespace: ns.name });
    expect(listed.items.map((i) => i.metadata.name)).toContain('visible');

    const denied = (await client.list(configMaps, { namespace: 'kube-system' }).catch((e) => e)) as ApiError;
    expect(denied).toBeInstanceOf(ApiError);
    expect(denied.code).toBe(403);
    expect(denied.message).toContain(`system:serviceaccount:${ns.name}:operator`);

    const inf = new Informer<{ metadata: { name: string } }>(client, configMaps, { namespace: ns.name });
    try {
      await inf.start();
      await kubectl(['-n', ns.name, 'create', 'configmap', 'watched', '--from-literal=a=b']);
      const deadline = Date.now() + 15_000;
      while (!inf.get('watched', ns.name) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(inf.get('watched', ns.name)).toBeDefined();
    } finally {
      inf.stop();
    }
  });

  it('picks up a rotated token file: a request refused with the old token is retried with the new one', async () => {
    // A recheck interval longer than the test: only the 401 makes the client look at the file again.
    const client = new KubeClient(loadInClusterConfig(root, { fileRecheckMs: 10 * 60_000 }));
    await client.list(configMaps, { namespace: ns.name });
    // Recreating the service account revokes its tokens; the kubelet would write the new one by a rename.
    await kubectl(['-n', ns.name, 'delete', 'serviceaccount', 'operator']);
    await kubectl(['-n', ns.name, 'create', 'serviceaccount', 'operator']);
    await waitUntilTokenRejected(firstToken);
    const saDir = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    await writeFile(join(saDir, 'token.new'), (await kubectl(['-n', ns.name, 'create', 'token', 'operator', '--duration=10m'])).trim());
    await rename(join(saDir, 'token.new'), join(saDir, 'token'));
    const listed = await client.list<{ metadata: { name: string } }>(configMaps, { namespace: ns.name });
    expect(listed.items.map((i) => i.metadata.name)).toContain('visible');
  });
});
