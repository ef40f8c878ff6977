import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository-relative locations of the `.proto` files the agent loads. */
export const PROTO_FILES = {
  devicePlugin: 'deviceplugin/v1beta1/api.proto',
  podResources: 'podresources/v1/api.proto',
} as const;

/**
 * Directory holding the `proto/` tree. The module runs from `src/device-plugin/` under ts-jest and from
 * `dist/src/device-plugin/` when built, so walk up from this file until a `proto/` directory with the
 * device-plugin API appears. `HAEIN_PROTO_DIR` overrides the search (e.g. for an unusual image layout).
 */
export function protoDir(): string {
  const override = process.env.HAEIN_PROTO_DIR;
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, PROTO_FILES.devicePlugin))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find proto/${PROTO_FILES.devicePlugin} above ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
}
