/**
 * Side-effect module: exits with a message naming the Node.js to use when this one is older than the project
 * needs. Every entry point imports it FIRST: ES modules are evaluated in import order, so this runs before
 * any dependency is loaded (and can crash on an old Node). It imports nothing but Node built-ins.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findProjectNode, nodeVersionAtLeast, nodeVersionMessage } from './node-version.js';

if (!nodeVersionAtLeast(process.version)) {
  const projectNode = findProjectNode(path.dirname(fileURLToPath(import.meta.url)));
  process.stderr.write(
    nodeVersionMessage({ version: process.version, execPath: process.execPath, argv: process.argv.slice(1), cwd: process.cwd(), ...(projectNode ? { projectNode } : {}) }),
  );
  process.exit(1);
}
