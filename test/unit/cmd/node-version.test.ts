import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIN_NODE_VERSION, findProjectNode, nodeVersionAtLeast, nodeVersionMessage } from '../../../src/cmd/node-version.js';
import { ROOT } from '../crds/crd-schema.js';

test('the minimum equals engines.node of package.json', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  expect(pkg.engines.node).toBe(`>=${MIN_NODE_VERSION}`);
});

test.each([
  ['v20.20.2', false],
  ['v22.18.9', false],
  ['v22.19.0', true],
  ['v22.20.0', true],
  ['v24.21.0', true],
  ['v100.0.0', true],
  ['22.19.0-nightly2025', true],
  ['v9.99.99', false],
])('%s is new enough: %s', (version, ok) => {
  expect(nodeVersionAtLeast(version)).toBe(ok);
});

test('the message names the running Node and the exact command to run instead', () => {
  const msg = nodeVersionMessage({
    version: 'v20.20.2',
    execPath: '/usr/bin/node',
    argv: ['/repo/dist/bench/operator-scale.js', '--help', 'it is'],
    cwd: '/repo',
    projectNode: '/repo/node_modules/.bin/node',
  });
  expect(msg).toContain(`dist/bench/operator-scale.js needs Node.js >= ${MIN_NODE_VERSION}, but /usr/bin/node is Node.js v20.20.2`);
  expect(msg).toContain(`  /repo/node_modules/.bin/node dist/bench/operator-scale.js --help 'it is'\n`);
  expect(msg).toContain(`  npm exec -- node dist/bench/operator-scale.js --help 'it is'\n`);
});

test('without the project Node the message says how to get one', () => {
  const msg = nodeVersionMessage({ version: 'v18.0.0', execPath: '/opt/node', argv: ['/elsewhere/x.js'], cwd: '/repo' });
  expect(msg).toContain('/elsewhere/x.js needs Node.js');
  expect(msg).toContain("run 'npm ci'");
});

test('findProjectNode walks up to the nearest node_modules/.bin/node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'haein-nv-'));
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', '.bin', 'node'), '');
  mkdirSync(join(dir, 'dist', 'src', 'cmd'), { recursive: true });
  expect(findProjectNode(join(dir, 'dist', 'src', 'cmd'))).toBe(join(dir, 'node_modules', '.bin', 'node'));
  expect(findProjectNode(ROOT)).toBe(join(ROOT, 'node_modules', '.bin', 'node'));
});

// The check must run before any dependency loads: an old Node would otherwise crash inside one. Needs dist/
// and a Node older than the minimum on the machine (Debian 12's /usr/bin/node is Node 20).
const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
  if (!existsSync(p)) return false;
  const v = execFileSync(p, ['--version'], { encoding: 'utf8' }).trim();
  return !nodeVersionAtLeast(v);
});
const built = existsSync(join(ROOT, 'dist', 'src', 'cmd', 'operator.js'));
(oldNode && built ? test.each : test.skip.each)([['dist/src/cmd/operator.js'], ['dist/src/cmd/node-agent.js'], ['dist/bench/operator-scale.js']])(
  'an old Node running %s gets the message, not a crash inside a dependency',
  (script) => {
    const r = spawnSync(oldNode as string, [script, '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`needs Node.js >= ${MIN_NODE_VERSION}`);
    expect(r.stderr).toContain(`${join(ROOT, 'node_modules', '.bin', 'node')} ${script} --help`);
    expect(r.stderr).not.toContain('TypeError');
  },
);
