import { type Log, silentLog } from '../device-plugin/log.js';
import { type GpuModel, findProfile, validateLayout } from '../placement/catalog.js';
import type { CurrentGpu, RealisationStep } from './layout-realiser.js';
import type { HeldDevice, InUseJournal, SimGpu, SimState } from './simulated-gpu-types.js';
import { readJsonFile, removeStaleTemps, SerialJsonFile } from './state-file.js';
import { journalProblem, stateProblem } from './state-validation.js';
import { gpuUuid, migUuid } from './uuid.js';

/** How a simulated node is built. */
export interface SimulatedNodeOptions {
  node: string;
  model: GpuModel;
  gpuCount: number;
  /** State file; the in-use journal lives next to it as `<stateFile>.in-use`. Absent: memory only. */
  stateFile?: string;
  /** Simulated time each hardware step takes; default 100 ms. */
  reconfigureDelayMs?: number;
  log?: Log;
}

/** What happened while loading persisted state (for logs, status and tests). */
export interface RecoveryReport {
  state: 'fresh' | 'loaded' | 'recovered';
  journal: 'fresh' | 'loaded' | 'recovered';
  /** Files moved aside because they were corrupt or did not match this node. */
  movedAside: string[];
  /** Slices rebuilt from the in-use journal after the state file was lost. */
  restoredSlices: number;
}

const clone = <T>(v: T): T => structuredClone(v);

/**
 * N simulated GPUs of one model on one node: UUIDs, MIG mode, realised GPU instances, health and the set of
 * devices containers hold. Hardware changes take a configurable delay per step and are persisted atomically
 * after each step, so an agent restart finds the GPUs as they were. The in-use record lives in a second file
 * (the journal) so that losing the state file never loses which slices must not be destroyed.
 */
export class SimulatedNode {
  readonly node: string;
  readonly model: GpuModel;
  private state: SimState;
  private held = new Map<string, HeldDevice>();
  private readonly opts: SimulatedNodeOptions;
  private readonly log: Log;
  private readonly listeners = new Set<() => void>();
  /** The state file and the journal, each written by one writer at a time (undefined: memory only). */
  private readonly stateOut: SerialJsonFile | undefined;
  private readonly journalOut: SerialJsonFile | undefined;

  private constructor(opts: SimulatedNodeOptions, state: SimState) {
    this.opts = opts;
    this.node = opts.node;
    this.model = opts.model;
    this.state = state;
    this.log = opts.log ?? silentLog;
    if (opts.stateFile) {
      this.stateOut = new SerialJsonFile(opts.stateFile, () => this.state);
      this.journalOut = new SerialJsonFile(journalPath(opts.stateFile), (): InUseJournal => ({ version: 1, node: this.node, held: [...this.held.values()] }));
    }
  }

  /** Loads (or creates) the node's simulated hardware, recovering from a corrupt state file. */
  static async open(opts: SimulatedNodeOptions): Promise<{ sim: SimulatedNode; recovery: RecoveryReport }> {
    const log = opts.log ?? silentLog;
    const recovery: RecoveryReport = { state: 'fresh', journal: 'fresh', movedAside: [], restoredSlices: 0 };
    const sim = new SimulatedNode(opts, freshState(opts));
    if (!opts.stateFile) return { sim, recovery };
    // A crash between writing and renaming leaves a temporary file; it never holds anything the target lacks.
    for (const path of [opts.stateFile, journalPath(opts.stateFile)]) {
      const stale = await removeStaleTemps(path);
      if (stale.length > 0) log.info('Removed temporary files of an interrupted write', { files: stale });
    }

    const journal = await readJsonFile<InUseJournal>(journalPath(opts.stateFile), journalProblem);
    if (journal.kind === 'corrupt') {
      log.error('In-use journal is corrupt; moved aside, in-use will be rebuilt from the kubelet', {
        problem: journal.problem,
        movedTo: journal.movedTo,
      });
      recovery.journal = 'recovered';
      recovery.movedAside.push(journal.movedTo);
    } else if (journal.kind === 'ok') {
      recovery.journal = 'loaded';
      for (const h of journal.value.held) sim.held.set(h.deviceId, h);
    }

    const loaded = await readJsonFile<SimState>(opts.stateFile, (v) => {
      const problem = stateProblem(v);
      if (problem) return problem;
      const s = v as SimState;
      if (s.node !== opts.node || s.product !== opts.model.product || s.gpus.length !== opts.gpuCount) {
        return `state describes ${s.gpus.length} × ${s.product} on ${s.node}, not ${opts.gpuCount} × ${opts.model.product} on ${opts.node}`;
      }
      return undefined;
    });
    if (loaded.kind === 'ok') {
      sim.state = loaded.value;
      recovery.state = 'loaded';
    } else if (loaded.kind === 'corrupt') {
      log.error('GPU state file is unusable; moved aside and starting from fresh GPUs plus the in-use journal', {
        problem: loaded.problem,
        movedTo: loaded.movedTo,
      });
      recovery.state = 'recovered';
      recovery.movedAside.push(loaded.movedTo);
      recovery.restoredSlices = sim.restoreHeldSlices();
    }
    await sim.persist();
    await sim.persistJournal();
    return { sim, recovery };
  }

