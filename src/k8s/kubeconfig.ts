/**
 * Kubeconfig files the way kubectl reads them, without `@kubernetes/client-node` (whose import alone costs a
 * process ~85 MiB): parsing, merging a `KUBECONFIG` list (the first file that names a cluster, user or context
 * wins, and so does the first non-empty current-context), choosing a context, and the small loader that finds
 * and reads the files. Paths inside a file are resolved against that file's folder, as kubectl does. The
 * credentials themselves (files re-read, exec plugins) are in `kubeconfig-credentials.ts`.
 */
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import yaml from 'js-yaml';

/** A `clusters[].cluster` entry. */
export interface KubeconfigCluster {
  /** The entry's name. */
  name: string;
  /** `server`: the API server's URL (without a trailing slash). */
  server: string;
  /** `certificate-authority`: absolute path of a PEM CA bundle. */
  certificateAuthority?: string;
  /** `certificate-authority-data`: base64 of a PEM CA bundle; wins over the file. */
  certificateAuthorityData?: string;
  /** `insecure-skip-tls-verify`: do not verify the server's certificate. */
  insecureSkipTlsVerify: boolean;
  /** `tls-server-name`: the name the server's certificate is checked against (SNI) instead of the URL's host. */
  tlsServerName?: string;
  /** `proxy-url`: an http, https or socks5 proxy; served by the client-node fallback. */
  proxyUrl?: string;
  /** The `client.authentication.k8s.io/exec` extension's value, handed to exec plugins as `spec.cluster.config`. */
  execExtension?: unknown;
}

/** `users[].user.exec`: a credential plugin (client.authentication.k8s.io ExecCredential). */
export interface KubeconfigExec {
  /** `command`: absolute when the kubeconfig gave a relative path with a separator, else looked up on PATH. */
  command: string;
  /** `args`. */
  args: string[];
  /** `env`: added to this process's environment. */
  env: { name: string; value: string }[];
  /** `apiVersion`: client.authentication.k8s.io/v1 or v1beta1. */
  apiVersion: string;
  /** `installHint`: shown when the command cannot be found. */
  installHint?: string;
  /** `provideClusterInfo`: pass the cluster (server, CA, …) in KUBERNETES_EXEC_INFO. */
  provideClusterInfo: boolean;
  /** `interactiveMode`: Never, IfAvailable (the v1beta1 default) or Always. */
  interactiveMode: 'Never' | 'IfAvailable' | 'Always';
}

/** A `users[].user` entry. Paths are absolute. */
export interface KubeconfigUser {
  /** The entry's name. */
  name: string;
  /** `client-certificate`. */
  clientCertificate?: string;
  /** `client-certificate-data` (base64); wins over the file. */
  clientCertificateData?: string;
  /** `client-key`. */
  clientKey?: string;
  /** `client-key-data` (base64); wins over the file. */
  clientKeyData?: string;
  /** `token`: a bearer token. */
  token?: string;
  /** `tokenFile` (also read as `token-file`): a bearer token re-read when the file changes; wins over `token`. */
  tokenFile?: string;
  /** `username` of basic authentication. */
  username?: string;
  /** `password` of basic authentication. */
  password?: string;
  /** `exec`: a credential plugin; wins over the token and basic authentication. */
  exec?: KubeconfigExec;
  /** `auth-provider` (legacy oidc, gcp, azure, …): not handled here, only by the client-node fallback. */
  authProvider?: { name: string; config?: Record<string, string> };
  /** `as`, `as-uid`, `as-groups`, `as-user-extra`: impersonation. */
  impersonate?: { user?: string; uid?: string; groups: string[]; extra: Record<string, string[]> };
}

/** A `contexts[].context` entry. */
export interface KubeconfigContext {
  /** The entry's name. */
  name: string;
  /** `cluster`: name of a cluster entry. */
  cluster: string;
  /** `user`: name of a user entry; none means no credentials. */
  user?: string;
  /** `namespace`: the default namespace of commands using this context. */
  namespace?: string;
}

/** One kubeconfig file, or several merged. */
export interface Kubeconfig {
  /** The files it came from, for messages. */
  sources: string[];
  clusters: Map<string, KubeconfigCluster>;
  users: Map<string, KubeconfigUser>;
  contexts: Map<string, KubeconfigContext>;
  /** `current-context`, when set. */
  currentContext?: string;
}

