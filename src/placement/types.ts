/**
 * Public contract of the placement engine. Pure data: no Kubernetes imports.
 *
 * The operator builds a {@link ClusterSnapshot} from its caches, asks the engine to place a
 * {@link PlacementRequest}, and writes the returned per-GPU target layouts to the nodes. Fields may be
 * added to these types; existing names and meanings are stable because the operator and the node agent
 * depend on them.
 */

/** How the members of a gang relate to each other topologically. */
export type Topology = 'any' | 'sameNode' | 'sameClique' | 'spread';

/** Whether a GPU is partitioned into MIG instances or handed out whole (MIG disabled). */
export type GpuMode = 'mig' | 'whole';

/** Who holds an allocation, with what it takes to displace it. */
export interface Holder {
  /** Stable claim key, e.g. `GpuPartition/ns/name/0` or `TrainingJob/ns/name/3`. */
  key: string;
  /** Scheduling priority of the holder; higher wins. */
  priority: number;
  /** Whether a higher-priority request may preempt this holder. */
  preemptible: boolean;
}

/** A MIG GPU instance that exists (or is planned) on a GPU. */
export interface SliceSnapshot {
  /** Profile name valid for the GPU's model, e.g. `1g.23gb`. */
  profile: string;
  /** First memory slot (0–7) the instance occupies. */
  start: number;
  /** The claim this slice is reserved for; absent for a carved but unclaimed slice. */
  holder?: Holder;
  /** True when a running container holds the device: the slice must not be moved or destroyed. */
  inUse: boolean;
}

/** One physical GPU in the snapshot. */
export interface GpuSnapshot {
  /** Index of the GPU on its node (0-based, as `nvidia-smi` numbers them). */
  index: number;
  /** Current mode. A GPU may change mode only when it has no slices and no holder. */
  mode: GpuMode;
  /** Unhealthy GPUs receive no new placements. */
  healthy: boolean;
  /** MIG instances, when `mode` is `mig`. */
  slices: SliceSnapshot[];
  /** Holder of the whole GPU, when `mode` is `whole` and the GPU is allocated. */
  holder?: Holder;
  /** True when a running container uses the whole GPU. */
  inUse?: boolean;
}

/** One GPU node in the snapshot. */
export interface NodeSnapshot {
  /** Kubernetes node name. */
  name: string;
  /** Value of the `nvidia.com/gpu.product` label, e.g. `NVIDIA-B200`. */
  product: string;
  /** NVLink domain (`nvidia.com/gpu.clique` label value); absent when the node has none. */
  clique?: string;
  /** Node labels, used by node selectors. */
  labels: Record<string, string>;
  /** False for cordoned or not-ready nodes: they keep existing slices but get no new ones. */
  schedulable: boolean;
  /** The node's GPUs. */
  gpus: GpuSnapshot[];
}

/** Everything the engine needs to know about the cluster. */
export interface ClusterSnapshot {
  nodes: NodeSnapshot[];
}

/** A request for one MIG slice: either a named profile or needs the engine resolves per model. */
export interface SliceMember {
  kind: 'slice';
  /** Claim key this member's allocation will be held under. */
  key: string;
  /** Exact profile name. Mutually exclusive with `memoryMiB`/`computeSlices`. */
  profile?: string;
  /** Minimum memory in MiB; the engine picks the smallest profile that fits on the candidate model. */
  memoryMiB?: number;
  /** Minimum compute slices (1–7). */
  computeSlices?: number;
}

/** A request for `gpus` whole GPUs (MIG disabled) on one node. */
export interface WholeGpuMember {
  kind: 'whole';
  /** Claim key this member's allocation will be held under. */
  key: string;
  /** Number of whole GPUs, all on the same node. */
  gpus: number;
}

/** One member of a gang. */
export type Member = SliceMember | WholeGpuMember;

/** Where a request may land. */
export interface PlacementConstraints {
  /** Allowed `nvidia.com/gpu.product` values; empty or absent means any model. */
  products?: string[];
  /** Node labels that must all match. */
  nodeSelector?: Record<string, string>;
}

/** A gang of members placed all-or-nothing. A single GpuPartition with count N is N slice members. */
export interface PlacementRequest {
  /** Identifier used in messages (e.g. `GpuPartition/ns/name`). */
  id: string;
  members: Member[];
  /** Default `any`. */
  topology?: Topology;
  /** Priority of the new allocations; default 0. */
  priority?: number;
  /** Whether the new allocations may themselves be preempted later; default true. */
  preemptible?: boolean;
  /** If true the engine may name preemptible holders of strictly lower priority as victims. */
  mayPreempt?: boolean;
  constraints?: PlacementConstraints;
}

/** Where one member was placed. */
export interface Assignment {
  /** The member's claim key. */
  key: string;
  node: string;
  /** For a slice: the GPU; for a whole-GPU member: the first of `gpuIndices`. */
  gpuIndex: number;
  /** For a whole-GPU member: every GPU index it got, ascending. */
  gpuIndices: number[];
  /** For a slice: the resolved profile. */
  profile?: string;
  /** For a slice: the start memory slot. */
  start?: number;
}

/** The complete target layout of one GPU whose layout the placement changes. */
export interface GpuLayout {
  node: string;
  gpuIndex: number;
  mode: GpuMode;
  /** Every slice the GPU must have afterwards (untouched ones included), sorted by start. */
  slices: SliceSnapshot[];
  /** Whole-mode holder afterwards, if any. */
  holder?: Holder;
}

/** An allocation that must be preempted for the placement to go ahead. */
export interface Victim {
  holderKey: string;
  node: string;
  gpuIndex: number;
  /** Profile and start of the displaced slice; absent for a whole GPU. */
  profile?: string;
  start?: number;
  priority: number;
}

/** Machine-readable class of a failed placement. */
export type PlacementFailureCode =
  | 'InvalidRequest'
  | 'UnknownProfile'
  | 'NoMatchingNodes'
  | 'InsufficientCapacity'
  | 'TopologyUnsatisfiable';

/** Outcome of a placement: either every member placed, or nothing changed and a reason. */
export type PlacementResult =
  | {
      ok: true;
      assignments: Assignment[];
      /** Target layouts for every GPU whose layout changes. */
      layouts: GpuLayout[];
      /** Holders that must be preempted first (empty without `mayPreempt`). */
      victims: Victim[];
    }
  | {
      ok: false;
      code: PlacementFailureCode;
      /** A sentence a user can act on, e.g. "needs 4 × 7g.180gb in one clique; best clique has 3 idle GPUs". */
      message: string;
    };

/** One step of a defragmentation plan: move an idle (not in-use) slice or preempt a holder. */
export interface DefragMove {
  action: 'move' | 'preempt' | 'destroy';
  holderKey?: string;
  node: string;
  gpuIndex: number;
  profile: string;
  start: number;
  /** For `move`: where the slice goes. */
  to?: { node: string; gpuIndex: number; start: number };
}

/** A plan that, once carried out, lets `request` fit. */
export type DefragPlan =
  | { ok: true; moves: DefragMove[]; /** Placement of the request after the moves. */ placement: PlacementResult & { ok: true } }
  | { ok: false; message: string };
