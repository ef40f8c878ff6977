/**
 * One guarded write of a GpuNode's target layout (its spec, the allocation ledger). The write is a JSON Patch
 * that first tests the node's `uid` and `metadata.generation` against the version the edit was planned on, then
 * sets `spec`. The API server bumps `generation` on every spec change and never on a status write, so:
 * - any other ledger writer (a second operator replica, a leader that lost its Lease while paused) that changed
 *   the node since makes the test fail and the write is refused — the fence against stale writers;
 * - the node agent's status reports, which change the resourceVersion but not the generation, do not conflict.
 */
import type { GpuNode } from '../api/types.js';
import { isConflict, isNotFound, isTestFailed } from '../k8s/errors.js';
import { RESOURCES } from '../k8s/resources.js';
import type { ClientPort } from '../runtime/ports.js';

/** A ledger write refused because the node changed since the version it was planned on (or is gone). */
export class LedgerConflict extends Error {
  /** HTTP-like code so that `isConflict` treats it as a 409. */
  readonly code = 409;
  readonly reason = 'Conflict';
  /** The node as it is now, when it was read to tell the conflict apart (undefined: gone, or not read). */
  readonly current: GpuNode | undefined;

  constructor(node: string, cause: unknown, current?: GpuNode) {
    super(`GpuNode ${node} changed since it was planned on; the write was refused`, { cause });
    this.name = 'LedgerConflict';
    this.current = current;
  }
}

/**
 * Writes `edited.spec` to the node, guarded by `base`'s uid and generation. Resolves to the node as written;
 * rejects with a {@link LedgerConflict} when the node changed (or was deleted) since `base`, and with a wrapped
 * error otherwise.
 */
export async function writeLedgerNode(client: ClientPort, edited: GpuNode, base: GpuNode, signal?: AbortSignal): Promise<GpuNode> {
  const name = edited.metadata.name as string;
  const ops = [
    { op: 'test' as const, path: '/metadata/uid', value: base.metadata.uid },
    { op: 'test' as const, path: '/metadata/generation', value: base.metadata.generation ?? 1 },
    // `add` replaces an existing member and creates a missing one (a node the agent created without a spec).
    { op: 'add' as const, path: '/spec', value: edited.spec ?? {} },
  ];
  try {
    return await client.jsonPatch<GpuNode>(RESOURCES.gpuNode, name, ops, undefined, signal ? { signal } : {});
  } catch (err) {
    if (isConflict(err) || isNotFound(err)) throw new LedgerConflict(name, err);
    if (isInvalid(err)) {
      // A failed test answers a bare 422 "Invalid", as a spec the schema refuses would: the node tells which.
      const current = await client.get<GpuNode>(RESOURCES.gpuNode, name).catch(() => undefined);
      if (!current || current.metadata.uid !== base.metadata.uid || (current.metadata.generation ?? 1) !== (base.metadata.generation ?? 1)) {
        throw new LedgerConflict(name, err, current);
      }
    }
    throw new Error(`writing target layout of GpuNode ${name}`, { cause: err });
  }
}

function isInvalid(err: unknown): boolean {
  return isTestFailed(err) || (err as { code?: unknown } | undefined)?.code === 422;
}
