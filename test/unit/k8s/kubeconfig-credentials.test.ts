/**
 * Credentials of a kubeconfig per request: TLS material, tokens, token files that rotate, basic auth,
 * impersonation, exec plugins (a fake plugin script that counts its runs), and the client's 401 retry against
 * a fake API server.
 */
import http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import { chmod, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient } from '../../../src/k8s/client.js';
import { ApiError } from '../../../src/k8s/errors.js';
import type { KubeconfigCluster, KubeconfigExec, KubeconfigUser } from '../../../src/k8s/kubeconfig.js';
import { KubeConfig, ReloadingFile, type KubeConfigOptions } from '../../../src/k8s/kubeconfig-credentials.js';
import { execInfo, parseExecCredential } from '../../../src/k8s/kubeconfig-exec.js';
import { RESOURCES } from '../../../src/k8s/resources.js';

const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';

/**
 * A fake exec plugin: counts its runs in $DIR/runs, saves its KUBERNETES_EXEC_INFO and $MODE, fails when
 * $DIR/fail exists (its content on stderr), prints a client certificate and key CERT-<run>/KEY-<run> when
 * $DIR/certs exists, else an ExecCredential with token tok-<run> that expires at the time in $DIR/expiry.
 */
const PLUGIN = `#!/bin/sh
n=$(cat "$DIR/runs" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$DIR/runs"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$DIR/info"
printf '%s' "$MODE" > "$DIR/mode"
if [ -f "$DIR/fail" ]; then cat "$DIR/fail" >&2; exit 3; fi
if [ -f "$DIR/certs" ]; then
  printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"clientCertificateData":"CERT-%s","clientKeyData":"KEY-%s"}}' "$API" "$n" "$n"
  exit 0
fi
exp=$(cat "$DIR/expiry" 2>/dev/null)
if [ -n "$exp" ]; then exp=",\\"expirationTimestamp\\":\\"$exp\\""; fi
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"tok-%s"%s}}' "$API" "$n" "$exp"
`;

let dir: string;
let plugin: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'haein-creds-'));
  plugin = join(dir, 'fake-plugin');
  await writeFile(plugin, PLUGIN);
  await chmod(plugin, 0o755);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const runs = async () => Number((await readFile(join(dir, 'runs'), 'utf8').catch(() => '0')).trim());

function cluster(over: Partial<KubeconfigCluster> = {}): KubeconfigCluster {
  return { name: 'c', server: 'https://api.example:6443', insecureSkipTlsVerify: false, ...over };
}

function execUser(over: Partial<KubeconfigExec> = {}): KubeconfigUser {
  return {
    name: 'u',
    exec: {
      command: plugin,
      args: [],
      env: [
        { name: 'DIR', value: dir },
        { name: 'API', value: over.apiVersion ?? V1 },
        { name: 'MODE', value: 'from-kubeconfig' },
      ],
      apiVersion: V1,
      provideClusterInfo: false,
      interactiveMode: 'Never',
      ...over,
    },
  };
}

function kubeConfig(user: KubeconfigUser, opts: KubeConfigOptions = {}, clusterOver: Partial<KubeconfigCluster> = {}): KubeConfig {
  return new KubeConfig({ context: 'x', cluster: cluster(clusterOver), user }, { stdinIsTerminal: false, ...opts });
}

