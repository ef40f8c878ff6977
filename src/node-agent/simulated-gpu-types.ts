/** A MIG GPU instance that exists on a simulated GPU. */
export interface SimSlice {
  profile: string;
  /** First memory slot. */
  start: number;
  /** `MIG-…` UUID; also the device ID advertised to the kubelet. */
  uuid: string;
}

/** One simulated GPU. */
export interface SimGpu {
  index: number;
  /** `GPU-…` UUID; the device ID advertised in whole mode. */
  uuid: string;
  mode: 'mig' | 'whole';
  health: 'Healthy' | 'Unhealthy';
  slices: SimSlice[];
}

/** Contents of the state file: the hardware as it is. */
export interface SimState {
  version: 1;
  node: string;
  product: string;
  gpus: SimGpu[];
}

/** One device a container holds, recorded with enough detail to rebuild the slice. */
export interface HeldDevice {
  deviceId: string;
  gpu: number;
  /** MIG profile and start; absent for a whole GPU. */
  profile?: string;
  start?: number;
  /**
   * The pod holding it, when the agent assigns devices itself (kubelet-less nodes): kept across restarts, as a
   * kubelet's checkpoint keeps it, so a running pod never changes device.
   */
  pod?: { namespace: string; name: string; uid?: string };
}

/** Contents of the in-use journal (a second file next to the state file). */
export interface InUseJournal {
  version: 1;
  node: string;
  held: HeldDevice[];
}