/** The cluster, user and namespace of one context: everything a client needs. */
export interface KubeconfigSelection {
  /** Name of the chosen context. */
  context: string;
  cluster: KubeconfigCluster;
  /** The context's user; an entry without credentials when the context names none. */
  user: KubeconfigUser;
  /** The context's namespace, when set. */
  namespace?: string;
}

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];
const EXEC_EXTENSION = 'client.authentication.k8s.io/exec';

/** Parses one kubeconfig file's text (YAML or JSON); `source` is its path: relative paths are resolved against its folder. */
export function parseKubeconfig(text: string, source: string): Kubeconfig {
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: source });
  } catch (cause) {
    throw new Error(`kubeconfig ${source}: not valid YAML`, { cause });
  }
  // An empty file is an empty config, as for kubectl.
  if (doc === undefined || doc === null) doc = {};
  const at = new Fields(source, nodePath.dirname(nodePath.resolve(source)));
  const root = at.object(doc, '');
  const config: Kubeconfig = { sources: [source], clusters: new Map(), users: new Map(), contexts: new Map() };
  const currentContext = at.string(root, 'current-context', '');
  if (currentContext) config.currentContext = currentContext;
  at.namedList(root, 'clusters', 'cluster', config.clusters, (entry, name, where) => at.cluster(entry, name, where));
  at.namedList(root, 'users', 'user', config.users, (entry, name, where) => at.user(entry, name, where));
  at.namedList(root, 'contexts', 'context', config.contexts, (entry, name, where) => at.context(entry, name, where));
  return config;
}

/** Merges files in `KUBECONFIG` order: the first file naming an entry wins it, and the first current-context wins. */
export function mergeKubeconfigs(configs: Kubeconfig[]): Kubeconfig {
  const merged: Kubeconfig = { sources: [], clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const c of configs) {
    merged.sources.push(...c.sources);
    if (!merged.currentContext && c.currentContext) merged.currentContext = c.currentContext;
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      const into = merged[key] as Map<string, unknown>;
      for (const [name, entry] of c[key]) if (!into.has(name)) into.set(name, entry);
    }
  }
  return merged;
}

/** The cluster, user and namespace of `context` (default: the current context); throws naming what is missing. */
export function selectContext(config: Kubeconfig, context?: string): KubeconfigSelection {
  const where = `kubeconfig ${config.sources.join(nodePath.delimiter) || '(none)'}`;
  const name = context || config.currentContext;
  if (!name) throw new Error(`${where} has no current-context and no context was given`);
  const ctx = config.contexts.get(name);
  if (!ctx) throw new Error(`context "${name}" does not exist in ${where}`);
  const cluster = config.clusters.get(ctx.cluster);
  if (!cluster) throw new Error(`${where}: context "${name}" names cluster "${ctx.cluster}", which does not exist`);
  if (!cluster.server) throw new Error(`${where}: cluster "${cluster.name}" has no server`);
  let user: KubeconfigUser = { name: '' };
  if (ctx.user) {
    const found = config.users.get(ctx.user);
    if (!found) throw new Error(`${where}: context "${name}" names user "${ctx.user}", which does not exist`);
    user = found;
  }
  return { context: name, cluster, user, ...(ctx.namespace ? { namespace: ctx.namespace } : {}) };
}

/**
 * The files to read, as kubectl chooses them: `explicit` alone; else every entry of `$KUBECONFIG`
 * (path.delimiter-separated, empty entries skipped); else `~/.kube/config`. `required` is false for the
 * `$KUBECONFIG` entries, which kubectl skips when they do not exist.
 */
export function kubeconfigPaths(explicit: string | undefined, env: NodeJS.ProcessEnv, home: string): { paths: string[]; required: boolean } {
  if (explicit) return { paths: [explicit], required: true };
  const list = (env.KUBECONFIG ?? '').split(nodePath.delimiter).filter((p) => p !== '');
  if (list.length > 0) return { paths: [...new Set(list)], required: false };
  return { paths: [nodePath.join(home, '.kube', 'config')], required: false };
}

/**
 * Reads and merges the kubeconfig files kubectl would use (see {@link kubeconfigPaths}); `undefined` when none
 * exists and none was required (the caller may then try the in-cluster service account).
 */
