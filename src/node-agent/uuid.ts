import { createHash } from 'node:crypto';

/** Formats 16 bytes of a SHA-256 digest of `parts` as `<prefix>-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
function hashedUuid(prefix: string, parts: Array<string | number>): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
  return `${prefix}-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * UUID of simulated GPU `index` on `node`. Deterministic, so a restarted agent (or one that lost its state file)
 * reports the same GPUs.
 */
export function gpuUuid(node: string, index: number): string {
  return hashedUuid('GPU', ['haein-gpu', node, index]);
}

/**
 * UUID of the MIG device `profile@start` on a GPU. Deterministic in its placement, so a slice re-created at
 * the same place (e.g. after state recovery) keeps its device ID.
 */
export function migUuid(gpu: string, profile: string, start: number): string {
  return hashedUuid('MIG', ['haein-mig', gpu, profile, start]);
}
