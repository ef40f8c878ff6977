/**
 * The processes a benchmark run starts (operator, node agent) and the figures read from `/proc` about them
 * and about the control plane: CPU seconds, current and peak resident memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** A child process with its log file. */
export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  log: string;
}

/** Starts `node [nodeArgs…] script args…` in its own process group, stdout and stderr appended to `log`. */
export function startNodeProcess(name: string, script: string, args: string[], log: string, env: Record<string, string>, nodeArgs: string[] = []): Child {
  const fd = fs.openSync(log, 'a');
  try {
    const proc = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ['ignore', fd, fd], env: { ...process.env, ...env }, detached: true });
    if (proc.pid === undefined) throw new Error(`starting ${name}: no pid (see ${log})`);
    return { name, proc, pid: proc.pid, log };
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether the child has exited. */
export function exited(c: Child): boolean {
  return c.proc.exitCode !== null || c.proc.signalCode !== null;
}

/** SIGTERM to the child's process group, SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopProcess(c: Child, graceMs = 10_000): Promise<void> {
  if (exited(c)) return;
  const done = new Promise<void>((resolve) => c.proc.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-c.pid, sig);
    } catch {
      // Already gone (ESRCH): nothing to signal.
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/** A TCP port nothing listens on right now, for a child's metrics or health endpoint. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Memory of a process from `/proc/<pid>/status`, in bytes: current and peak resident set. */
export function memoryOf(pid: number): { rss: number; peakRss: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peakRss: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS = 100;

/** User + system CPU seconds a process has used so far (from `/proc/<pid>/stat`); undefined when gone. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Pids of the control-plane processes recorded by hack/proc.sh under `stateDir/pids`. */
export function controlPlanePids(stateDir: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (!stateDir) return out;
  for (const name of ['kube-apiserver', 'etcd', 'kwok', 'kube-scheduler', 'kube-controller-manager']) {
    try {
      const pid = Number(fs.readFileSync(`${stateDir}/pids/${name}.pid`, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && cpuSecondsOf(pid) !== undefined) out.set(name, pid);
    } catch {
      // Not started by hack/cluster-up.sh (or another layout): no figures for it.
    }
  }
  return out;
}

/** Tracks the peak of a sampled value (heap, RSS) between `reset()` calls. */
export class PeakTracker {
  #peak = 0;

  /** Records one sample. */
  sample(v: number | undefined): void {
    if (v !== undefined && Number.isFinite(v) && v > this.#peak) this.#peak = v;
  }

  /** The highest sample so far (0 when none). */
  get peak(): number {
    return this.#peak;
  }
}

/**
 * On the first SIGINT or SIGTERM: says so, runs `cleanup` and exits with 130. Returns whether a signal came (a
 * run that finishes normally cleans up itself unless one did).
 */
export function cleanupOnSignals(say: (msg: string) => void, cleanup: () => Promise<void>): () => boolean {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      say(`${sig}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  return () => stopping;
}
