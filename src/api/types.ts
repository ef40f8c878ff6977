/**
 * TypeScript shapes of the Haein custom resources (group gpu.haein.dev, version v1alpha1).
 * The CRD YAML in `crds/` is the schema of record; these types mirror it field by field.
 */

/** Standard Kubernetes condition (metav1.Condition). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  /** PascalCase machine-readable reason. */
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Minimal object metadata used by the operator. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
  ownerReferences?: Array<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }>;
}

/** Reference from a realised or target slice to the claim that holds it. */
export interface ClaimRef {
  kind: 'GpuPartition' | 'TrainingJob';
  namespace: string;
  name: string;
  uid: string;
  /** Slice index within a partition, or worker rank within a job. */
  slot: number;
  /** Priority copied from the claimant so the engine can reason about preemption without lookups. */
  priority: number;
  /** Whether higher-priority requests may preempt this claim. */
  preemptible: boolean;
  /** The GpuTenant charged for the claim (the namespace's tenant at admission); absent for a namespace in none. */
  tenant?: string;
  /** Admitted on quota borrowed from the tenant's cohort: reclaimed first when a lender needs its quota back. */
  borrowed?: boolean;
  /** When the admission cycle placed the claim (RFC 3339 with milliseconds); metering counts from here. */
  allocatedAt?: string;
}

// ---------------------------------------------------------------- GpuNode (cluster-scoped)

/** A slice in a node's target layout (spec, written by the operator). */
export interface TargetSlice {
  profile: string;
  /** First memory slot, 0–7. */
  start: number;
  /** Claim this slice is reserved for; absent for a pre-carved free slice. */
  claim?: ClaimRef;
}

/** Target state of one GPU (spec, written by the operator). */
export interface TargetGpu {
  index: number;
  mode: 'mig' | 'whole';
  /** MIG instances when mode is `mig`. */
  slices: TargetSlice[];
  /** Claim holding the whole GPU when mode is `whole`. */
  claim?: ClaimRef;
}

/** Spec of a GpuNode: the target layout. Owned by the operator. */
export interface GpuNodeSpec {
  /** GPUs whose layout the operator manages; a GPU absent here keeps its realised layout. */
  gpus?: TargetGpu[];
}

/** The pod holding a realised device, as the kubelet's PodResources API reports it (it carries no uid). */
export interface PodRef {
  namespace: string;
  name: string;
  uid?: string;
}

/** A slice the node agent has actually realised (status). */
export interface RealisedSlice {
  profile: string;
  start: number;
  /** MIG device UUID, `MIG-xxxxxxxx-…`. */
  uuid: string;
  /** Device ID advertised to the kubelet through the device plugin. */
  deviceId: string;
  /** True while a container holds the device. */
  inUse: boolean;
  /** The pod whose container holds the device, when the agent knows it. */
  pod?: PodRef;
}

/** A GPU as the node agent sees it (status). */
export interface RealisedGpu {
  index: number;
  /** `GPU-xxxxxxxx-…`. */
  uuid: string;
  mode: 'mig' | 'whole';
  health: 'Healthy' | 'Unhealthy';
  slices: RealisedSlice[];
  /** Whole mode: the device ID advertised as `nvidia.com/gpu`. */
  deviceId?: string;
  /** Whole mode: true while a container holds the GPU. */
  inUse?: boolean;
  /** Whole mode: the pod whose container holds the GPU, when the agent knows it. */
  pod?: PodRef;
}

/** Hardware inventory reported by the node agent. */
export interface GpuInventory {
  /** `nvidia.com/gpu.product` value, e.g. `NVIDIA-B200`. */
  product: string;
  gpuCount: number;
  /** Memory per GPU in MiB. */
  memoryMiB: number;
  migCapable: boolean;
  /** NVLink domain, `<clusterUUID>.<cliqueID>`. */
  clique?: string;
}

/** Status of a GpuNode: what is real. Owned by the node agent. */
export interface GpuNodeStatus {
  /** `metadata.generation` of the spec the agent last acted on. */
  observedGeneration?: number;
  inventory?: GpuInventory;
  gpus?: RealisedGpu[];
  /** Conditions: `LayoutRealised` (reasons Realised, Reconfiguring, IllegalLayout, SliceInUse), `AgentReady`. */
  conditions?: Condition[];
  /** The last reconfiguration: when it started and finished, and how long it took. */
  lastReconfiguration?: {
    generation: number;
    startedAt: string;
    finishedAt: string;
    durationSeconds: number;
  };
}

