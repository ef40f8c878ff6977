import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { kubeconfigPaths, mergeKubeconfigs, parseKubeconfig, readKubeconfig, selectContext } from '../../../src/k8s/kubeconfig.js';
import { inClusterEnv, inClusterSelection } from '../../../src/k8s/kubeconfig-in-cluster.js';
import { loadKubeConfig } from '../../../src/k8s/kubeconfig-credentials.js';

/** A kubeconfig text with one cluster, user and context (plus `otherContexts`, YAML flow entries). */
function config(opts: {
  cluster?: string;
  server?: string;
  user?: string;
  userFields?: string;
  context?: string;
  current?: string;
  namespace?: string;
  otherContexts?: string;
}): string {
  const c = opts.cluster ?? 'c';
  const u = opts.user ?? 'u';
  const x = opts.context ?? 'x';
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: ${c}, cluster: {server: "${opts.server ?? 'https://127.0.0.1:6443/'}"}}]`,
    `users: [{name: ${u}, user: {${opts.userFields ?? 'token: t'}}}]`,
    `contexts: [${opts.otherContexts ? `${opts.otherContexts}, ` : ''}{name: ${x}, context: {cluster: ${c}, user: ${u}${opts.namespace ? `, namespace: ${opts.namespace}` : ''}}}]`,
    ...(opts.current !== undefined ? [`current-context: "${opts.current}"`] : []),
  ].join('\n');
}

/** The error `fn` throws. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'haein-kubeconfig-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('parseKubeconfig', () => {
  it('reads every cluster and user field, resolving relative paths against the file folder', () => {
    const text = `
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: prod
  cluster:
    server: https://api.example:6443/
    certificate-authority: pki/ca.crt
    insecure-skip-tls-verify: false
    tls-server-name: kubernetes.default
    proxy-url: socks5://proxy:1080
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: {audience: haein}
users:
- name: alice
  user:
    client-certificate: ../certs/alice.crt
    client-key: /abs/alice.key
    tokenFile: token
    as: bob
    as-uid: "42"
    as-groups: [ops, dev]
    as-user-extra: {scopes: [view]}
- name: plug
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/login
      args: [--quiet]
      env: [{name: MODE, value: fast}]
      interactiveMode: Never
      provideClusterInfo: true
      installHint: install login
- name: onpath
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}
contexts:
- name: dev
  context: {cluster: prod, user: alice, namespace: team-a}