export function readKubeconfig(explicit?: string, env: NodeJS.ProcessEnv = process.env, home = os.homedir()): Kubeconfig | undefined {
  const { paths, required } = kubeconfigPaths(explicit, env, home);
  const configs: Kubeconfig[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = fs.readFileSync(path, 'utf8');
    } catch (cause) {
      if (!required && (cause as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`reading kubeconfig ${path}`, { cause });
    }
    configs.push(parseKubeconfig(text, path));
  }
  return configs.length > 0 ? mergeKubeconfigs(configs) : undefined;
}

/** Typed reads of the untyped YAML document; every error names the file and the field. */
class Fields {
  constructor(
    private readonly source: string,
    private readonly dir: string,
  ) {}

  fail(where: string, what: string): never {
    throw new Error(`kubeconfig ${this.source}: ${where ? `${where} ` : ''}${what}`);
  }

  object(value: unknown, where: string): Record<string, unknown> {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(where, 'must be a mapping');
    return value as Record<string, unknown>;
  }

  string(obj: Record<string, unknown>, key: string, where: string): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') this.fail(`${where}${where ? '.' : ''}${key}`, 'must be a string');
    return v;
  }

  bool(obj: Record<string, unknown>, key: string, where: string): boolean {
    const v = obj[key];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') this.fail(`${where}.${key}`, 'must be true or false');
    return v;
  }

  strings(obj: Record<string, unknown>, key: string, where: string): string[] {
    const v = obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) this.fail(`${where}.${key}`, 'must be a list of strings');
    return v as string[];
  }

  /** A path field, made absolute against the kubeconfig's folder. */
  path(obj: Record<string, unknown>, key: string, where: string): string | undefined {
    const p = this.string(obj, key, where);
    return p === undefined ? undefined : nodePath.resolve(this.dir, p);
  }

  /** Reads `clusters`/`users`/`contexts`: a list of `{name, <field>: {...}}`; a name twice in one file is an error. */
  namedList<T>(
    root: Record<string, unknown>,
    key: string,
    field: string,
    into: Map<string, T>,
    build: (entry: Record<string, unknown>, name: string, where: string) => T,
  ): void {
    const list = root[key];
    if (list === undefined || list === null) return;
    if (!Array.isArray(list)) this.fail(key, 'must be a list');
    list.forEach((item, i) => {
      const where = `${key}[${i}]`;
      const named = this.object(item, where);
      const name = this.string(named, 'name', where);
      if (!name) this.fail(where, 'has no name');
      if (into.has(name)) this.fail(where, `repeats the name "${name}"`);
      into.set(name, build(this.object(named[field], `${where}.${field}`), name, `${where}.${field}`));
    });
  }

  cluster(c: Record<string, unknown>, name: string, where: string): KubeconfigCluster {
    const cluster: KubeconfigCluster = {
      name,
      server: (this.string(c, 'server', where) ?? '').replace(/\/$/, ''),
      insecureSkipTlsVerify: this.bool(c, 'insecure-skip-tls-verify', where),
    };
    const ca = this.path(c, 'certificate-authority', where);
    if (ca) cluster.certificateAuthority = ca;
    const caData = this.string(c, 'certificate-authority-data', where);
    if (caData) cluster.certificateAuthorityData = caData;
    const sni = this.string(c, 'tls-server-name', where);
    if (sni) cluster.tlsServerName = sni;
    const proxy = this.string(c, 'proxy-url', where);
    if (proxy) {
      const scheme = /^([a-z0-9+.-]+):/i.exec(proxy)?.[1]?.toLowerCase();
      if (!scheme || !['http', 'https', 'socks5'].includes(scheme)) {
        this.fail(`${where}.proxy-url`, `"${proxy}": only http, https and socks5 proxies are supported`);
      }
      cluster.proxyUrl = proxy;
    }
    const extensions = c.extensions;
    if (Array.isArray(extensions)) {
      const exec = extensions.find((e) => this.object(e, `${where}.extensions`).name === EXEC_EXTENSION) as { extension?: unknown } | undefined;
      if (exec?.extension !== undefined) cluster.execExtension = exec.extension;
    }
    return cluster;
  }

  user(u: Record<string, unknown>, name: string, where: string): KubeconfigUser {
    const user: KubeconfigUser = { name };
    const set = <K extends keyof KubeconfigUser>(key: K, value: KubeconfigUser[K] | undefined) => {
      if (value !== undefined) user[key] = value;
    };
    set('clientCertificate', this.path(u, 'client-certificate', where));
    set('clientCertificateData', this.string(u, 'client-certificate-data', where));
    set('clientKey', this.path(u, 'client-key', where));
    set('clientKeyData', this.string(u, 'client-key-data', where));
    set('token', this.string(u, 'token', where));
    set('tokenFile', this.path(u, 'tokenFile', where) ?? this.path(u, 'token-file', where));
    set('username', this.string(u, 'username', where));
    set('password', this.string(u, 'password', where));
    if (u.exec !== undefined && u.exec !== null) user.exec = this.exec(this.object(u.exec, `${where}.exec`), `${where}.exec`);
    if (u['auth-provider'] !== undefined && u['auth-provider'] !== null) {
      const ap = this.object(u['auth-provider'], `${where}.auth-provider`);
      user.authProvider = { name: this.string(ap, 'name', `${where}.auth-provider`) ?? '', config: this.object(ap.config, `${where}.auth-provider.config`) as Record<string, string> };
    }
    const as = this.string(u, 'as', where);
    const asUid = this.string(u, 'as-uid', where);
    const groups = this.strings(u, 'as-groups', where);
    const extraObj = this.object(u['as-user-extra'], `${where}.as-user-extra`);
    const extra: Record<string, string[]> = {};
    for (const key of Object.keys(extraObj)) extra[key] = this.strings(extraObj, key, `${where}.as-user-extra`);
    if (as || asUid || groups.length > 0 || Object.keys(extra).length > 0) {
      user.impersonate = { ...(as ? { user: as } : {}), ...(asUid ? { uid: asUid } : {}), groups, extra };
    }
    return user;
  }

  exec(e: Record<string, unknown>, where: string): KubeconfigExec {
    const command = this.string(e, 'command', where);
    if (!command) this.fail(where, 'has no command');
    const apiVersion = this.string(e, 'apiVersion', where) ?? '';
    if (!EXEC_API_VERSIONS.includes(apiVersion)) {
      this.fail(`${where}.apiVersion`, `"${apiVersion}" is not supported (use ${EXEC_API_VERSIONS.join(' or ')})`);
    }
    const mode = this.string(e, 'interactiveMode', where) ?? (apiVersion.endsWith('/v1') ? undefined : 'IfAvailable');
    if (mode !== 'Never' && mode !== 'IfAvailable' && mode !== 'Always') {
      this.fail(`${where}.interactiveMode`, mode === undefined ? 'is required with apiVersion v1' : `"${mode}" must be Never, IfAvailable or Always`);
    }
    const envList = e.env ?? [];
    if (!Array.isArray(envList)) this.fail(`${where}.env`, 'must be a list');
    const env = envList.map((item, i) => {
      const entry = this.object(item, `${where}.env[${i}]`);
      const name = this.string(entry, 'name', `${where}.env[${i}]`);
      if (!name) this.fail(`${where}.env[${i}]`, 'has no name');
      return { name, value: this.string(entry, 'value', `${where}.env[${i}]`) ?? '' };
    });
    const exec: KubeconfigExec = {
      // kubectl resolves a relative command against the kubeconfig's folder only when it contains a separator.
      command: command.includes('/') || command.includes(nodePath.sep) ? nodePath.resolve(this.dir, command) : command,
      args: this.strings(e, 'args', where),
      env,
      apiVersion,
      provideClusterInfo: this.bool(e, 'provideClusterInfo', where),
      interactiveMode: mode,
    };
    const hint = this.string(e, 'installHint', where);
    if (hint) exec.installHint = hint;
    return exec;
  }

  context(c: Record<string, unknown>, name: string, where: string): KubeconfigContext {
    const cluster = this.string(c, 'cluster', where);
    if (!cluster) this.fail(where, 'has no cluster');
    const user = this.string(c, 'user', where);
    const namespace = this.string(c, 'namespace', where);
    return { name, cluster, ...(user ? { user } : {}), ...(namespace ? { namespace } : {}) };
  }
}
