/**
 * Exec credential plugins (`users[].user.exec`, client.authentication.k8s.io v1 and v1beta1): runs the command
 * with its args and env plus KUBERNETES_EXEC_INFO, reads the ExecCredential it prints, and keeps the credential
 * until its expirationTimestamp or until the API server rejects it (401). One run at a time: concurrent requests
 * wait for the same run.
 */
import { spawn } from 'node:child_process';
import type { KubeconfigCluster, KubeconfigExec } from './kubeconfig.js';

/** What a plugin returned: a bearer token, or a client certificate and key (PEM), or both. */
export interface ExecCredential {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
  /** Epoch milliseconds after which the credential must not be used; none means until the server rejects it. */
  expiresAt?: number;
}

/** How much of a failing plugin's stderr an error quotes. */
const STDERR_QUOTE = 2000;

/** Parses a plugin's stdout into a credential; throws naming the plugin when it is not a valid ExecCredential. */
export function parseExecCredential(stdout: string, exec: KubeconfigExec): ExecCredential {
  const who = `exec plugin ${exec.command}`;
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (cause) {
    throw new Error(`${who} printed no ExecCredential JSON: ${JSON.stringify(stdout.slice(0, 200))}`, { cause });
  }
  const cred = (doc && typeof doc === 'object' ? doc : {}) as { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
  if (cred.kind !== 'ExecCredential') throw new Error(`${who} printed kind ${JSON.stringify(cred.kind)}, not ExecCredential`);
  if (cred.apiVersion !== exec.apiVersion) {
    throw new Error(`${who} is configured for ${exec.apiVersion} but returned ${JSON.stringify(cred.apiVersion)}`);
  }
  const status = cred.status;
  if (!status || typeof status !== 'object') throw new Error(`${who} returned no status`);
  const out: ExecCredential = {};
  for (const key of ['token', 'clientCertificateData', 'clientKeyData'] as const) {
    const v = status[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') throw new Error(`${who} returned a non-string status.${key}`);
    out[key] = v;
  }
  if (Boolean(out.clientCertificateData) !== Boolean(out.clientKeyData)) {
    throw new Error(`${who} returned ${out.clientKeyData ? 'clientKeyData without clientCertificateData' : 'clientCertificateData without clientKeyData'}`);
  }
  if (!out.token && !out.clientCertificateData) throw new Error(`${who} returned neither a token nor a client certificate and key`);
  if (status.expirationTimestamp !== undefined && status.expirationTimestamp !== null) {
    const at = typeof status.expirationTimestamp === 'string' ? Date.parse(status.expirationTimestamp) : NaN;
    if (Number.isNaN(at)) throw new Error(`${who} returned an invalid expirationTimestamp ${JSON.stringify(status.expirationTimestamp)}`);
    out.expiresAt = at;
  }
  return out;
}

/** The KUBERNETES_EXEC_INFO value: the ExecCredential spec (interactive, and the cluster when provideClusterInfo). */
export function execInfo(exec: KubeconfigExec, cluster: KubeconfigCluster, interactive: boolean, caPem: Buffer | undefined): string {
  const spec: Record<string, unknown> = { interactive };
  if (exec.provideClusterInfo) {
    spec.cluster = {
      server: cluster.server,
      ...(cluster.tlsServerName ? { 'tls-server-name': cluster.tlsServerName } : {}),
      ...(cluster.insecureSkipTlsVerify ? { 'insecure-skip-tls-verify': true } : {}),
      ...(caPem ? { 'certificate-authority-data': caPem.toString('base64') } : {}),
      ...(cluster.proxyUrl ? { 'proxy-url': cluster.proxyUrl } : {}),
      ...(cluster.execExtension !== undefined ? { config: cluster.execExtension } : {}),
    };
  }
  return JSON.stringify({ apiVersion: exec.apiVersion, kind: 'ExecCredential', spec });
}

/** One user's exec plugin and its cached credential. */
export class ExecCredentialPlugin {
  private cached: ExecCredential | undefined;
  private running: Promise<ExecCredential> | undefined;
  /** How many times the plugin was started (tests, metrics). */
  runs = 0;

  constructor(
    private readonly exec: KubeconfigExec,
    private readonly cluster: KubeconfigCluster,
    private readonly opts: {
      /** The cluster's CA, for provideClusterInfo. */
      caPem?: () => Buffer | undefined;
      now?: () => number;
      /** Whether standard input is a terminal the plugin may prompt on (default: process.stdin.isTTY). */
      stdinIsTerminal?: boolean;
    } = {},
  ) {}

  /** The credential to send: the cached one until it expires, else a fresh run's. */
  async get(): Promise<ExecCredential> {
    const now = this.opts.now?.() ?? Date.now();
    if (this.cached && (this.cached.expiresAt === undefined || now < this.cached.expiresAt)) return this.cached;
    this.cached = undefined;
    this.running ??= this.run().finally(() => (this.running = undefined));
    const cred = await this.running;
    this.cached = cred;
    return cred;
  }

  /**
   * The API server answered 401 to a request sent with `used`: forget it, so the next {@link get} runs the plugin
   * again. A credential already replaced by a newer run is kept (many requests rejected at once run it once).
   */
  rejected(used: ExecCredential): void {
    if (this.cached === used) this.cached = undefined;
  }

  private run(): Promise<ExecCredential> {
    const { exec } = this;
    const terminal = this.opts.stdinIsTerminal ?? Boolean(process.stdin.isTTY);
    if (exec.interactiveMode === 'Always' && !terminal) {
      return Promise.reject(new Error(`exec plugin ${exec.command} needs an interactive terminal (interactiveMode Always), and standard input is not one`));
    }
    const interactive = terminal && exec.interactiveMode !== 'Never';
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const e of exec.env) env[e.name] = e.value;
    env.KUBERNETES_EXEC_INFO = execInfo(exec, this.cluster, interactive, exec.provideClusterInfo ? this.opts.caPem?.() : undefined);
    this.runs++;
    return new Promise((resolve, reject) => {
      const child = spawn(exec.command, exec.args, { env, stdio: [interactive ? 'inherit' : 'ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        // A plugin that prompts (a login URL, a device code) talks to the user on stderr.
        if (interactive) process.stderr.write(d);
      });
      child.on('error', (cause: NodeJS.ErrnoException) => {
        const hint = cause.code === 'ENOENT' && exec.installHint ? `\n${exec.installHint}` : '';
        reject(new Error(`exec plugin ${exec.command} could not be started${hint}`, { cause }));
      });
      child.on('close', (code, signal) => {
        if (code !== 0) {
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          const said = stderr.trim().slice(-STDERR_QUOTE);
          reject(new Error(`exec plugin ${exec.command} ${how}${said ? `: ${said}` : ' and wrote nothing on stderr'}`));
          return;
        }
        try {
          resolve(parseExecCredential(stdout, exec));
        } catch (err) {
          reject(err);
        }
      });
    });
  }
}
