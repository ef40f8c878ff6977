/**
 * The seeded churn of the chaos run: creates of GpuPartitions and TrainingJobs, deletes, and partition count
 * changes, paced so that `objects` creates happen over the run while the live objects never ask for more than a
 * share of the cluster (so that, faults aside, everything can be placed and "every object Ready" is a fair
 * demand). Pure: the caller carries the operations out.
 */
import type { GpuPartitionSpec, TrainingJobSpec } from '../../src/api/types.js';
import { COUNTS, PARTITION_SIZES } from '../scale/scale-workload.js';
import { pick, rng } from '../seeded-random.js';

/** A live object of the churn and what it asks for. */
export type ChurnObject =
  | { kind: 'GpuPartition'; name: string; spec: GpuPartitionSpec; consumer: boolean }
  | { kind: 'TrainingJob'; name: string; spec: TrainingJobSpec };

/** One operation for the caller to carry out. */
export type ChurnOp =
  | { op: 'create'; object: ChurnObject }
  | { op: 'delete'; object: ChurnObject }
  | { op: 'scale'; object: ChurnObject & { kind: 'GpuPartition' }; count: number };

/** Inputs of a {@link ChurnPlanner}. */
export interface ChurnShape {
  seed: number;
  /** Creates over the whole run. */
  objects: number;
  /** Compute slices of the cluster (GPUs × 7). */
  clusterSlices: number;
  maxUtilisation: number;
  jobShare: number;
  consumerShare: number;
  /** Largest gang: nodes per clique bounds a sameClique gang's workers. */
  maxReplicas: number;
}

/** Compute slices a partition spec asks for, at least (memory-sized ones count one slice each). */
export function partitionSlices(spec: GpuPartitionSpec): number {
  const fromProfile = spec.profile ? Number(spec.profile.split('g.')[0]) : 0;
  return Math.max(fromProfile, spec.computeSlices ?? 1, spec.memory ? memorySlices(spec.memory) : 0) * (spec.count ?? 1);
}

/** Compute slices the smallest B200 profile meeting a memory request takes (1g.23gb … 7g.180gb). */
function memorySlices(memory: string): number {
  const gi = Number(memory.replace(/Gi$/, ''));
  if (!Number.isFinite(gi)) return 1;
  if (gi <= 21) return 1;
  if (gi <= 42) return 2; // 1g.45gb has one compute slice but two memory slots: count it as two
  if (gi <= 84) return 3;
  return 7;
}

/** Compute slices a job asks for (whole GPUs count 7). */
export function jobSlices(spec: TrainingJobSpec): number {
  return spec.replicas * (spec.gpusPerWorker ? spec.gpusPerWorker * 7 : Number((spec.profile ?? '1g').split('g.')[0]));
}

/** Compute slices any churn object asks for. */
export function objectSlices(o: ChurnObject): number {
  return o.kind === 'GpuPartition' ? partitionSlices(o.spec) : jobSlices(o.spec);
}

const GANG_GPUS: Array<[number, number]> = [
  [1, 40],
  [2, 30],
  [4, 20],
  [8, 10],
];
const GANG_TOPOLOGY: Array<[TrainingJobSpec['topology'], number]> = [
  ['any', 50],
  ['sameNode', 20],
  ['sameClique', 30],
];

/** Decides the churn's next operation from the live set; remembers what it handed out. */
export class ChurnPlanner {
  private readonly r: () => number;
  private readonly live = new Map<string, ChurnObject>();
  private demand = 0;
  private jobDemand = 0;
  /** Creates handed out so far. */
  created = 0;
  deleted = 0;
  scaled = 0;

  constructor(private readonly shape: ChurnShape) {
    this.r = rng(shape.seed);
  }

  /** Compute slices the live objects ask for. */
  liveSlices(): number {
    return this.demand;
  }

  /** The live objects. */
  liveObjects(): ChurnObject[] {
    return [...this.live.values()];
  }

  /**
   * The next operation, `due` being how many creates should have happened by now (the caller's pace). Behind
   * pace it creates, deleting first when the new object would not fit under the utilisation cap; on pace it
   * deletes, changes a count or waits; after the last create it keeps doing so.
   */
  next(due: number): ChurnOp | undefined {
    const cap = this.shape.clusterSlices * this.shape.maxUtilisation;
    if (this.created < Math.min(due, this.shape.objects)) {
      const candidate = this.peekCreate();
      if (!this.jobFits(candidate)) return this.deleteRandom((o) => o.kind === 'TrainingJob');
      if (this.demand + objectSlices(candidate) <= cap) return this.commitCreate(candidate);
      // No room: make some, by a delete or (a quarter of the time) a count change.
      return (this.r() < 0.25 ? this.scaleRandom(cap) : undefined) ?? this.deleteRandom();
    }
    // On pace: deletes only while the live set asks for more than 60 % of the cap, so it stays well populated.
    const x = this.r();
    if (x < 0.3) return this.demand > 0.6 * cap ? this.deleteRandom() : undefined;
    if (x < 0.6) return this.scaleRandom(cap);
    return undefined;
  }

