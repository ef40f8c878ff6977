/**
 * The chosen cluster and user of a kubeconfig (or of the in-cluster service account) turned into what each
 * request needs: TLS material (CA, client certificate and key), the Authorization header (token, tokenFile,
 * basic, exec plugin) and impersonation headers. Files are re-read when they change (rotated service-account
 * tokens, kubelet client certificates, CA bundles); exec credentials are cached until they expire or the API
 * server answers 401. Configs this code does not handle go to `@kubernetes/client-node`, imported lazily.
 */
import fs from 'node:fs';
import type https from 'node:https';
import { readKubeconfig, selectContext, type KubeconfigCluster, type KubeconfigSelection, type KubeconfigUser } from './kubeconfig.js';
import { ExecCredentialPlugin, type ExecCredential } from './kubeconfig-exec.js';
import { clientNodeKubeConfig, clientNodeReason } from './kubeconfig-fallback.js';
import { inClusterEnv, inClusterSelection } from './kubeconfig-in-cluster.js';
import type { KubeConfig as ClientNodeKubeConfig } from '@kubernetes/client-node';

/** Options of a {@link KubeConfig}. */
export interface KubeConfigOptions {
  /** How long a file read is trusted before it is checked for changes again (default 1 s). */
  fileRecheckMs?: number;
  /** Clock (tests). */
  now?: () => number;
  /** Whether an exec plugin may prompt on standard input (default: whether it is a terminal). */
  stdinIsTerminal?: boolean;
}

/**
 * A file whose content is re-read when it changes (another inode — an atomic rename or the kubelet's symlink
 * swap —, size or modification time), checked at most every `recheckMs`. The same Buffer is returned while
 * the file is unchanged. When a later read fails the last content is kept.
 */
export class ReloadingFile {
  private content: Buffer | undefined;
  private stamp = '';
  private checkedAt = -Infinity;

  constructor(
    readonly path: string,
    private readonly recheckMs: number,
    private readonly now: () => number,
  ) {}

  /** The file's content; `force` checks for a change now whatever the interval. */
  read(force = false): Buffer {
    const now = this.now();
    if (this.content && !force && now - this.checkedAt < this.recheckMs) return this.content;
    try {
      const st = fs.statSync(this.path);
      const stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      if (!this.content || stamp !== this.stamp) {
        this.content = fs.readFileSync(this.path);
        this.stamp = stamp;
      }
      this.checkedAt = now;
    } catch (cause) {
      if (!this.content) throw new Error(`reading ${this.path}`, { cause });
    }
    return this.content;
  }
}

/** TLS material given inline (base64) or as a file. */
type Material = { read(force?: boolean): Buffer };

/** The cluster and user a client talks as, and the credentials of each request. */
export class KubeConfig {
  /** The chosen context's name ("in-cluster" for the service account). */
  readonly contextName: string;
  /** The API server and its TLS settings. */
  readonly cluster: KubeconfigCluster;
  /** The user entry (its name is "" when the context names none). */
  readonly user: KubeconfigUser;
  /** The context's namespace, when set. */
  readonly namespace: string | undefined;
  /** Set when `@kubernetes/client-node` serves this config, saying why. */
  readonly clientNodeReason: string | undefined;

  private readonly ca: Material | undefined;
  private readonly cert: Material | undefined;
  private readonly key: Material | undefined;
  private readonly tokenFile: ReloadingFile | undefined;
  private readonly exec: ExecCredentialPlugin | undefined;
  private readonly basic: string | undefined;
  private readonly impersonation: Record<string, string | string[]> = {};
  /** The exec credential each request was prepared with, to tell the plugin which one a 401 rejected. */
  private readonly execUsed = new WeakMap<https.RequestOptions, ExecCredential>();
  private clientNode: Promise<ClientNodeKubeConfig> | undefined;

  constructor(selection: KubeconfigSelection, opts: KubeConfigOptions = {}) {
    const { cluster, user } = selection;
    this.contextName = selection.context;
    this.cluster = cluster;
    this.user = user;
    this.namespace = selection.namespace;
    this.clientNodeReason = clientNodeReason(selection);
    const now = opts.now ?? Date.now;
    const recheck = opts.fileRecheckMs ?? 1000;
    const material = (data: string | undefined, file: string | undefined): Material | undefined => {
      if (data) {
        const decoded = Buffer.from(data, 'base64');
        return { read: () => decoded };
      }
      return file ? new ReloadingFile(file, recheck, now) : undefined;
    };
    this.ca = material(cluster.certificateAuthorityData, cluster.certificateAuthority);
    this.cert = material(user.clientCertificateData, user.clientCertificate);
    this.key = material(user.clientKeyData, user.clientKey);
    if (user.tokenFile) this.tokenFile = new ReloadingFile(user.tokenFile, recheck, now);
    if (user.exec) {
      this.exec = new ExecCredentialPlugin(user.exec, cluster, {
        caPem: () => this.ca?.read(),
        now,
        ...(opts.stdinIsTerminal !== undefined ? { stdinIsTerminal: opts.stdinIsTerminal } : {}),
      });
    }
    if (user.username) this.basic = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
    const imp = user.impersonate;
    if (imp?.user) this.impersonation['Impersonate-User'] = imp.user;
    if (imp?.uid) this.impersonation['Impersonate-Uid'] = imp.uid;
    if (imp?.groups.length) this.impersonation['Impersonate-Group'] = imp.groups;
    for (const [k, v] of Object.entries(imp?.extra ?? {})) this.impersonation[`Impersonate-Extra-${encodeURIComponent(k)}`] = v;
  }