`;
    const kc = parseKubeconfig(text, '/home/me/.kube/config');
    expect(kc.currentContext).toBe('dev');
    expect(kc.clusters.get('prod')).toEqual({
      name: 'prod',
      server: 'https://api.example:6443',
      certificateAuthority: '/home/me/.kube/pki/ca.crt',
      insecureSkipTlsVerify: false,
      tlsServerName: 'kubernetes.default',
      proxyUrl: 'socks5://proxy:1080',
      execExtension: { audience: 'haein' },
    });
    expect(kc.users.get('alice')).toEqual({
      name: 'alice',
      clientCertificate: '/home/me/certs/alice.crt',
      clientKey: '/abs/alice.key',
      tokenFile: '/home/me/.kube/token',
      impersonate: { user: 'bob', uid: '42', groups: ['ops', 'dev'], extra: { scopes: ['view'] } },
    });
    expect(kc.users.get('plug')?.exec).toEqual({
      command: '/home/me/.kube/bin/login',
      args: ['--quiet'],
      env: [{ name: 'MODE', value: 'fast' }],
      apiVersion: 'client.authentication.k8s.io/v1',
      provideClusterInfo: true,
      interactiveMode: 'Never',
      installHint: 'install login',
    });
    // A bare command is looked up on PATH, and v1beta1 defaults to IfAvailable.
    expect(kc.users.get('onpath')?.exec).toMatchObject({ command: 'aws', args: [], env: [], interactiveMode: 'IfAvailable' });
    expect(kc.contexts.get('dev')).toEqual({ name: 'dev', cluster: 'prod', user: 'alice', namespace: 'team-a' });
  });

  it('reads client-node style token-file, data fields, basic auth and auth-provider', () => {
    const kc = parseKubeconfig(
      config({ userFields: 'token-file: tok, client-certificate-data: Q0VSVA==, client-key-data: S0VZ, username: u, password: p, auth-provider: {name: oidc, config: {idp-issuer-url: "https://i"}}' }),
      '/k/config',
    );
    expect(kc.users.get('u')).toEqual({
      name: 'u',
      tokenFile: '/k/tok',
      clientCertificateData: 'Q0VSVA==',
      clientKeyData: 'S0VZ',
      username: 'u',
      password: 'p',
      authProvider: { name: 'oidc', config: { 'idp-issuer-url': 'https://i' } },
    });
  });

  it('takes an empty file as an empty config and JSON as well as YAML', () => {
    expect(parseKubeconfig('', '/e').contexts.size).toBe(0);
    const json = JSON.stringify({ clusters: [{ name: 'c', cluster: { server: 'https://s' } }], 'current-context': 'x' });
    expect(parseKubeconfig(json, '/j').clusters.get('c')?.server).toBe('https://s');
  });

  it.each([
    ['clusters: {c: 1}', /clusters must be a list/],
    ['clusters: [{cluster: {server: s}}]', /clusters\[0\] has no name/],
    ['clusters: [{name: a, cluster: {server: s}}, {name: a, cluster: {server: t}}]', /clusters\[1\] repeats the name "a"/],
    ['clusters: [{name: a, cluster: {server: 5}}]', /clusters\[0\]\.cluster\.server must be a string/],
    ['clusters: [{name: a, cluster: {server: s, insecure-skip-tls-verify: "yes"}}]', /insecure-skip-tls-verify must be true or false/],
    ['clusters: [{name: a, cluster: {server: s, proxy-url: "socks4://p:1"}}]', /proxy-url "socks4:\/\/p:1": only http, https and socks5/],
    ['users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}}}]', /exec\.apiVersion "client\.authentication\.k8s\.io\/v1alpha1" is not supported/],
    ['users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: x}}}]', /interactiveMode is required with apiVersion v1/],
    ['users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1}}}]', /users\[0\]\.user\.exec has no command/],
    ['users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: x, env: [{value: v}]}}}]', /exec\.env\[0\] has no name/],
    ['contexts: [{name: x, context: {user: u}}]', /contexts\[0\]\.context has no cluster/],
    ['clusters: [a', /not valid YAML/],
    ['- 1', /must be a mapping/],
  ])('rejects %s, naming the file and the field', (text, message) => {
    expect(() => parseKubeconfig(text, '/bad/config')).toThrow(/^kubeconfig \/bad\/config/);
    expect(() => parseKubeconfig(text, '/bad/config')).toThrow(message);
  });
});

describe('mergeKubeconfigs and selectContext', () => {
  it('lets the first file win each cluster, user and context, and the first non-empty current-context', () => {
    const a = parseKubeconfig(config({ server: 'https://a', user: 'shared', userFields: 'token: from-a', context: 'ctx-a' }), '/a/config');
    const b = parseKubeconfig(
      config({ cluster: 'c', server: 'https://b', user: 'shared', userFields: 'token: from-b', context: 'ctx-b', current: 'ctx-b' }),
      '/b/config',
    );
    const merged = mergeKubeconfigs([a, b]);
    expect(merged.sources).toEqual(['/a/config', '/b/config']);
    expect(merged.currentContext).toBe('ctx-b');
    expect(merged.clusters.get('c')?.server).toBe('https://a');
    expect(merged.users.get('shared')?.token).toBe('from-a');
    expect([...merged.contexts.keys()].sort()).toEqual(['ctx-a', 'ctx-b']);
    const sel = selectContext(merged);
    expect(sel).toMatchObject({ context: 'ctx-b', cluster: { server: 'https://a' }, user: { token: 'from-a' } });
    expect(selectContext(merged, 'ctx-a').context).toBe('ctx-a');
    // An earlier file's current-context wins over a later one's.
    expect(mergeKubeconfigs([parseKubeconfig(config({ current: 'x' }), '/1'), b]).currentContext).toBe('x');
  });

  it('gives the context namespace, and a user without credentials when the context names none', () => {
    const kc = parseKubeconfig(
      'clusters: [{name: c, cluster: {server: "https://s"}}]\ncontexts: [{name: x, context: {cluster: c, namespace: team-b}}]\ncurrent-context: x',
      '/k',
    );
    expect(selectContext(kc)).toEqual({ context: 'x', cluster: { name: 'c', server: 'https://s', insecureSkipTlsVerify: false }, user: { name: '' }, namespace: 'team-b' });
  });

  it.each([
    [config({}), undefined, /has no current-context and no context was given/],
    [config({ current: 'x' }), 'nope', /context "nope" does not exist in kubeconfig \/k/],
    ['clusters: []\ncontexts: [{name: x, context: {cluster: gone}}]', 'x', /names cluster "gone", which does not exist/],
    ['clusters: [{name: c, cluster: {}}]\ncontexts: [{name: x, context: {cluster: c}}]', 'x', /cluster "c" has no server/],
    ['clusters: [{name: c, cluster: {server: s}}]\ncontexts: [{name: x, context: {cluster: c, user: ghost}}]', 'x', /names user "ghost", which does not exist/],
  ])('says what is missing (%#)', (text, context, message) => {
    expect(() => selectContext(parseKubeconfig(text, '/k'), context)).toThrow(message);
  });
});

describe('kubeconfigPaths and readKubeconfig', () => {
  it('chooses an explicit path, else every $KUBECONFIG entry, else ~/.kube/config', () => {
    expect(kubeconfigPaths('/x', { KUBECONFIG: '/a' }, '/home/me')).toEqual({ paths: ['/x'], required: true });
    expect(kubeconfigPaths(undefined, { KUBECONFIG: ['/a', '', '/b', '/a'].join(delimiter) }, '/home/me')).toEqual({ paths: ['/a', '/b'], required: false });
    expect(kubeconfigPaths(undefined, { KUBECONFIG: '' }, '/home/me')).toEqual({ paths: ['/home/me/.kube/config'], required: false });
  });

  it('merges the $KUBECONFIG files that exist and skips missing ones', async () => {
    await writeFile(join(dir, 'one'), config({ server: 'https://one', context: 'first' }));
    await writeFile(join(dir, 'two'), config({ cluster: 'c2', server: 'https://two', context: 'second', current: 'second' }));
    const env = { KUBECONFIG: [join(dir, 'missing'), join(dir, 'one'), join(dir, 'two')].join(delimiter) };
    const kc = readKubeconfig(undefined, env, dir)!;
    expect(kc.sources).toEqual([join(dir, 'one'), join(dir, 'two')]);
    expect(selectContext(kc).cluster.server).toBe('https://two');
    expect(readKubeconfig(undefined, { KUBECONFIG: join(dir, 'missing') }, dir)).toBeUndefined();
  });

  it('reads ~/.kube/config, requires an explicit path to exist, and reports a broken file', async () => {
    await mkdir(join(dir, '.kube'));
    await writeFile(join(dir, '.kube', 'config'), config({ server: 'https://home', current: 'x' }));
    expect(selectContext(readKubeconfig(undefined, {}, dir)!).cluster.server).toBe('https://home');
    expect(() => readKubeconfig(join(dir, 'nope'), {}, dir)).toThrow(`reading kubeconfig ${join(dir, 'nope')}`);
    await writeFile(join(dir, 'broken'), 'clusters: [');
    expect(() => readKubeconfig(undefined, { KUBECONFIG: join(dir, 'broken') }, dir)).toThrow(/not valid YAML/);
  });
});

describe('loadKubeConfig', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ['KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'HOME']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('applies a context override and exposes the context namespace', async () => {
    const path = join(dir, 'config');
    await writeFile(path, config({ current: 'x', namespace: 'team-a', otherContexts: '{name: other, context: {cluster: c, user: u}}' }));
    const kc = loadKubeConfig(path);
    expect([kc.contextName, kc.namespace, kc.user.name, kc.cluster.server]).toEqual(['x', 'team-a', 'u', 'https://127.0.0.1:6443']);
    const other = loadKubeConfig(path, { context: 'other' });
    expect([other.contextName, other.namespace]).toEqual(['other', undefined]);
    const err = thrown(() => loadKubeConfig(path, { context: 'ghost' }));
    expect(err.message).toBe(`loading kubeconfig from ${path}`);
    expect((err.cause as Error).message).toMatch(/context "ghost" does not exist/);
  });

  it('fails at load, naming the field, when a file the user names cannot be read', async () => {
    const path = join(dir, 'config');
    await writeFile(path, config({ current: 'x', userFields: 'client-certificate: nope.crt, client-key: nope.key' }));
    const err = thrown(() => loadKubeConfig(path));
    expect(err.message).toBe(`loading kubeconfig from ${path}`);
    expect((err.cause as Error).message).toBe('client-certificate of context "x"');
    expect(((err.cause as Error).cause as Error).message).toBe(`reading ${join(dir, 'nope.crt')}`);
  });

  it('falls back to the in-cluster service account when no kubeconfig file exists', async () => {
    process.env.HOME = dir;
    delete process.env.KUBECONFIG;
    delete process.env.KUBERNETES_SERVICE_HOST;
    expect(() => loadKubeConfig()).toThrow(/loading kubeconfig/);
    // The real service-account folder is absent here, so the in-cluster attempt fails naming the token.
    process.env.KUBERNETES_SERVICE_HOST = '10.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    expect((thrown(() => loadKubeConfig()).cause as Error).message).toMatch(/in-cluster config: cannot read the service account token/);
  });
});

describe('inClusterSelection', () => {
  async function saDir(files: Record<string, string>): Promise<void> {
    const sa = join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(sa, { recursive: true });
    for (const [name, content] of Object.entries(files)) await writeFile(join(sa, name), content);
  }

  it('builds the server from the service env, the user from the token file, the namespace from its file', async () => {
    await saDir({ token: 'tok', 'ca.crt': 'CA', namespace: 'haein-system\n' });
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(inClusterEnv(env)).toBe(true);
    const sa = join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
    expect(inClusterSelection(dir, env)).toEqual({
      context: 'in-cluster',
      cluster: { name: 'in-cluster', server: 'https://10.96.0.1:443', certificateAuthority: join(sa, 'ca.crt'), insecureSkipTlsVerify: false },
      user: { name: 'in-cluster', tokenFile: join(sa, 'token') },
      namespace: 'haein-system',
    });
  });

  it('brackets an IPv6 host, and goes without CA and namespace files', async () => {
    await saDir({ token: 'tok' });
    const sel = inClusterSelection(dir, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' });
    expect(sel.cluster.server).toBe('https://[fd00::1]:6443');
    expect(sel.cluster.certificateAuthority).toBeUndefined();
    expect(sel.namespace).toBeUndefined();
  });

  it('refuses without the service env or the token', async () => {
    expect(inClusterEnv({ KUBERNETES_SERVICE_HOST: 'h' })).toBe(false);
    expect(() => inClusterSelection(dir, { KUBERNETES_SERVICE_HOST: 'h' })).toThrow(/KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set/);
    expect(() => inClusterSelection(dir, { KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '1' })).toThrow(/cannot read the service account token/);
  });
});