  private pending: ChurnObject | undefined;

  /** The object the next create would make (drawn once, kept until it is created). */
  private peekCreate(): ChurnObject {
    if (this.pending) return this.pending;
    const n = this.created;
    const name = (prefix: string) => `${prefix}-${String(n).padStart(5, '0')}`;
    if (this.r() < this.shape.jobShare) {
      // A gang never larger than the share whole-GPU gangs may take, or it would wait for room forever.
      const capGpus = Math.max(1, Math.floor(this.jobCap() / 7));
      const perWorker = Math.min(pick(this.r, GANG_GPUS), capGpus);
      const topology = pick(this.r, GANG_TOPOLOGY);
      const maxReplicas = Math.min(topology === 'sameNode' ? Math.max(1, Math.floor(8 / perWorker)) : Math.min(4, this.shape.maxReplicas), Math.max(1, Math.floor(capGpus / perWorker)));
      const replicas = 1 + Math.floor(this.r() * maxReplicas);
      const sliceGang = this.r() < 0.25;
      this.pending = {
        kind: 'TrainingJob',
        name: name('tj'),
        spec: {
          replicas,
          ...(sliceGang ? { profile: '1g.23gb' } : { gpusPerWorker: perWorker }),
          topology,
          restartPolicy: 'Never',
          template: { spec: { containers: [{ name: 'trainer', image: 'registry.invalid/haein/trainer:chaos', command: ['sleep', 'infinity'] }] } },
        },
      };
    } else {
      const size = pick(this.r, PARTITION_SIZES);
      const count = pick(this.r, COUNTS);
      const spec: GpuPartitionSpec = { ...size, ...(count > 1 ? { count } : {}) };
      this.pending = { kind: 'GpuPartition', name: name('p'), spec, consumer: Boolean(size.profile) && this.r() < this.shape.consumerShare };
    }
    return this.pending;
  }

  /** Whole-GPU gangs stay a minority of the capacity: they need empty GPUs, which MIG slices fragment. */
  private jobFits(o: ChurnObject): boolean {
    return o.kind !== 'TrainingJob' || this.jobDemand + objectSlices(o) <= this.jobCap();
  }

  /** Compute slices all live gangs together may ask for. */
  private jobCap(): number {
    return this.shape.clusterSlices * Math.min(0.25, this.shape.maxUtilisation / 2);
  }

  private commitCreate(o: ChurnObject): ChurnOp {
    this.pending = undefined;
    this.created++;
    this.live.set(o.name, o);
    this.add(o, 1);
    return { op: 'create', object: o };
  }

  private add(o: ChurnObject, sign: 1 | -1): void {
    this.demand += sign * objectSlices(o);
    if (o.kind === 'TrainingJob') this.jobDemand += sign * objectSlices(o);
  }

  private randomLive(filter: (o: ChurnObject) => boolean = () => true): ChurnObject | undefined {
    const list = [...this.live.values()].filter(filter);
    return list.length ? list[Math.floor(this.r() * list.length)] : undefined;
  }

  private deleteRandom(filter?: (o: ChurnObject) => boolean): ChurnOp | undefined {
    const o = this.randomLive(filter);
    if (!o) return undefined;
    this.live.delete(o.name);
    this.add(o, -1);
    this.deleted++;
    return { op: 'delete', object: o };
  }

  private scaleRandom(cap: number): ChurnOp | undefined {
    const o = this.randomLive((x) => x.kind === 'GpuPartition');
    if (!o || o.kind !== 'GpuPartition') return undefined;
    const now = o.spec.count ?? 1;
    const next = 1 + Math.floor(this.r() * 4);
    if (next === now) return undefined;
    const grown: ChurnObject = { ...o, spec: { ...o.spec, count: next } };
    if (this.demand - objectSlices(o) + objectSlices(grown) > cap) return undefined;
    this.add(o, -1);
    this.add(grown, 1);
    this.live.set(o.name, grown);
    this.scaled++;
    return { op: 'scale', object: grown as ChurnObject & { kind: 'GpuPartition' }, count: next };
  }
}
