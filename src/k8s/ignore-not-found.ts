/** 404 handling for writes to objects that may have been deleted meanwhile (normal, not a failure). */
import { isNotFound } from './errors.js';

/** Resolves to the write's result, or `undefined` when the object is gone (404); other errors propagate. */
export async function ignoreNotFound<T>(write: Promise<T>): Promise<T | undefined> {
  try {
    return await write;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
