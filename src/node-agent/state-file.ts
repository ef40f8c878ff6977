import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Outcome of reading a JSON state file. */
export type LoadResult<T> =
  | { kind: 'missing' }
  | { kind: 'ok'; value: T }
  /** Unreadable or invalid: the file was moved to `movedTo` for inspection. */
  | { kind: 'corrupt'; problem: string; movedTo: string };

/**
 * Writes `value` as JSON so that a crash leaves either the old or the new file, never a torn one: write a
 * temporary file in the same directory, fsync it, then rename it over the target.
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(`${JSON.stringify(value, null, 1)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/**
 * Reads a JSON file and checks it with `validate` (returns a problem description, or undefined when valid).
 * A file that does not parse or validate is renamed to `<path>.corrupt-<epoch ms>` so the caller can start
 * cleanly while the bad file stays available for inspection.
 */
export async function readJsonFile<T>(path: string, validate: (v: unknown) => string | undefined): Promise<LoadResult<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw new Error(`reading state file ${path}`, { cause: err });
  }
  let problem: string | undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
    problem = validate(value);
  } catch (err) {
    problem = `invalid JSON: ${(err as Error).message}`;
  }
  if (problem === undefined) return { kind: 'ok', value: value as T };
  const movedTo = `${path}.corrupt-${Date.now()}`;
  await rename(path, movedTo);
  return { kind: 'corrupt', problem, movedTo };
}