  /** Deep copy of the GPUs. */
  gpus(): SimGpu[] {
    return clone(this.state.gpus);
  }

  /** Device IDs containers hold. */
  heldDeviceIds(): Set<string> {
    return new Set(this.held.keys());
  }

  /** The GPUs in the shape the layout realiser needs, with in-use flags. */
  currentLayout(): CurrentGpu[] {
    return this.state.gpus.map((g) => ({
      index: g.index,
      mode: g.mode,
      inUse: g.mode === 'whole' && this.held.has(g.uuid),
      slices: g.slices.map((s) => ({ profile: s.profile, start: s.start, inUse: this.held.has(s.uuid) })),
    }));
  }

  /** Subscribes to any change (layout, health, in-use). Returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The pod journaled as holding device `id` (kubelet-less nodes, where the agent assigns devices). */
  heldPod(id: string): HeldDevice['pod'] {
    return this.held.get(id)?.pod;
  }

  /**
   * Replaces the set of held device IDs (from the kubelet's PodResources) and, with `add`, merges instead.
   * Unknown IDs are ignored. `podOf` names the pod holding a device, journaled with it. Returns whether the set
   * of held devices changed; any change, of a holder too, is journaled before listeners run.
   */
  async setHeld(ids: Iterable<string>, mode: 'replace' | 'add' = 'replace', podOf?: (id: string) => HeldDevice['pod']): Promise<boolean> {
    const next = new Map(mode === 'add' ? this.held : []);
    for (const id of ids) {
      const record = this.describeDevice(id);
      const pod = podOf?.(id) ?? (podOf ? undefined : this.held.get(id)?.pod);
      if (record) next.set(id, pod ? { ...record, pod: { namespace: pod.namespace, name: pod.name, ...(pod.uid ? { uid: pod.uid } : {}) } } : record);
    }
    const same = next.size === this.held.size && [...next.keys()].every((k) => this.held.has(k));
    const podKey = (p: HeldDevice['pod']): string => (p ? `${p.namespace}/${p.name}` : '');
    const samePods = same && [...next].every(([k, h]) => podKey(h.pod) === podKey(this.held.get(k)?.pod));
    if (samePods) return false;
    this.held = next;
    await this.persistJournal();
    if (same) return false;
    this.emit();
    return true;
  }

  /** Injects (or clears) a GPU failure: its devices turn Unhealthy. */
  async setHealth(index: number, health: 'Healthy' | 'Unhealthy'): Promise<void> {
    const gpu = this.gpu(index);
    if (gpu.health === health) return;
    gpu.health = health;
    await this.persist();
    this.emit();
  }