/** GpuNode: one per GPU node, named after the Kubernetes node. */
export interface GpuNode {
  apiVersion: 'gpu.haein.dev/v1alpha1';
  kind: 'GpuNode';
  metadata: ObjectMeta;
  spec?: GpuNodeSpec;
  status?: GpuNodeStatus;
}

// ---------------------------------------------------------------- GpuPartition (namespaced)

/** Spec of a GpuPartition: a tenant's reservation of `count` slices of one profile. */
export interface GpuPartitionSpec {
  /** Exact MIG profile, e.g. `3g.90gb`. Mutually exclusive with `memory`/`computeSlices`. */
  profile?: string;
  /** Minimum memory per slice as a Kubernetes quantity (e.g. `40Gi`). */
  memory?: string;
  /** Minimum compute slices per slice (1–7). */
  computeSlices?: number;
  /** Number of slices; default 1; 0 holds none. Written by the operator too when `autoscale` is set. */
  count?: number;
  /** Allowed `nvidia.com/gpu.product` values. */
  gpuProducts?: string[];
  /** Node labels that must all match. */
  nodeSelector?: Record<string, string>;
  /** Priority; higher wins. Default 0. */
  priority?: number;
  /** `Never` (default) or `PreemptLowerPriority`. */
  preemptionPolicy?: 'Never' | 'PreemptLowerPriority';
  /** Whether higher-priority requests may preempt this partition. Default false. */
  preemptible?: boolean;
  /** Elastic partition: the operator keeps `count` equal to what the consuming pods need, within these bounds. */
  autoscale?: PartitionAutoscale;
}

/** Bounds of an elastic partition's `count`. */
export interface PartitionAutoscale {
  /** Fewest slices held, even without consuming pods; default 1 (0 scales to zero). */
  min?: number;
  /** Most slices held, however many pods consume the partition. */
  max: number;
  /** How long slices stay idle before the operator releases them; default 300. */
  scaleDownDelaySeconds?: number;
}

/** One slice held by a partition. */
export interface PartitionAllocation {
  slot: number;
  node: string;
  gpuIndex: number;
  gpuUuid?: string;
  profile: string;
  start: number;
  /** MIG device UUID once the node reports the slice realised. */
  uuid?: string;
  deviceId?: string;
  realised: boolean;
  inUse: boolean;
}

/** Lifecycle phase of a GpuPartition. */
export type GpuPartitionPhase = 'Pending' | 'Allocating' | 'Ready' | 'Failed' | 'Terminating';

/** Status of a GpuPartition. Owned by the operator. */
export interface GpuPartitionStatus {
  observedGeneration?: number;
  phase?: GpuPartitionPhase;
  /** Profile chosen (equal to spec.profile, or resolved from memory/computeSlices). */
  profile?: string;
  /** Extended resource pods request, e.g. `nvidia.com/mig-3g.90gb`. */
  resourceName?: string;
  allocations?: PartitionAllocation[];
  /** Slices held in the ledger (the scale subresource's status replicas). */
  replicas?: number;
  /** Label selector of the consuming pods, `gpu.haein.dev/partition=<name>` (the scale subresource's selector). */
  selector?: string;
  /** What the autoscaler saw and decided; present while `spec.autoscale` is set. */
  autoscale?: PartitionAutoscaleStatus;
  /** Conditions `Allocated`, `Ready`, and `Autoscaled` while `spec.autoscale` is set. */
  conditions?: Condition[];
}

/** The autoscaler's observations and its pending scale-down (kept in status, so it survives a restart). */
export interface PartitionAutoscaleStatus {
  /** Live pods consuming the partition (gated or admitted, not finished, not being deleted). */
  consumers: number;
  /** Slices the count should hold now: what the consumers need, within min and max, never below slices in use. */
  desiredCount: number;
  /** When the operator last changed `spec.count`. */
  lastScaleTime?: string;
  /** Since when `count` has been above `desiredCount` (the scale-down delay counts from here). */
  scaleDownSince?: string;
  /** The most slices needed since `scaleDownSince`: what `count` goes down to once the delay has passed. */
  scaleDownTo?: number;
  /** The cluster had no room for the whole growth: `count` grows one slice at a time until it reaches `desiredCount`. */
  stepwise?: boolean;
}

