/**
 * A child process the chaos run keeps alive, as a kubelet would: when it exits — killed by the run or on its own
 * (the operator exits when it loses its Lease) — it is started again after a short delay, with the same
 * command, and the exit is counted. The run can also SIGSTOP/SIGCONT it and hold restarts off.
 */
import fs from 'node:fs';
import { exited, startNodeProcess, stopProcess, type Child } from '../scale/processes.js';

/** How a supervised process ended, once. */
export interface ExitRecord {
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the run killed it on purpose. */
  byHarness: boolean;
}

/** A restartable child: node `script` with fixed arguments and environment. */
export class Supervised {
  child: Child | undefined;
  readonly exits: ExitRecord[] = [];
  /** When each incarnation started (ms), and its log offset. */
  readonly incarnations: Array<{ at: number; logOffset: number }> = [];
  private expectExit = false;
  private holding = false;
  private shuttingDown = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly waiters: Array<() => void> = [];

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly args: string[],
    readonly log: string,
    private readonly env: Record<string, string>,
    private readonly restartDelayMs = 500,
  ) {}

  /** Starts an incarnation (never a second one beside a running one). */
  start(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.child && this.alive()) return;
    const offset = fs.existsSync(this.log) ? fs.statSync(this.log).size : 0;
    fs.appendFileSync(this.log, `--- chaos: ${this.name} incarnation ${this.incarnations.length + 1} starting at ${new Date().toISOString()}\n`);
    this.child = startNodeProcess(this.name, this.script, this.args, this.log, this.env);
    this.incarnations.push({ at: Date.now(), logOffset: offset });
    const child = this.child;
    child.proc.once('exit', (code, signal) => {
      this.exits.push({ at: Date.now(), code, signal, byHarness: this.expectExit });
      this.expectExit = false;
      for (const w of this.waiters.splice(0)) w();
      if (this.shuttingDown || this.holding) return;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.shuttingDown && !this.holding && !this.alive()) this.start();
      }, this.restartDelayMs);
    });
  }

  /** Whether the current incarnation is running. */
  alive(): boolean {
    return this.child !== undefined && !exited(this.child);
  }

  /** Sends `signal` to the process group; SIGKILL and SIGTERM count as the run's doing. */
  signal(signal: NodeJS.Signals): void {
    if (!this.child) return;
    if (signal === 'SIGKILL' || signal === 'SIGTERM') this.expectExit = true;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // Already gone: the exit handler restarts it.
    }
  }

  /** SIGKILLs it and resolves once it has exited (it is restarted unless `hold`). */
  async kill(hold = false): Promise<void> {
    this.holding = hold;
    if (!this.alive()) return;
    const gone = new Promise<void>((r) => this.waiters.push(r));
    this.signal('SIGKILL');
    await gone;
  }

  /** Ends a hold: starts it again if it is not running. */
  release(): void {
    this.holding = false;
    if (!this.alive()) this.start();
  }

  /** Resolves when the current incarnation exits, or after `timeoutMs` (false then). */
  async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.alive()) return true;
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Exits the run did not cause (e.g. the operator giving up a lost Lease). */
  selfExits(): ExitRecord[] {
    return this.exits.filter((e) => !e.byHarness);
  }

  /** Stops for good (SIGTERM, then SIGKILL after `graceMs`). */
  async shutdown(graceMs = 10_000): Promise<void> {
    this.shuttingDown = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (!this.child) return;
    try {
      process.kill(-this.child.pid, 'SIGCONT');
    } catch {
      // not running
    }
    this.expectExit = true;
    await stopProcess(this.child, graceMs);
  }

  /** The log written since incarnation `i` (0-based) started. */
  logSince(i: number): string {
    const inc = this.incarnations[i];
    if (!inc) return '';
    const buf = fs.readFileSync(this.log);
    return buf.subarray(inc.logOffset).toString('utf8');
  }
}