async function applied(kc: KubeConfig): Promise<https.RequestOptions & { headers: Record<string, string | string[]> }> {
  const opts: https.RequestOptions = { headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  return opts as https.RequestOptions & { headers: Record<string, string | string[]> };
}

describe('KubeConfig TLS and static credentials', () => {
  it('decodes inline CA, certificate and key, and sets SNI and insecure mode', async () => {
    const kc = kubeConfig(
      { name: 'u', clientCertificateData: Buffer.from('CERT').toString('base64'), clientKeyData: Buffer.from('KEY').toString('base64'), token: 'static' },
      {},
      { certificateAuthorityData: Buffer.from('CA').toString('base64'), tlsServerName: 'kubernetes', insecureSkipTlsVerify: true },
    );
    const opts = await applied(kc);
    expect([String(opts.ca), String(opts.cert), String(opts.key)]).toEqual(['CA', 'CERT', 'KEY']);
    expect(opts.servername).toBe('kubernetes');
    expect(opts.rejectUnauthorized).toBe(false);
    expect(opts.headers).toEqual({ Accept: 'application/json', Authorization: 'Bearer static' });
    // The same Buffers every time, so the client keeps its keep-alive agent.
    const again = await applied(kc);
    expect(again.ca).toBe(opts.ca);
    expect(again.cert).toBe(opts.cert);
  });

  it('reads CA, certificate and key files and re-reads them when they change', async () => {
    for (const [f, v] of [['ca.crt', 'CA1'], ['c.crt', 'CERT1'], ['c.key', 'KEY1']]) await writeFile(join(dir, f), v);
    const kc = kubeConfig({ name: 'u', clientCertificate: join(dir, 'c.crt'), clientKey: join(dir, 'c.key') }, { fileRecheckMs: 0 }, { certificateAuthority: join(dir, 'ca.crt') });
    const first = await applied(kc);
    expect([String(first.ca), String(first.cert), String(first.key)]).toEqual(['CA1', 'CERT1', 'KEY1']);
    expect(first.rejectUnauthorized).toBeUndefined();
    await writeFile(join(dir, 'c.crt'), 'CERT2-longer');
    const second = await applied(kc);
    expect(String(second.cert)).toBe('CERT2-longer');
    expect(second.ca).toBe(first.ca);
  });

  it('sends basic auth, and impersonation headers', async () => {
    const kc = kubeConfig({ name: 'u', username: 'ann', password: 's3cret', impersonate: { user: 'bob', uid: '7', groups: ['g1', 'g2'], extra: { 'acme.io/scope': ['a', 'b'] } } });
    expect((await applied(kc)).headers).toEqual({
      Accept: 'application/json',
      Authorization: `Basic ${Buffer.from('ann:s3cret').toString('base64')}`,
      'Impersonate-User': 'bob',
      'Impersonate-Uid': '7',
      'Impersonate-Group': ['g1', 'g2'],
      'Impersonate-Extra-acme.io%2Fscope': ['a', 'b'],
    });
  });

  it('prefers a token file to the token, trims it, and picks up a rotated file after the recheck interval', async () => {
    let now = 1_000;
    const tokenPath = join(dir, 'token');
    await writeFile(tokenPath, 'first\n');
    const kc = kubeConfig({ name: 'u', token: 'static', tokenFile: tokenPath }, { fileRecheckMs: 60_000, now: () => now });
    expect((await applied(kc)).headers.Authorization).toBe('Bearer first');
    // Rotated the way the kubelet does it: a new file renamed over the old one.
    await writeFile(`${tokenPath}.new`, 'second');
    await rename(`${tokenPath}.new`, tokenPath);
    now += 59_000;
    expect((await applied(kc)).headers.Authorization).toBe('Bearer first');
    now += 1_000;
    expect((await applied(kc)).headers.Authorization).toBe('Bearer second');
  });

  it('keeps the last token when the file disappears, and fails clearly when it never existed', async () => {
    const tokenPath = join(dir, 'token');
    await writeFile(tokenPath, 'kept');
    const kc = kubeConfig({ name: 'u', tokenFile: tokenPath }, { fileRecheckMs: 0 });
    expect((await applied(kc)).headers.Authorization).toBe('Bearer kept');
    await rm(tokenPath);
    expect((await applied(kc)).headers.Authorization).toBe('Bearer kept');
    expect(() => new ReloadingFile(join(dir, 'never'), 0, Date.now).read()).toThrow(`reading ${join(dir, 'never')}`);
    expect(() => kubeConfig({ name: 'u', tokenFile: join(dir, 'never') }).check()).toThrow('tokenFile of context "x"');
  });

  it('tells the client to retry a 401 only when the token file changed', async () => {
    const tokenPath = join(dir, 'token');
    await writeFile(tokenPath, 'old');
    const kc = kubeConfig({ name: 'u', tokenFile: tokenPath }, { fileRecheckMs: 60_000 });
    const sent = await applied(kc);
    expect(await kc.credentialsRejected(sent)).toBe(false);
    await writeFile(tokenPath, 'newer');
    expect(await kc.credentialsRejected(sent)).toBe(true);
    expect((await applied(kc)).headers.Authorization).toBe('Bearer newer');
    expect(await kubeConfig({ name: 'u', token: 't' }).credentialsRejected(sent)).toBe(false);
  });
});

describe('exec credential plugins', () => {
  it('runs the plugin with its env and KUBERNETES_EXEC_INFO, and caches a credential without expiry', async () => {
    const kc = kubeConfig(execUser());
    expect((await applied(kc)).headers.Authorization).toBe('Bearer tok-1');
    expect((await applied(kc)).headers.Authorization).toBe('Bearer tok-1');
    expect(await runs()).toBe(1);
    expect(await readFile(join(dir, 'mode'), 'utf8')).toBe('from-kubeconfig');
    expect(JSON.parse(await readFile(join(dir, 'info'), 'utf8'))).toEqual({ apiVersion: V1, kind: 'ExecCredential', spec: { interactive: false } });
  });

  it('caches until expirationTimestamp and runs again after it', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    await writeFile(join(dir, 'expiry'), '2030-01-01T00:10:00Z');
    const kc = kubeConfig(execUser({ apiVersion: V1BETA1 }), { now: () => now });
    expect((await applied(kc)).headers.Authorization).toBe('Bearer tok-1');
    now += 9 * 60_000;
    expect((await applied(kc)).headers.Authorization).toBe('Bearer tok-1');
    now += 60_000;
    expect((await applied(kc)).headers.Authorization).toBe('Bearer tok-2');
    expect(await runs()).toBe(2);
  });

  it('runs once for concurrent requests, and once again after a 401 however many requests it rejected', async () => {
    const kc = kubeConfig(execUser());
    const sent = await Promise.all([applied(kc), applied(kc), applied(kc)]);
    expect(sent.map((o) => o.headers.Authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1']);
    expect(await runs()).toBe(1);
    expect(await Promise.all(sent.map((o) => kc.credentialsRejected(o)))).toEqual([true, true, true]);
    expect((await applied(kc)).headers.Authorization).toBe('Bearer tok-2');
    // Rejections of the old credential that arrive after the new run do not drop the new one.
    expect(await kc.credentialsRejected(sent[0]!)).toBe(true);
    expect((await applied(kc)).headers.Authorization).toBe('Bearer tok-2');
    expect(await runs()).toBe(2);
  });

  it('passes the cluster to a plugin that asks for it', async () => {
    const kc = kubeConfig(
      execUser({ provideClusterInfo: true }),
      {},
      { certificateAuthorityData: Buffer.from('CA').toString('base64'), tlsServerName: 'k', execExtension: { audience: 'haein' } },
    );
    await applied(kc);
    expect(JSON.parse(await readFile(join(dir, 'info'), 'utf8')).spec).toEqual({
      interactive: false,
      cluster: { server: 'https://api.example:6443', 'tls-server-name': 'k', 'certificate-authority-data': Buffer.from('CA').toString('base64'), config: { audience: 'haein' } },
    });
  });

  it('names the plugin and quotes its stderr when it fails, and runs it again on the next request', async () => {
    await writeFile(join(dir, 'fail'), 'error: refresh token expired, run login\n');
    const kc = kubeConfig(execUser());
    await expect(applied(kc)).rejects.toThrow(`exec plugin ${plugin} exited with code 3: error: refresh token expired, run login`);
    await rm(join(dir, 'fail'));
    expect((await applied(kc)).headers.Authorization).toBe('Bearer tok-2');
  });

  it('names a missing command with its install hint, and refuses Always without a terminal', async () => {
    const missing = kubeConfig(execUser({ command: join(dir, 'no-such-plugin'), installHint: 'Install it with: apt-get install login' }));
    await expect(applied(missing)).rejects.toThrow(`exec plugin ${join(dir, 'no-such-plugin')} could not be started\nInstall it with: apt-get install login`);
    const always = kubeConfig(execUser({ interactiveMode: 'Always' }));
    await expect(applied(always)).rejects.toThrow(/needs an interactive terminal \(interactiveMode Always\)/);
    expect(await runs()).toBe(0);
  });

  it('reports a plugin that answers for another API version', async () => {
    const kc = kubeConfig(execUser({ env: [{ name: 'DIR', value: dir }, { name: 'API', value: V1BETA1 }] }));
    await expect(applied(kc)).rejects.toThrow(`exec plugin ${plugin} is configured for ${V1} but returned "${V1BETA1}"`);
  });

  it('uses a returned client certificate and key instead of the kubeconfig ones', async () => {
    await writeFile(join(dir, 'certs'), '');
    const kc = kubeConfig({ ...execUser(), clientCertificateData: 'U1RBVElD', clientKeyData: 'U1RBVElD' });
    const opts = await applied(kc);
    expect([opts.cert, opts.key, opts.headers.Authorization]).toEqual(['CERT-1', 'KEY-1', undefined]);
  });
});

describe('parseExecCredential', () => {
  const exec: KubeconfigExec = { command: '/bin/login', args: [], env: [], apiVersion: V1, provideClusterInfo: false, interactiveMode: 'Never' };
  const cred = (status: unknown, over: object = {}) => JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', status, ...over });

  it('reads a token, a certificate pair and the expiry', () => {
    expect(parseExecCredential(cred({ token: 't', expirationTimestamp: '2030-01-01T00:00:00Z' }), exec)).toEqual({ token: 't', expiresAt: Date.parse('2030-01-01T00:00:00Z') });
    expect(parseExecCredential(cred({ clientCertificateData: 'C', clientKeyData: 'K' }), exec)).toEqual({ clientCertificateData: 'C', clientKeyData: 'K' });
  });

  it.each([
    ['not json', /exec plugin \/bin\/login printed no ExecCredential JSON: "not json"/],
    [cred({ token: 't' }, { kind: 'Status' }), /printed kind "Status", not ExecCredential/],
    [JSON.stringify({ apiVersion: V1, kind: 'ExecCredential' }), /returned no status/],
    [cred({}), /returned neither a token nor a client certificate and key/],
    [cred({ clientCertificateData: 'C' }), /returned clientCertificateData without clientKeyData/],
    [cred({ clientKeyData: 'K' }), /returned clientKeyData without clientCertificateData/],
    [cred({ token: 5 }), /returned a non-string status\.token/],
    [cred({ token: 't', expirationTimestamp: 'soon' }), /returned an invalid expirationTimestamp "soon"/],
  ])('rejects %s', (stdout, message) => {
    expect(() => parseExecCredential(stdout, exec)).toThrow(message);
  });

  it('builds KUBERNETES_EXEC_INFO without the cluster unless asked', () => {
    expect(JSON.parse(execInfo(exec, cluster({ proxyUrl: 'http://p:3128' }), true, Buffer.from('CA')))).toEqual({ apiVersion: V1, kind: 'ExecCredential', spec: { interactive: true } });
    const info = JSON.parse(execInfo({ ...exec, provideClusterInfo: true }, cluster({ proxyUrl: 'http://p:3128', insecureSkipTlsVerify: true }), false, undefined));
    expect(info.spec.cluster).toEqual({ server: 'https://api.example:6443', 'insecure-skip-tls-verify': true, 'proxy-url': 'http://p:3128' });
  });
});

describe('client-node fallback', () => {
  it('serves a proxy-url config through a lazily imported client-node', async () => {
    const kc = kubeConfig({ name: 'u', token: 'via-client-node' }, {}, { proxyUrl: 'http://proxy.example:3128' });
    expect(kc.clientNodeReason).toBe('proxy-url of cluster "c"');
    const opts = await applied(kc);
    expect(opts.headers.Authorization).toBe('Bearer via-client-node');
    expect(opts.agent?.constructor.name).toBe('HttpsProxyAgent');
    expect(await kc.credentialsRejected(opts)).toBe(false);
  });

  it('names the auth-provider it falls back for', () => {
    expect(kubeConfig({ name: 'u', authProvider: { name: 'oidc', config: {} } }).clientNodeReason).toBe('auth-provider "oidc" of user "u"');
    expect(kubeConfig({ name: 'u', token: 't' }).clientNodeReason).toBeUndefined();
  });
});

describe('KubeClient with rotating credentials', () => {
  /** Answers 200 to the accepted token, 401 to any other; records the tokens it saw. */
  let accepted = '';
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(String(req.headers.authorization));
    req.resume();
    req.on('end', () => {
      if (req.headers.authorization === `Bearer ${accepted}`) res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"metadata":{"name":"p"}}');
      else res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"kind":"Status","code":401,"reason":"Unauthorized","message":"Unauthorized"}');
    });
  });
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));
  beforeEach(() => (seen.length = 0));

  const client = (user: KubeconfigUser, opts: KubeConfigOptions = {}) =>
    new KubeClient(kubeConfig(user, opts, { server: `http://127.0.0.1:${port}` }));

  it('re-runs the exec plugin after a 401 and retries the request once', async () => {
    const c = client(execUser());
    accepted = 'tok-1';
    expect(await c.get(RESOURCES.pod, 'p', 'ns')).toMatchObject({ metadata: { name: 'p' } });
    // The server revokes tok-1 (the plugin's next token is tok-2): one 401, one plugin run, one retry.
    accepted = 'tok-2';
    expect(await c.mergePatch(RESOURCES.pod, 'p', { metadata: { labels: { a: 'b' } } }, 'ns')).toMatchObject({ metadata: { name: 'p' } });
    expect(seen).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
    expect(await runs()).toBe(2);
  });

  it('gives up after one retry when the fresh credential is rejected too', async () => {
    const c = client(execUser());
    accepted = 'never';
    const err = (await c.get(RESOURCES.pod, 'p', 'ns').catch((e) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe(401);
    expect(seen).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });

  it('retries with a rotated token file, and not with a static token', async () => {
    const tokenPath = join(dir, 'token');
    await writeFile(tokenPath, 'old');
    const c = client({ name: 'u', tokenFile: tokenPath }, { fileRecheckMs: 60_000 });
    accepted = 'old';
    await c.get(RESOURCES.pod, 'p', 'ns');
    await writeFile(tokenPath, 'rotated');
    accepted = 'rotated';
    await c.get(RESOURCES.pod, 'p', 'ns');
    expect(seen).toEqual(['Bearer old', 'Bearer old', 'Bearer rotated']);
    seen.length = 0;
    await expect(client({ name: 'u', token: 'static' }).get(RESOURCES.pod, 'p', 'ns')).rejects.toThrow(/401/);
    expect(seen).toEqual(['Bearer static']);
  });

  it('drops the exec credential a watch was refused with, so its restart runs the plugin', async () => {
    const c = client(execUser());
    accepted = 'tok-2';
    const err = await new Promise((resolve) => void c.watch(RESOURCES.pod, {}, () => undefined, resolve));
    expect((err as ApiError).code).toBe(401);
    expect(await c.get(RESOURCES.pod, 'p', 'ns')).toMatchObject({ metadata: { name: 'p' } });
    expect(seen).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });
});
