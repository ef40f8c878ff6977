// Bundles the slice map page (src/slice-map/page, Preact from npm) into dist/src/slice-map/page with esbuild,
// next to the server that serves it, so the image carries the page and no browser fetches anything from a CDN.
// Run by `npm run build`.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src', 'slice-map', 'page');
const out = join(root, 'dist', 'src', 'slice-map', 'page');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(src, 'main.tsx')],
  outfile: join(out, 'slice-map.js'),
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(src, 'tsconfig.json'),
  // Keeps Preact's licence notice with the bundle.
  legalComments: 'eof',
  logLevel: 'warning',
});
for (const file of ['index.html', 'slice-map.css']) copyFileSync(join(src, file), join(out, file));
