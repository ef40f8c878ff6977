import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Outcome of reading a JSON state file. */
export type LoadResult<T> =
  | { kind: 'missing' }
  | { kind: 'ok'; value: T }
  /** Unreadable or invalid: the file was moved to `movedTo` for inspection. */
  | { kind: 'corrupt'; problem: string; movedTo: string };

let tmpCounter = 0;

/** Marker between a target file's name and the unique suffix of its temporary files. */
const TMP_MARK = '.tmp-';

/**
 * Writes `value` as JSON so that a crash leaves either the old or the new file, never a torn one: write a
 * temporary file in the same directory, fsync it, rename it over the target, then fsync the directory so the
 * rename itself survives a power loss. Every call uses its own temporary file, so concurrent writes of one
 * path cannot truncate or rename each other's file; the last rename wins. The value is serialised before the
 * first await: later changes to it do not leak into this write.
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = `${JSON.stringify(value, null, 1)}\n`;
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}${TMP_MARK}${process.pid}-${++tmpCounter}-${randomBytes(4).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new Error(`writing ${path}`, { cause: err });
  }
  await syncDirectory(dir);
}

/** fsync of a directory: makes a rename inside it durable. Filesystems that cannot sync directories are skipped. */
async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw new Error(`syncing directory ${dir}`, { cause: err });
  } finally {
    await fh.close();
  }
}

/** Removes temporary files a crashed {@link writeJsonAtomic} of `path` left behind. Returns their names. */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const prefix = `${basename(path)}${TMP_MARK}`;
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`listing ${dirname(path)}`, { cause: err });
  }
  const stale = names.filter((n) => n.startsWith(prefix));
  for (const n of stale) await rm(join(dirname(path), n), { force: true });
  return stale;
}

/**
 * One JSON file kept equal to a value that changes: writes run one at a time, in call order, each taking the
 * value at the moment it starts. A call made while a write is still waiting joins that write (it will carry
 * the newer value anyway), so a burst of changes costs at most two writes. Each call resolves once the file
 * holds a value at least as new as the one at call time.
 */
export class SerialJsonFile {
  #tail: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;

  /** `current` returns the value to write; it is called when a write starts. */
  constructor(
    readonly path: string,
    private readonly current: () => unknown,
  ) {}

  /** Queues a write of the current value (or joins the one already waiting). */
  write(): Promise<void> {
    if (this.#queued) return this.#queued;
    const next = this.#tail
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return writeJsonAtomic(this.path, this.current());
      });
    this.#queued = next;
    this.#tail = next;
    return next;
  }
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