/** GpuPartition resource. */
export interface GpuPartition {
  apiVersion: 'gpu.haein.dev/v1alpha1';
  kind: 'GpuPartition';
  metadata: ObjectMeta;
  spec: GpuPartitionSpec;
  status?: GpuPartitionStatus;
}

// ---------------------------------------------------------------- TrainingJob (namespaced)

/** Spec of a TrainingJob: a gang of workers placed all-or-nothing. */
export interface TrainingJobSpec {
  replicas: number;
  /** Whole GPUs per worker (MIG disabled). Exactly one of gpusPerWorker/profile. */
  gpusPerWorker?: number;
  /** One MIG slice of this profile per worker. */
  profile?: string;
  /** Pod template of every worker (`core/v1 PodTemplateSpec`). */
  template: { metadata?: ObjectMeta; spec: Record<string, unknown> };
  /** `sameNode`, `sameClique` or `any` (default). */
  topology?: 'sameNode' | 'sameClique' | 'any';
  priority?: number;
  /** Gang restarts allowed before the job fails; default 3. */
  backoffLimit?: number;
  /** `RestartGang` (default): a failed worker restarts every worker; `Never`: the job fails. */
  restartPolicy?: 'RestartGang' | 'Never';
  suspend?: boolean;
  /** Rendezvous port; default 29500. */
  masterPort?: number;
  gpuProducts?: string[];
  nodeSelector?: Record<string, string>;
}

/** Lifecycle phase of a TrainingJob. */
export type TrainingJobPhase = 'Pending' | 'Placing' | 'Running' | 'Succeeded' | 'Failed' | 'Suspended';

/** Per-worker status. */
export interface WorkerStatus {
  rank: number;
  node?: string;
  gpuIndices?: number[];
  /** Device UUIDs (GPU or MIG) the worker received. */
  devices?: string[];
  pod?: string;
  phase?: string;
}

/** Status of a TrainingJob. Owned by the operator. */
export interface TrainingJobStatus {
  observedGeneration?: number;
  phase?: TrainingJobPhase;
  workers?: WorkerStatus[];
  restarts?: number;
  startTime?: string;
  completionTime?: string;
  /** Conditions `Placed`, `Running`, `Succeeded`, `Failed`, `Suspended`. */
  conditions?: Condition[];
}

/** TrainingJob resource. */
export interface TrainingJob {
  apiVersion: 'gpu.haein.dev/v1alpha1';
  kind: 'TrainingJob';
  metadata: ObjectMeta;
  spec: TrainingJobSpec;
  status?: TrainingJobStatus;
}

// ---------------------------------------------------------------- GpuTenant (cluster-scoped)

/** A label selector (metav1.LabelSelector). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

/** A cap on the slices of one MIG profile a tenant holds. */
export interface ProfileLimit {
  profile: string;
  max: number;
}

/** Spec of a GpuTenant: its namespaces, quota in GPU-equivalents, cohort and fair-share weight. */
export interface GpuTenantSpec {
  /** Namespaces owned by name. */
  namespaces?: string[];
  /** Namespaces owned by their labels. */
  namespaceSelector?: LabelSelector;
  /** Tenants of a cohort lend each other unused nominal quota. */
  cohort?: string;
  /** Guaranteed quota in GPU-equivalents (a slice counts compute slices / 7, a whole GPU 1). */
  nominal: number;
  /** Most GPU-equivalents used above nominal; absent: no cap but the cohort's idle quota. */
  borrowingLimit?: number;
  /** Most of the unused nominal quota lent to the cohort; absent: all of it. */
  lendingLimit?: number;
  /** Fair-share weight; default 1. */
  weight?: number;
  /** Per-profile caps on slices held at once. */
  profileLimits?: ProfileLimit[];
}

/** A namespace that more than one tenant claims. */
export interface TenantConflict {
  namespace: string;
  tenants: string[];
}

/** A tenant's use of one profile (`whole` for whole GPUs). */
export interface ProfileUsage {
  profile: string;
  slices: number;
  gpuEquivalents: number;
}

/** A tenant's settled use of one profile (`whole` for whole GPUs) since its metering began. */
export interface MeteredProfile {
  profile: string;
  sliceSeconds: number;
  gpuEquivalentSeconds: number;
}

