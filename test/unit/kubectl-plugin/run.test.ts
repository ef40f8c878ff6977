import { runPlugin } from '../../../src/kubectl-plugin/run.js';
import { USAGE } from '../../../src/kubectl-plugin/args.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

test('--help prints the usage and exits 0, without touching a cluster', async () => {
  const t = io();
  expect(await runPlugin(['--help'], t.io)).toBe(0);
  expect(t.out.join('')).toBe(`${USAGE}\n`);
});

test('a bad command line exits 2 with a pointer to --help', async () => {
  const t = io();
  expect(await runPlugin(['why', 'gpup'], t.io)).toBe(2);
  expect(t.err.join('')).toBe(`error: "gpup" is not KIND/NAME (e.g. gpup/notebook, tj/llm-pretrain, pod/nb-0)\nSee 'kubectl haein --help' for usage.\n`);
});

test('an unreadable kubeconfig exits 1 and says why', async () => {
  const t = io();
  expect(await runPlugin(['map', '--kubeconfig', '/nonexistent/kubeconfig'], t.io)).toBe(1);
  expect(t.err.join('')).toMatch(/^error: loading kubeconfig from \/nonexistent\/kubeconfig/);
});
