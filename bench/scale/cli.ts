/** What the control-plane benchmarks share around their runs: the command-line preamble, polling. */

/** Polls `check` every `everyMs` until it returns true; false after `timeoutMs`. Throws when `abort` says why. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 250, abort?: () => string | undefined): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = abort?.();
    if (why) throw new Error(why);
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * The options `parse` reads from `argv`; undefined after printing `usage` for `--help`/`-h`. A bad flag prints
 * the parser's message (which names it) and exits with status 2.
 */
export function optionsOrExit<T>(parse: (argv: string[]) => T, usage: string, argv: string[] = process.argv.slice(2)): T | undefined {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    return undefined;
  }
  try {
    return parse(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
}
