/**
 * The slice map as JSON: what the operator's slice map server sends and the page (and `kubectl haein map`)
 * draws. Types only, so that the browser bundle can share them. Changing a field changes the wire format of
 * `/api/slice-map` and its server-sent events.
 */

/**
 * What a slice is doing now:
 * - `in-use`: a container holds the device;
 * - `allocated`: reserved for a claim, realised, idle;
 * - `realising`: in the target layout, not yet created by the node agent;
 * - `free`: carved (realised) but reserved for nobody;
 * - `removing`: realised but no longer in the target layout (the agent is destroying it).
 */
export type SliceState = 'in-use' | 'allocated' | 'realising' | 'free' | 'removing';

/** Every slice state, in the order the page's legend lists them. */
export const SLICE_STATES: readonly SliceState[] = ['in-use', 'allocated', 'realising', 'free', 'removing'];

/** The claim a slice or whole GPU is reserved for. */
export interface HolderView {
  kind: 'GpuPartition' | 'TrainingJob';
  namespace: string;
  name: string;
  /** Slice index within the partition, or worker rank within the job. */
  slot: number;
  priority: number;
  /**
   * The GpuTenant the claim is charged to. A claim written before tenancy existed (it carries no `allocatedAt`)
   * names none: it shows its namespace's tenant now, with `tenantByNamespace`. Absent: no tenant.
   */
  tenant?: string;
  /** `tenant` was resolved from the namespace, not read from the claim: shown, but nothing is charged for it. */
  tenantByNamespace?: true;
  /** Held on quota borrowed from the tenant's cohort: reclaimed first when a lender needs its quota back. */
  borrowed?: true;
}

/** One MIG slice, or a whole GPU drawn as one slice spanning every memory slot (`profile: 'whole'`). */
export interface SliceView {
  /** MIG profile, or `whole` for a GPU in whole mode. */
  profile: string;
  /** First memory slot. */
  start: number;
  /** Memory slots it covers. */
  size: number;
  state: SliceState;
  holder?: HolderView;
  /** MIG (or GPU) device UUID once realised. */
  uuid?: string;
  /** Pods (`namespace/name`) holding the device, or admitted to the holder on this node when the agent has not said which device each pod got. */
  pods: string[];
  /** When the holder was allocated (its `Allocated`/`Placed` condition), RFC 3339. */
  since?: string;
}

/** One GPU of a node. */
export interface GpuView {
  index: number;
  /** `GPU-…` UUID, once the agent reported it. */
  uuid?: string;
  mode: 'mig' | 'whole';
  healthy: boolean;
  /** Memory slots of the GPU (8 on Blackwell). */
  slots: number;
  /** Slices by start slot; uncovered slots are uncarved free memory. */
  slices: SliceView[];
  /** The target layout differs from what the agent realised. */
  reconfiguring: boolean;
}

/** One GPU node. */
export interface NodeView {
  name: string;
  /** `nvidia.com/gpu.product`, e.g. `NVIDIA-B200`. */
  product: string;
  /** NVLink domain. */
  clique?: string;
  /** False when the node gets no new slices. */
  schedulable: boolean;
  /** Why the node is not schedulable (cordoned, NotReady, no Node object, agent not ready). */
  unschedulableReason?: string;
  gpus: GpuView[];
}

/** A request waiting for capacity (a GpuPartition or TrainingJob) or a pod waiting at the partition gate. */
export interface PendingView {
  kind: 'GpuPartition' | 'TrainingJob' | 'Pod';
  namespace: string;
  name: string;
  /** Place in the operator's queue (1 = next), for partitions and jobs. */
  position?: number;
  priority?: number;
  /** What it asks for, e.g. `2 × 3g.90gb` or `2 × 8 whole GPUs, sameClique`. */
  wants: string;
  /** Condition reason (PascalCase). */
  reason: string;
  /** Condition message: why it waits. */
  message: string;
  /** `metadata.creationTimestamp`. */
  created?: string;
  /** The GpuTenant its namespace belongs to now (absent: none, or two tenants claim the namespace). */
  tenant?: string;
  /**
   * Its `QuotaReserved` condition, where tenant quotas apply. `reserved: false` is a quota wait: `reason` and
   * `message` above are then the quota's.
   */
  quota?: { reserved: boolean; reason: string; message: string };
}

/** A GpuTenant's quota and use as its spec and the operator's status say (GPU-equivalents). */
export interface TenantFigures {
  name: string;
  cohort?: string;
  /** Guaranteed quota. */
  nominal: number;
  /** Most used above nominal; absent: whatever the cohort has idle. */
  borrowingLimit?: number;
  /** Most of its unused nominal lent to the cohort; absent: all of it. */
  lendingLimit?: number;
  /** Fair-share weight. */
  weight: number;
  /** False until the operator has written the tenant's status (the figures below are then 0). */
  reported: boolean;
  used: number;
  /** Used above nominal, on the cohort's quota. */
  borrowed: number;
  /** Of its unused nominal, what other cohort members use now. */
  lent: number;
  /** Requests waiting to be placed. */
  waiting: number;
  /** Slices (or whole GPUs, profile `whole`) held and their GPU-equivalents, by profile. */
  byProfile: Array<{ profile: string; slices: number; gpuEq: number }>;
  /** Caps on slices held at once, by profile. */
  profileLimits: Array<{ profile: string; max: number }>;
  /** Namespaces it owns. */
  namespaces: string[];
  /** Of those, namespaces another tenant claims too (their requests get no quota). */
  conflicts: string[];
}

/** A tenant on the map: its figures, and what the map draws for it. */
export interface TenantView extends TenantFigures {
  /** Slices and whole GPUs on the map whose claim names this tenant. */
  held: number;
  /** Of those, held on borrowed quota. */
  heldBorrowed: number;
}

/** A finished or running reconfiguration of one node's layout. */
export interface ReconfigurationView {
  node: string;
  /** GpuNode generation the agent realised (or is realising). */
  generation: number;
  /** True while the agent has not caught up with the target layout. */
  inProgress: boolean;
  startedAt?: string;
  finishedAt?: string;
  durationSeconds?: number;
}

/** Slices and GPUs per state, over the whole map. */
export interface SliceMapTotals {
  nodes: number;
  gpus: number;
  slices: Record<SliceState, number>;
  /** Memory slots of healthy GPUs carrying no slice at all (free to carve). */
  uncarvedSlots: number;
  /** Slices and whole GPUs held on quota borrowed from a cohort. */
  borrowed: number;
}

/** The whole map. */
export interface SliceMapModel {
  /** When the model was built, RFC 3339. */
  generatedAt: string;
  /** False until every cache the map is built from has listed once. */
  synced: boolean;
  /** Nodes by name. */
  nodes: NodeView[];
  /** Waiting requests in queue order, then gated pods. */
  pending: PendingView[];
  /** GpuTenants by name (empty where none exist). */
  tenants: TenantView[];
  /** Running reconfigurations, then the most recent finished ones. */
  reconfigurations: ReconfigurationView[];
  /** Per GPU model: share of free memory stranded on partly used GPUs (0–1). */
  fragmentation: Array<{ model: string; ratio: number }>;
  totals: SliceMapTotals;
}

/** A change to the map: replaced or added nodes, removed node names, and the small sections in full. */
export interface SliceMapPatch extends Omit<SliceMapModel, 'nodes'> {
  nodes: NodeView[];
  removed: string[];
}
