/**
 * The Node.js version check every entry point makes before it loads anything else: on an older Node a
 * dependency fails while loading with an error that names neither the cause nor the fix (undici 8 on Node 20:
 * `TypeError: Cannot read properties of undefined (reading 'bind')`). Pure apart from {@link findProjectNode}.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Oldest Node.js the project runs on; equal to `engines.node` in package.json (a unit test keeps them equal). */
export const MIN_NODE_VERSION = '22.19.0';

/** True when `version` (`v20.20.2` or `20.20.2`) is at least `minimum`. */
export function nodeVersionAtLeast(version: string, minimum: string = MIN_NODE_VERSION): boolean {
  const parse = (v: string) => v.replace(/^v/, '').split(/[.-]/).slice(0, 3).map((x) => Number.parseInt(x, 10) || 0);
  const [a, b] = [parse(version), parse(minimum)];
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/**
 * The Node.js binary the project installs (`node_modules/.bin/node`, from the `node` npm package) in the
 * nearest directory at or above `from`, or undefined.
 */
export function findProjectNode(from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', '.bin', 'node');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** What a too-old Node prints: what is wrong, and the exact command to run instead. */
export interface NodeVersionReport {
  /** The running Node's version, `process.version`. */
  version: string;
  /** The running Node's binary, `process.execPath`. */
  execPath: string;
  /** The script and its arguments, `process.argv.slice(1)`. */
  argv: string[];
  /** The project's own Node, if found. */
  projectNode?: string;
  /** Directory the command is run from, to print the script path relative to it. */
  cwd: string;
}

/** The message for a Node that is too old. */
export function nodeVersionMessage(r: NodeVersionReport): string {
  const [script = '', ...args] = r.argv;
  const rel = path.relative(r.cwd, script);
  const shown = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : script;
  const quoted = [shown, ...args].map((a) => (/^[\w./=:,@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  const lines = [`${shown || 'this program'} needs Node.js >= ${MIN_NODE_VERSION}, but ${r.execPath} is Node.js ${r.version}.`];
  if (r.projectNode) {
    lines.push(
      `Run it with the Node.js that 'npm ci' installed for this project:`,
      `  ${r.projectNode} ${quoted}`,
      `or through npm, which puts that Node.js first on PATH:`,
      `  npm exec -- node ${quoted}`,
    );
  } else {
    lines.push(`Install Node.js >= ${MIN_NODE_VERSION}, or run 'npm ci' in the Haein repository (it installs Node.js 24 as node_modules/.bin/node).`);
  }
  return `${lines.join('\n')}\n`;
}
