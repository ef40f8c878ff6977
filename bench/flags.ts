/** A benchmark's command-line flags, checked. Pure. */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/**
 * The values of `argv` (without node and script) for the flags `options` declares, strictly (an unknown flag is an
 * error); a parse error is thrown with `usage` appended.
 */
export function flagValues<O extends ParseArgsOptionsConfig>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, strict: true, options }).values;
  } catch (cause) {
    throw new Error(`${(cause as Error).message}\n${usage}`, { cause });
  }
}

/** Bounds of a numeric flag: at least `min`, at most `max` (default unbounded), whole unless `integer` is false. */
export interface FlagBounds {
  min: number;
  max?: number;
  integer?: boolean;
}

/**
 * The value of the flag `--name` given as `raw` (`dflt` when absent); throws, naming the flag and showing `usage`,
 * when it is not a number within `bounds`.
 */
export function numberFlag(name: string, raw: string | undefined, dflt: number, bounds: FlagBounds, usage: string): number {
  if (raw === undefined) return dflt;
  const { min, max = Infinity, integer = true } = bounds;
  const n = Number(raw);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    const range = max === Infinity ? `≥ ${min}` : `between ${min} and ${max}`;
    throw new Error(`--${name}=${raw}: expected ${integer ? 'an integer' : 'a number'} ${range}\n${usage}`);
  }
  return n;
}
