import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { PROTO_FILES, protoDir } from './proto-path.js';

// keepCase keeps the wire field names (`devices_ids`, `ID`) so the TypeScript shapes below match them 1:1.
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

/** A loaded gRPC service: its definition (for servers) and client constructor. */
export interface LoadedService {
  definition: grpc.ServiceDefinition;
  client: grpc.ServiceClientConstructor;
}

let devicePluginCache: { registration: LoadedService; devicePlugin: LoadedService } | undefined;
let podResourcesCache: LoadedService | undefined;

function serviceAt(pkg: grpc.GrpcObject, path: string[]): LoadedService {
  let node: unknown = pkg;
  for (const part of path) node = (node as Record<string, unknown>)[part];
  const ctor = node as grpc.ServiceClientConstructor | undefined;
  if (!ctor || typeof ctor !== 'function' || !ctor.service) {
    throw new Error(`service ${path.join('.')} missing from the loaded proto`);
  }
  return { definition: ctor.service, client: ctor };
}

/** The kubelet `v1beta1.Registration` and `v1beta1.DevicePlugin` services. */
export function devicePluginServices(): { registration: LoadedService; devicePlugin: LoadedService } {
  if (!devicePluginCache) {
    const def = protoLoader.loadSync(join(protoDir(), PROTO_FILES.devicePlugin), LOADER_OPTIONS);
    const pkg = grpc.loadPackageDefinition(def);
    devicePluginCache = {
      registration: serviceAt(pkg, ['v1beta1', 'Registration']),
      devicePlugin: serviceAt(pkg, ['v1beta1', 'DevicePlugin']),
    };
  }
  return devicePluginCache;
}

/** The kubelet `v1.PodResourcesLister` service. */
export function podResourcesService(): LoadedService {
  if (!podResourcesCache) {
    const def = protoLoader.loadSync(join(protoDir(), PROTO_FILES.podResources), LOADER_OPTIONS);
    podResourcesCache = serviceAt(grpc.loadPackageDefinition(def), ['v1', 'PodResourcesLister']);
  }
  return podResourcesCache;
}

/** gRPC target string for a unix socket path. */
export function unixTarget(socketPath: string): string {
  return `unix://${socketPath}`;
}
