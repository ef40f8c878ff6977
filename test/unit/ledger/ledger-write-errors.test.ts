/**
 * The guarded ledger write against answers the fake API server does not give by itself: the exact patch sent,
 * a 409 or 404, a server error, a node that cannot be read after a refused patch. (The write against the fake
 * API server: ledger.test.ts.)
 */
import type { GpuNode } from '../../../src/api/types.js';
import { ApiError, isConflict } from '../../../src/k8s/errors.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { LedgerConflict, writeLedgerNode } from '../../../src/ledger/ledger-write.js';
import type { ClientPort } from '../../../src/runtime/ports.js';
import { makeGpuNode } from '../support/builders.js';
import { FakeClient } from '../support/fakes.js';

interface Sent {
  ops: unknown[];
  opts: unknown;
}

/** A FakeClient whose JSON Patch answers `patchError` (when set) and whose get fails when `getFails`. */
function answering(patchError?: unknown, getFails = false) {
  const fake = new FakeClient();
  const base = fake.seed(RESOURCES.gpuNode, makeGpuNode('n1'));
  const sent: Sent[] = [];
  const reads = { count: 0 };
  const client = new Proxy(fake, {
    get(target, prop, receiver) {
      if (prop === 'jsonPatch') {
        return async (ref: unknown, name: string, ops: unknown[], ns: unknown, opts: unknown) => {
          sent.push({ ops, opts });
          if (patchError !== undefined) throw patchError;
          return target.jsonPatch(ref as typeof RESOURCES.gpuNode, name, ops as never, ns as undefined);
        };
      }
      if (prop === 'get') {
        return async (...args: Parameters<FakeClient['get']>) => {
          reads.count++;
          if (getFails) throw new ApiError('GET GpuNode n1: 503', 503);
          return target.get(...args);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as unknown as ClientPort;
  const edited = structuredClone(base);
  edited.spec = { gpus: [{ index: 0, mode: 'whole', slices: [] }] };
  return { client, base, edited, sent, reads };
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('writeLedgerNode patch and answers', () => {
  test("sends one patch testing the base's uid and generation, then setting the spec; passes the abort signal on", async () => {
    const { client, base, edited, sent } = answering();
    const signal = new AbortController().signal;
    const written = await writeLedgerNode(client, edited, base, signal);
    expect(sent).toEqual([
      {
        ops: [
          { op: 'test', path: '/metadata/uid', value: base.metadata.uid },
          { op: 'test', path: '/metadata/generation', value: base.metadata.generation },
          { op: 'add', path: '/spec', value: edited.spec },
        ],
        opts: { signal },
      },
    ]);
    await writeLedgerNode(client, edited, written);
    expect(sent[1]?.opts).toEqual({});
  });

  test('a base without a generation is tested as generation 1, and an edit without a spec writes an empty one', async () => {
    const { client, base, edited, sent } = answering();
    delete base.metadata.generation;
    delete edited.spec;
    const out = await writeLedgerNode(client, edited, base);
    expect(sent[0]?.ops).toEqual([
      { op: 'test', path: '/metadata/uid', value: base.metadata.uid },
      { op: 'test', path: '/metadata/generation', value: 1 },
      { op: 'add', path: '/spec', value: {} },
    ]);
    expect(out.spec).toEqual({});
  });

  test.each([
    ['a 409', new ApiError('PATCH GpuNode n1: 409', 409, { reason: 'Conflict' })],
    ['a 404', new ApiError('PATCH GpuNode n1: 404', 404, { reason: 'NotFound' })],
  ])('%s is a conflict, without reading the node', async (_what, answer) => {
    const { client, base, edited, sent, reads } = answering(answer);
    const err = await failure(writeLedgerNode(client, edited, base));
    expect(err).toBeInstanceOf(LedgerConflict);
    expect(err).toMatchObject({ name: 'LedgerConflict', code: 409, reason: 'Conflict' });
    expect(reads.count).toBe(0);
    expect(isConflict(err)).toBe(true);
    expect((err as LedgerConflict).cause).toBe(answer);
    expect((err as LedgerConflict).current).toBeUndefined();
    expect((err as Error).message).toBe('GpuNode n1 changed since it was planned on; the write was refused');
    expect(sent).toHaveLength(1);
  });

  test('any other error is wrapped with what was being done, not a conflict, without reading the node', async () => {
    const answer = new ApiError('PATCH GpuNode n1: 500', 500);
    const { client, base, edited, reads } = answering(answer);
    const err = (await failure(writeLedgerNode(client, edited, base))) as Error;
    expect(err).not.toBeInstanceOf(LedgerConflict);
    expect(err.message).toBe('writing target layout of GpuNode n1');
    expect(err.cause).toBe(answer);
    expect(reads.count).toBe(0);
  });

  test('a 422 when the node cannot be read back is a conflict (the plan is redone on a fresh read)', async () => {
    const answer = new ApiError('PATCH GpuNode n1: 422', 422, { reason: 'Invalid' });
    const { client, base, edited } = answering(answer, true);
    const err = await failure(writeLedgerNode(client, edited, base));
    expect(err).toBeInstanceOf(LedgerConflict);
    expect((err as LedgerConflict).current).toBeUndefined();
  });

  test('a 422 of any reason with the node unchanged is an error; the node is compared by uid and generation', async () => {
    const answer = new ApiError('PATCH GpuNode n1: 422', 422, { reason: 'SomethingElse' });
    const unchanged = answering(answer);
    expect(await failure(writeLedgerNode(unchanged.client, unchanged.edited, unchanged.base))).not.toBeInstanceOf(LedgerConflict);
    // The node and base both without a generation: both count as 1, unchanged.
    const bare = answering(answer);
    const fake = bare.client as unknown as FakeClient;
    fake.store.get(fake.key(RESOURCES.gpuNode, 'n1'))!.metadata!.generation = undefined;
    delete bare.base.metadata.generation;
    expect(await failure(writeLedgerNode(bare.client, bare.edited, bare.base))).not.toBeInstanceOf(LedgerConflict);
    // The base planned on generation 2 while the node is at 1 (it does not say which way it moved): a conflict.
    const moved = answering(answer);
    const current = (await moved.client.get<GpuNode>(RESOURCES.gpuNode, 'n1'))!;
    moved.base.metadata.generation = 2;
    const err = await failure(writeLedgerNode(moved.client, moved.edited, moved.base));
    expect(err).toBeInstanceOf(LedgerConflict);
    expect((err as LedgerConflict).current).toEqual(current);
  });
});
