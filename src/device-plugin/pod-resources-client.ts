import * as grpc from '@grpc/grpc-js';
import type { PodRef } from '../api/types.js';
import type { ListPodResourcesResponse } from './api-types.js';
import { podResourcesService, unixTarget } from './grpc-definitions.js';

/** Device IDs that containers hold, per extended resource. */
export type HeldDevices = Map<string, Set<string>>;

/** What PodResources says: held device IDs per resource, and the pod holding each device ID. */
export interface PodResourcesReport {
  held: HeldDevices;
  /** Device ID → the pod whose container holds it (PodResources names pods; it carries no uid). */
  pods: Map<string, PodRef>;
}

/** Folds a `List` response into held devices and their pods. Pure. */
export function summarisePodResources(response: ListPodResourcesResponse): PodResourcesReport {
  const held: HeldDevices = new Map();
  const pods = new Map<string, PodRef>();
  for (const pod of response.pod_resources) {
    for (const container of pod.containers) {
      for (const devices of container.devices) {
        const set = held.get(devices.resource_name) ?? new Set<string>();
        for (const id of devices.device_ids) {
          set.add(id);
          pods.set(id, { namespace: pod.namespace, name: pod.name });
        }
        held.set(devices.resource_name, set);
      }
    }
  }
  return { held, pods };
}

/**
 * Reads the kubelet's PodResources API (`v1.PodResourcesLister/List`) to learn which device IDs running
 * containers hold. Allocate carries no pod identity and nothing tells a plugin when a container ends, so this
 * is the agent's source of truth for "in use".
 */
export class PodResourcesClient {
  private readonly client: grpc.Client;

  constructor(socketPath: string) {
    this.client = new (podResourcesService().client)(unixTarget(socketPath), grpc.credentials.createInsecure());
  }

  /** Held device IDs per resource name. Rejects when the kubelet is unreachable. */
  async list(timeoutMs = 3000): Promise<HeldDevices> {
    return (await this.report(timeoutMs)).held;
  }

  /** Held device IDs per resource name and the pod holding each. Rejects when the kubelet is unreachable. */
  async report(timeoutMs = 3000): Promise<PodResourcesReport> {
    const deadline = new Date(Date.now() + timeoutMs);
    const response = await new Promise<ListPodResourcesResponse>((resolve, reject) =>
      (this.client as unknown as {
        List: (r: object, o: grpc.CallOptions, cb: (e: Error | null, v?: ListPodResourcesResponse) => void) => void;
      }).List({}, { deadline }, (err, value) => (err || !value ? reject(err ?? new Error('empty response')) : resolve(value))),
    );
    return summarisePodResources(response);
  }

  /** Closes the channel. */
  close(): void {
    this.client.close();
  }
}
