import * as grpc from '@grpc/grpc-js';
import type { ListPodResourcesResponse } from '../../../src/device-plugin/api-types.js';
import { podResourcesService, unixTarget } from '../../../src/device-plugin/grpc-definitions.js';

/** A kubelet PodResources endpoint serving `v1.PodResourcesLister/List` from a mutable table. */
export class FakePodResources {
  /** `namespace/pod/container` → resource → device IDs. */
  readonly containers = new Map<string, Map<string, string[]>>();
  private server: grpc.Server | undefined;

  constructor(readonly socketPath: string) {}

  async start(): Promise<void> {
    const server = new grpc.Server();
    server.addService(podResourcesService().definition, {
      List: (_call: unknown, cb: grpc.sendUnaryData<ListPodResourcesResponse>) => cb(null, this.response()),
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(unixTarget(this.socketPath), grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    this.server = server;
  }

  stop(): void {
    this.server?.forceShutdown();
  }

  /** Records that a container holds `ids` of `resource`. */
  hold(container: string, resource: string, ids: string[]): void {
    const c = this.containers.get(container) ?? new Map<string, string[]>();
    c.set(resource, ids);
    this.containers.set(container, c);
  }

  private response(): ListPodResourcesResponse {
    return {
      pod_resources: [...this.containers].map(([key, resources]) => {
        const [namespace, name, container] = key.split('/');
        return {
          name,
          namespace,
          containers: [{ name: container, devices: [...resources].map(([resource_name, device_ids]) => ({ resource_name, device_ids })) }],
        };
      }),
    };
  }
}