/**
 * A tenant's settled usage since its metering began, as its latest GpuUsage record has it (a mirror for people
 * and dashboards; the records are the source of truth).
 */
export interface TenantMetering {
  /** When the tenant's first metered claim was allocated. */
  since?: string;
  /** Usage up to this instant is settled. */
  settledThrough?: string;
  /** The GpuUsage record the figures come from. */
  record?: string;
  /** Slice-seconds (a whole GPU counts as one slice of profile `whole`). */
  sliceSeconds?: number;
  /** GPU-equivalent-seconds (a slice counts compute slices / 7, a whole GPU 1). */
  gpuEquivalentSeconds?: number;
  /** The same, per profile. */
  profiles?: MeteredProfile[];
}

/** Status of a GpuTenant. Owned by the operator. */
export interface GpuTenantStatus {
  observedGeneration?: number;
  /** Resolved namespaces (conflicting ones included). */
  namespaces?: string[];
  conflicts?: TenantConflict[];
  /** GPU-equivalents held now. */
  used?: number;
  /** Held above nominal. */
  borrowed?: number;
  /** Of the unused nominal, what other cohort members use now. */
  lent?: number;
  /** Requests waiting to be placed. */
  waiting?: number;
  usageByProfile?: ProfileUsage[];
  /** Settled usage (metering), mirrored from the tenant's GpuUsage records after each settlement. */
  metering?: TenantMetering;
  conditions?: Condition[];
}

/** GpuTenant resource. */
export interface GpuTenant {
  apiVersion: 'gpu.haein.dev/v1alpha1';
  kind: 'GpuTenant';
  metadata: ObjectMeta;
  spec: GpuTenantSpec;
  status?: GpuTenantStatus;
}

// ---------------------------------------------------------------- GpuUsage (cluster-scoped)

/** A tenant's slice-milliseconds in one namespace and profile before a record's day (part of its opening balance). */
export interface NamespaceUsageTotal {
  namespace: string;
  /** MIG profile (a `+me` slice under its base profile), or `whole` for whole GPUs. */
  profile: string;
  sliceMilliseconds: number;
  /** The last UTC day (`yyyy-mm-dd`) with usage in this namespace and profile. */
  lastUsed: string;
}

/** A tenant's slice-milliseconds of one profile before a record's day, over every namespace it ever used. */
export interface ProfileUsageTotal {
  profile: string;
  sliceMilliseconds: number;
}

/** What a tenant had used before a record's day: carried from the previous record when this one was created. */
export interface UsageOpening {
  /** When the tenant's metering began (its first record's `openedAt`). */
  since: string;
  /** Per namespace and profile; namespaces unused for the retention period are dropped. */
  namespaces?: NamespaceUsageTotal[];
  /** Per profile, over every namespace ever (never dropped). */
  profiles?: ProfileUsageTotal[];
}

/** Spec of a GpuUsage: whose day it is and its opening balance. Written once by the operator, then immutable. */
export interface GpuUsageSpec {
  tenant: string;
  /** UTC day, `yyyy-mm-dd`. */
  date: string;
  /** Usage is recorded from here: the day's midnight, or the first allocation for a tenant's first record. */
  openedAt: string;
  opening: UsageOpening;
}

/** Slice-milliseconds per UTC hour of the record's day, in one namespace and profile. */
export interface HourlyUsage {
  namespace: string;
  profile: string;
  /** 24 entries, one per UTC hour (index 0 = 00:00–01:00). */
  sliceMilliseconds: number[];
}

/** Status of a GpuUsage: the day's usage settled so far. Written only by the operator's metering. */
export interface GpuUsageStatus {
  /** Usage before this instant is in `usage`; absent: nothing settled yet (the record starts at `openedAt`). */
  settledThrough?: string;
  usage?: HourlyUsage[];
  /** The day's slice-hours so far (display; derived from `usage`). */
  sliceHours?: number;
  /** The day's GPU-equivalent-hours so far (display; derived from `usage`). */
  gpuEquivalentHours?: number;
}

/** GpuUsage: one tenant's metered usage of one UTC day, named `<tenant>.<yyyy-mm-dd>`. */
export interface GpuUsage {
  apiVersion: 'gpu.haein.dev/v1alpha1';
  kind: 'GpuUsage';
  metadata: ObjectMeta;
  spec: GpuUsageSpec;
  status?: GpuUsageStatus;
}
