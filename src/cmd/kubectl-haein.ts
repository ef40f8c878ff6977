#!/usr/bin/env node
/**
 * `kubectl-haein`, the kubectl plugin (`kubectl haein map|why|top`): on PATH, kubectl runs it for
 * `kubectl haein …`. Flags: `--help`.
 */
// First: checks the Node.js version before any dependency loads.
import './require-node.js';
import { runPlugin } from '../kubectl-plugin/run.js';

runPlugin(process.argv.slice(2), { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`kubectl-haein failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