  /** Reads every file the config names once, so a missing or unreadable one fails at start, not at the first request. */
  check(): void {
    if (this.clientNodeReason) return;
    for (const [what, m] of [['certificate-authority', this.ca], ['client-certificate', this.cert], ['client-key', this.key], ['tokenFile', this.tokenFile]] as const) {
      try {
        m?.read();
      } catch (cause) {
        throw new Error(`${what} of context "${this.contextName}"`, { cause });
      }
    }
  }

  /** Fills TLS options (ca, cert, key, rejectUnauthorized, servername) and auth headers into `opts`. */
  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    if (this.clientNodeReason) {
      this.clientNode ??= clientNodeKubeConfig({ context: this.contextName, cluster: this.cluster, user: this.user, ...(this.namespace ? { namespace: this.namespace } : {}) });
      await (await this.clientNode).applyToHTTPSOptions(opts);
      return;
    }
    if (this.cluster.insecureSkipTlsVerify) opts.rejectUnauthorized = false;
    if (this.cluster.tlsServerName) opts.servername = this.cluster.tlsServerName;
    const ca = this.ca?.read();
    if (ca) opts.ca = ca;
    const headers = (opts.headers ??= {}) as Record<string, string | string[]>;
    Object.assign(headers, this.impersonation);
    let bearer: string | undefined;
    const cred = this.exec ? await this.exec.get() : undefined;
    if (cred) {
      this.execUsed.set(opts, cred);
      bearer = cred.token;
    }
    if (cred?.clientCertificateData && cred.clientKeyData) {
      opts.cert = cred.clientCertificateData;
      opts.key = cred.clientKeyData;
    } else {
      const cert = this.cert?.read();
      const key = this.key?.read();
      if (cert) opts.cert = cert;
      if (key) opts.key = key;
    }
    bearer ??= this.tokenFile ? this.tokenFile.read().toString('utf8').trim() : this.user.token;
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    else if (this.basic) headers.Authorization = this.basic;
  }

  /**
   * The API server answered 401 to a request prepared with `sent`: drops the exec credential it carried and
   * checks the token file for a rotation now. True when a retry would carry other credentials.
   */
  async credentialsRejected(sent: https.RequestOptions): Promise<boolean> {
    if (this.clientNodeReason) return false;
    const used = this.execUsed.get(sent);
    if (this.exec && used) {
      this.exec.rejected(used);
      return true;
    }
    if (this.tokenFile) {
      const before = (sent.headers as Record<string, unknown> | undefined)?.Authorization;
      return `Bearer ${this.tokenFile.read(true).toString('utf8').trim()}` !== before;
    }
    return false;
  }
}

/**
 * Loads the config kubectl would use: `path`, else the `$KUBECONFIG` files merged, else `~/.kube/config`, else
 * the in-cluster service account; `context` overrides the current context. Throws, naming the file, when none
 * is usable or a file it names cannot be read.
 */
export function loadKubeConfig(path?: string, opts: KubeConfigOptions & { context?: string } = {}): KubeConfig {
  try {
    const file = readKubeconfig(path);
    let selection: KubeconfigSelection;
    if (file) selection = selectContext(file, opts.context);
    else if (inClusterEnv() && !opts.context) selection = inClusterSelection();
    else if (opts.context) throw new Error(`context "${opts.context}" given but no kubeconfig file was found`);
    else throw new Error('no kubeconfig path given, $KUBECONFIG names no existing file, no ~/.kube/config and not running in a cluster');
    const kc = new KubeConfig(selection, opts);
    kc.check();
    return kc;
  } catch (cause) {
    throw new Error(`loading kubeconfig${path ? ` from ${path}` : ''}`, { cause });
  }
}

/** The in-cluster service-account config; `root` prefixes the service-account folder (tests). */
export function loadInClusterConfig(root = '', opts: KubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig(inClusterSelection(root), opts);
  kc.check();
  return kc;
}
