/**
 * TypeScript shapes of the device-plugin v1beta1 and PodResources v1 messages as `@grpc/proto-loader` decodes
 * them with `keepCase` (field names exactly as on the wire).
 */

/** `v1beta1.DevicePluginOptions`. */
export interface DevicePluginOptions {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}

/** `v1beta1.RegisterRequest`. */
export interface RegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  options: DevicePluginOptions;
}

/** `v1beta1.Device`. */
export interface Device {
  ID: string;
  health: 'Healthy' | 'Unhealthy';
  topology?: { nodes: Array<{ ID: number }> };
}

/** `v1beta1.ListAndWatchResponse`. */
export interface ListAndWatchResponse {
  devices: Device[];
}

/** `v1beta1.PreferredAllocationRequest`. */
export interface PreferredAllocationRequest {
  container_requests: Array<{
    available_deviceIDs: string[];
    must_include_deviceIDs: string[];
    allocation_size: number;
  }>;
}

/** `v1beta1.PreferredAllocationResponse`. */
export interface PreferredAllocationResponse {
  container_responses: Array<{ deviceIDs: string[] }>;
}

/** `v1beta1.AllocateRequest`. */
export interface AllocateRequest {
  container_requests: Array<{ devices_ids: string[] }>;
}

/** `v1beta1.ContainerAllocateResponse`. */
export interface ContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: Array<{ container_path: string; host_path: string; read_only: boolean }>;
  devices: Array<{ container_path: string; host_path: string; permissions: string }>;
  annotations: Record<string, string>;
  cdi_devices: Array<{ name: string }>;
}

/** `v1beta1.AllocateResponse`. */
export interface AllocateResponse {
  container_responses: ContainerAllocateResponse[];
}

/** `v1.ListPodResourcesResponse` (only the fields the agent reads). */
export interface ListPodResourcesResponse {
  pod_resources: Array<{
    name: string;
    namespace: string;
    containers: Array<{
      name: string;
      devices: Array<{ resource_name: string; device_ids: string[] }>;
    }>;
  }>;
}

/** Version string a plugin registers with. */
export const DEVICE_PLUGIN_VERSION = 'v1beta1';
/** Socket name of the kubelet's registration service inside the device-plugin directory. */
export const KUBELET_SOCKET = 'kubelet.sock';
/** Default kubelet device-plugin directory. */
export const DEFAULT_DEVICE_PLUGIN_DIR = '/var/lib/kubelet/device-plugins';
/** Default kubelet PodResources socket. */
export const DEFAULT_POD_RESOURCES_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';
