/**
 * Exec credential plugins against the real API server, through a kubeconfig file that names a plugin by a
 * relative path: a plugin printing a service-account token (revoked mid-test: the client re-runs the plugin on
 * the 401 and the request succeeds), and a plugin printing a client certificate and key (TLS with them).
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, loadKubeConfig } from '../../../src/k8s/client.js';
import type { ResourceRef } from '../../../src/k8s/resources.js';
import { createTestNamespace, getKubeConfig, kubectl, stateDir, waitUntilTokenRejected, type TestNamespace } from '../../support/cluster.js';

const configMaps: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };

/** Prints an ExecCredential from $DIR/token, or from the certificate and key files $CERT and $KEY; counts runs. */
const PLUGIN = `#!/usr/bin/env node
const fs = require('node:fs');
const dir = process.env.DIR;
const runs = fs.existsSync(dir + '/runs') ? Number(fs.readFileSync(dir + '/runs', 'utf8')) : 0;
fs.writeFileSync(dir + '/runs', String(runs + 1));
const status = process.env.CERT
  ? { clientCertificateData: fs.readFileSync(process.env.CERT, 'utf8'), clientKeyData: fs.readFileSync(process.env.KEY, 'utf8') }
  : { token: fs.readFileSync(dir + '/token', 'utf8').trim() };
process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status }));
`;

let ns: TestNamespace;
let dir: string;

beforeAll(async () => {
  ns = await createTestNamespace('rt-exec');
  dir = await mkdtemp(join(tmpdir(), 'haein-exec-it-'));
  await writeFile(join(dir, 'plugin.cjs'), PLUGIN);
  await chmod(join(dir, 'plugin.cjs'), 0o755);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  await ns?.cleanup();
});

/** Writes a kubeconfig for the local cluster whose user is the plugin, run with `env`. */
async function kubeconfigWithPlugin(env: Record<string, string>): Promise<string> {
  const { cluster } = getKubeConfig();
  const path = join(dir, `kubeconfig-${Object.keys(env).length}`);
  const envList = Object.entries({ DIR: dir, ...env }).map(([name, value]) => ({ name, value }));
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server: cluster.server, 'certificate-authority-data': cluster.certificateAuthorityData } }],
      users: [{ name: 'plugin', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './plugin.cjs', env: envList, interactiveMode: 'Never' } } }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'plugin', namespace: ns.name } }],
      'current-context': 'local',
    }),
  );
  return path;
}

async function serviceAccountToken(): Promise<void> {
  await kubectl(['-n', ns.name, 'create', 'serviceaccount', 'plugin-user']);
  await writeFile(join(dir, 'token'), await kubectl(['-n', ns.name, 'create', 'token', 'plugin-user', '--duration=10m']));
}

const runs = async () => Number(await readFile(join(dir, 'runs'), 'utf8'));

describe('exec credential plugins (real API server)', () => {
  it('authenticates with the token a plugin prints, and runs it again when the token is revoked', async () => {
    await kubectl(['-n', ns.name, 'create', 'rolebinding', 'plugin-view', '--clusterrole=view', `--serviceaccount=${ns.name}:plugin-user`]);
    await serviceAccountToken();
    await rm(join(dir, 'runs'), { force: true });
    const kc = loadKubeConfig(await kubeconfigWithPlugin({}));
    expect(kc.namespace).toBe(ns.name);
    const client = new KubeClient(kc);
    await kubectl(['-n', ns.name, 'create', 'configmap', 'seen', '--from-literal=a=b']);
    expect((await client.list<{ metadata: { name: string } }>(configMaps, { namespace: ns.name })).items.map((i) => i.metadata.name)).toContain('seen');
    await client.list(configMaps, { namespace: ns.name });
    expect(await runs()).toBe(1);

    // Recreating the service account revokes the token bound to the old one: the next request gets a 401.
    const revoked = await readFile(join(dir, 'token'), 'utf8');
    await kubectl(['-n', ns.name, 'delete', 'serviceaccount', 'plugin-user']);
    await waitUntilTokenRejected(revoked.trim());
    await serviceAccountToken();
    expect((await client.list(configMaps, { namespace: ns.name })).items.length).toBeGreaterThan(0);
    expect(await runs()).toBe(2);
  });

  it('authenticates with the client certificate and key a plugin prints', async () => {
    await rm(join(dir, 'runs'), { force: true });
    const pki = join(stateDir(), 'pki');
    const client = new KubeClient(loadKubeConfig(await kubeconfigWithPlugin({ CERT: join(pki, 'admin.crt'), KEY: join(pki, 'admin.key') })));
    // Only the admin may read kube-system's configmaps here: the certificate is what authenticated.
    expect((await client.list(configMaps, { namespace: 'kube-system' })).items.length).toBeGreaterThan(0);
    await client.list(configMaps, { namespace: 'kube-system' });
    expect(await runs()).toBe(1);
  });
});