  /** Applies one hardware step after the configured delay, then persists. Throws on an impossible step. */
  async apply(step: RealisationStep): Promise<void> {
    await new Promise((r) => setTimeout(r, this.opts.reconfigureDelayMs ?? 100));
    const gpu = this.gpu(step.gpu);
    switch (step.kind) {
      case 'destroy': {
        const i = gpu.slices.findIndex((s) => s.profile === step.profile && s.start === step.start);
        if (i < 0) throw new Error(`GPU ${gpu.index} has no instance ${step.profile}@${step.start}`);
        if (this.held.has(gpu.slices[i].uuid)) throw new Error(`GPU ${gpu.index} instance ${step.profile}@${step.start} is in use`);
        gpu.slices.splice(i, 1);
        break;
      }
      case 'setMode':
        if (gpu.slices.length > 0 || this.held.has(gpu.uuid)) throw new Error(`GPU ${gpu.index} is not idle; cannot switch MIG mode`);
        if (step.mode === 'mig' && !this.model.migCapable) throw new Error(`${this.model.product} is not MIG-capable`);
        gpu.mode = step.mode;
        break;
      case 'create': {
        if (gpu.mode !== 'mig') throw new Error(`GPU ${gpu.index} is not in MIG mode`);
        const next = [...gpu.slices, { profile: step.profile, start: step.start }];
        const problems = validateLayout(this.model, next);
        if (problems.length > 0) throw new Error(`GPU ${gpu.index}: ${problems.join('; ')}`);
        gpu.slices.push({ profile: step.profile, start: step.start, uuid: migUuid(gpu.uuid, step.profile, step.start) });
        gpu.slices.sort((a, b) => a.start - b.start);
        break;
      }
    }
    await this.persist();
    this.emit();
  }

  private gpu(index: number): SimGpu {
    const gpu = this.state.gpus[index];
    if (!gpu) throw new Error(`GPU ${index} does not exist on ${this.node}`);
    return gpu;
  }

  private describeDevice(id: string): HeldDevice | undefined {
    for (const g of this.state.gpus) {
      if (g.uuid === id) return { deviceId: id, gpu: g.index };
      const s = g.slices.find((x) => x.uuid === id);
      if (s) return { deviceId: id, gpu: g.index, profile: s.profile, start: s.start };
    }
    return undefined;
  }

  /**
   * After the state file is lost, rebuilds every journaled in-use slice on the fresh GPUs (same placement,
   * hence the same deterministic UUID), so they are advertised and protected again. Returns how many.
   */
  private restoreHeldSlices(): number {
    let restored = 0;
    for (const h of [...this.held.values()].sort((a, b) => a.gpu - b.gpu || (a.start ?? 0) - (b.start ?? 0))) {
      const gpu = this.state.gpus[h.gpu];
      if (!gpu || h.profile === undefined || h.start === undefined) continue;
      if (!this.model.migCapable || !findProfile(this.model, h.profile)) continue;
      const next = [...gpu.slices, { profile: h.profile, start: h.start }];
      const uuid = migUuid(gpu.uuid, h.profile, h.start);
      if (validateLayout(this.model, next).length > 0 || uuid !== h.deviceId) {
        this.log.error('Cannot restore journaled in-use slice', { gpu: h.gpu, profile: h.profile, start: h.start });
        continue;
      }
      gpu.mode = 'mig';
      gpu.slices.push({ profile: h.profile, start: h.start, uuid });
      restored++;
    }
    return restored;
  }

  // Allocate calls, the PodResources poll and reconfiguration steps change state concurrently: the writers
  // serialise the writes, and each write carries the state as it is when it starts.
  private async persist(): Promise<void> {
    await this.stateOut?.write();
  }

  private async persistJournal(): Promise<void> {
    await this.journalOut?.write();
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

/** Path of the in-use journal that belongs to a state file. */
export function journalPath(stateFile: string): string {
  return `${stateFile}.in-use`;
}

/** Brand-new GPUs: MIG disabled (whole mode), healthy, no instances — as a freshly installed board. */
function freshState(opts: SimulatedNodeOptions): SimState {
  return {
    version: 1,
    node: opts.node,
    product: opts.model.product,
    gpus: Array.from({ length: opts.gpuCount }, (_, index) => ({
      index,
      uuid: gpuUuid(opts.node, index),
      mode: 'whole' as const,
      health: 'Healthy' as const,
      slices: [],
    })),
  };
}
