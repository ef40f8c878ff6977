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
