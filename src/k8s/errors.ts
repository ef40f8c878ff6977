/**
 * Errors raised by the Kubernetes client and predicates that classify them. The predicates follow the
 * `cause` chain, so an API error wrapped by a caller (`new Error('updating status', { cause })`) is
 * still recognised.
 */

/** A failed Kubernetes API call: HTTP status (0 when no response arrived), the Status reason and body. */
export class ApiError extends Error {
  /** HTTP status code; 0 when the request failed before a response (network, timeout). */
  readonly code: number;
  /** `reason` of the returned `Status` object (e.g. `NotFound`, `Conflict`, `AlreadyExists`, `Expired`). */
  readonly reason?: string;
  /** Parsed response body, when there was one. */
  readonly body?: unknown;

  constructor(message: string, code: number, opts: { reason?: string; body?: unknown; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ApiError';
    this.code = code;
    if (opts.reason !== undefined) this.reason = opts.reason;
    if (opts.body !== undefined) this.body = opts.body;
  }
}

/**
 * A write this process refused to send because it may no longer write as leader: its Lease's renew deadline
 * passed by its own clock (typically a process resumed after a pause). Not an API failure: the new leader redoes
 * the work, so callers drop it quietly.
 */
export class FencedWriteError extends ApiError {
  constructor(method: string, path: string) {
    super(`${method} ${path}: not sent, this replica's leader Lease is no longer valid`, 0, { reason: 'LeaseLost' });
    this.name = 'FencedWriteError';
  }
}

/** True when the error, or one in its `cause` chain, is a {@link FencedWriteError}. */
export function isFencedWrite(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; depth < 10 && cur !== null && typeof cur === 'object'; depth++) {
    if (cur instanceof FencedWriteError) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

/** Status code and reason of an error-like value, or of the first error in its `cause` chain that has one. */
function statusOf(err: unknown): { code: number; reason?: string } | undefined {
  let cur: unknown = err;
  // Bounded walk: a cyclic cause chain must not hang the caller.
  for (let depth = 0; depth < 10 && cur !== null && typeof cur === 'object'; depth++) {
    const e = cur as { code?: unknown; statusCode?: unknown; reason?: unknown; cause?: unknown };
    const code = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
    if (code !== undefined && code > 0) {
      return { code, ...(typeof e.reason === 'string' ? { reason: e.reason } : {}) };
    }
    cur = e.cause;
  }
  return undefined;
}

/** True for 404 Not Found. */
export function isNotFound(err: unknown): boolean {
  return statusOf(err)?.code === 404;
}

/** True for a 409 write conflict (stale resourceVersion), but not for AlreadyExists, which is also a 409. */
export function isConflict(err: unknown): boolean {
  const s = statusOf(err);
  return s?.code === 409 && s.reason !== 'AlreadyExists';
}

/** True for 409 AlreadyExists on create. */
export function isAlreadyExists(err: unknown): boolean {
  const s = statusOf(err);
  return s?.code === 409 && s.reason === 'AlreadyExists';
}

/** True for 410 Gone / Expired: the requested resourceVersion is too old, a relist is needed. */
export function isGone(err: unknown): boolean {
  const s = statusOf(err);
  return s?.code === 410 || s?.reason === 'Expired' || s?.reason === 'Gone';
}

/**
 * True when a JSON Patch `test` operation failed: the object was not in the state the patch expected (the API
 * server answers 422 with "Testing value … failed"). For guarded writes this is a conflict, like a 409.
 */
export function isTestFailed(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; depth < 10 && cur !== null && typeof cur === 'object'; depth++) {
    const e = cur as { code?: unknown; message?: unknown; cause?: unknown };
    if (e.code === 422 && typeof e.message === 'string' && /testing value|test operation/i.test(e.message)) return true;
    cur = e.cause;
  }
  return false;
}

/** True for 422 Unprocessable Entity: the object was refused as invalid (or, bare, a JSON Patch test failed). */
export function isInvalid(err: unknown): boolean {
  return statusOf(err)?.code === 422;
}
