/**
 * Real `haein-operator` processes (from `dist/`) for the suites that kill leaders: each replica is a new pod in
 * Deployment terms (a new identity), watching the suite's namespace with a Lease there and short lease timing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { KubeClient } from '../../src/k8s/client.js';
import type { Lease } from '../../src/k8s/leader-election.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { kubeconfigPath, REPO_ROOT } from './cluster.js';

/** One running replica and the ports it serves. */
export interface Replica {
  child: ChildProcess;
  ports: Record<string, number>;
}

/** The replicas of one suite. */
export class OperatorReplicas {
  readonly #running = new Map<string, Replica>();
  #started = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
  ) {}

  /** Processes started so far. */
  get started(): number {
    return this.#started;
  }

  /**
   * Starts a replica with `flags` besides the common ones; `ports` names flags that get a free port each
   * (e.g. `['metrics-port', 'billing-port']`), reported in `Replica.ports`.
   */
  async start(flags: string[] = [], ports: string[] = []): Promise<string> {
    const identity = `operator-${this.#started++}`;
    const chosen: Record<string, number> = {};
    for (const p of ports) chosen[p] = await freePort();
    const child = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'dist/src/cmd/operator.js'),
        `--kubeconfig=${kubeconfigPath()}`,
        `--namespace=${this.namespace}`,
        '--leader-elect',
        `--lease-namespace=${this.namespace}`,
        '--lease-name=haein-operator',
        '--lease-duration-ms=3000',
        '--renew-deadline-ms=2000',
        '--retry-period-ms=300',
        '--health-port=0',
        ...(ports.includes('metrics-port') ? [] : ['--metrics-port=0']),
        ...Object.entries(chosen).map(([flag, port]) => `--${flag}=${port}`),
        ...flags,
      ],
      { env: { ...process.env, POD_NAME: identity, POD_NAMESPACE: this.namespace, LOG_LEVEL: process.env.HAEIN_TEST_LOGS ? 'debug' : 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    this.#running.set(identity, { child, ports: chosen });
    child.on('exit', () => this.#running.delete(identity));
    return identity;
  }

  /** A running replica. */
  get(identity: string): Replica | undefined {
    return this.#running.get(identity);
  }

  /** Sends a signal to a replica. */
  kill(identity: string, signal: NodeJS.Signals): void {
    this.#running.get(identity)?.child.kill(signal);
  }

  /** The replica holding the Lease, if it is one of the running ones. */
  async leader(): Promise<string | undefined> {
    const lease = await this.client.get<Lease>(RESOURCES.lease, 'haein-operator', this.namespace);
    const holder = lease?.spec?.holderIdentity ?? '';
    return this.#running.has(holder) ? holder : undefined;
  }

  /** SIGKILLs every replica still running. */
  killAll(): void {
    for (const r of this.#running.values()) r.child.kill('SIGKILL');
  }
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
