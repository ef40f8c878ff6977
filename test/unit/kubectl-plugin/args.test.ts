import { UsageError, parsePluginArgs, parseTarget } from '../../../src/kubectl-plugin/args.js';

test.each([
  [[], { command: 'help' }],
  [['--help'], { command: 'help' }],
  [['map', '-h'], { command: 'help' }],
  [['map'], { command: 'map', output: 'table', allNamespaces: false }],
  [['map', '-A', '-o', 'wide'], { command: 'map', allNamespaces: true, output: 'wide' }],
  [['top', '-nteam-a', '-ojson'], { command: 'top', namespace: 'team-a', output: 'json' }],
  [['top', '--namespace=team-a', '--output=yaml', '--context', 'prod', '--kubeconfig=/k'], { namespace: 'team-a', output: 'yaml', context: 'prod', kubeconfig: '/k' }],
  [['why', 'gpup/notebook', '-n', 'demo'], { command: 'why', target: { kind: 'GpuPartition', name: 'notebook' }, namespace: 'demo' }],
  [['-n', 'demo', 'why', 'tj/llm'], { command: 'why', target: { kind: 'TrainingJob', name: 'llm' } }],
  [['why', 'pods/nb-0'], { target: { kind: 'Pod', name: 'nb-0' } }],
  [['top'], { by: 'namespace' }],
  [['top', '--by', 'tenant', '-o', 'wide'], { command: 'top', by: 'tenant', output: 'wide' }],
  [['top', '--by=tenant', '--tenant=research'], { by: 'tenant', tenant: 'research' }],
  [['map', '--tenant', 'vision', '-o', 'wide'], { command: 'map', tenant: 'vision', output: 'wide' }],
])('%j parses', (argv, want) => {
  expect(parsePluginArgs(argv)).toMatchObject(want);
});

test.each([
  [['frobnicate'], 'unknown command "frobnicate"'],
  [['map', '--bogus'], 'unknown flag --bogus'],
  [['map', '-o', 'xml'], 'unknown output format "xml"'],
  [['map', '-n', 'a', '-A'], '-n and -A cannot be used together'],
  [['why'], 'why needs exactly one KIND/NAME'],
  [['why', 'gpup/a', '-A'], 'use -n, not -A'],
  [['why', 'gpup/a', '-o', 'wide'], '-o wide does not apply'],
  [['why', 'deployment/a'], 'unknown kind "deployment"'],
  [['why', 'notebook'], '"notebook" is not KIND/NAME'],
  [['top', 'extra'], 'top takes no arguments'],
  [['map', '-n'], 'flag -n needs a value'],
  [['top', '--by', 'cohort'], '--by takes namespace or tenant, not "cohort"'],
  [['map', '--by', 'tenant'], '--by applies to top, not map'],
  [['why', 'gpup/a', '--tenant', 'x'], '--tenant does not apply'],
  [['map', '--tenant'], 'flag --tenant needs a value'],
])('%j is refused: %s', (argv, message) => {
  expect(() => parsePluginArgs(argv)).toThrow(UsageError);
  expect(() => parsePluginArgs(argv)).toThrow(message);
});

test('kind names as kubectl users type them', () => {
  for (const k of ['gpupartition', 'GpuPartitions', 'gpup', 'gpupartitions.gpu.haein.dev']) expect(parseTarget(`${k}/x`).kind).toBe('GpuPartition');
  for (const k of ['trainingjob', 'tj', 'TrainingJobs']) expect(parseTarget(`${k}/x`).kind).toBe('TrainingJob');
  for (const k of ['pod', 'pods', 'po']) expect(parseTarget(`${k}/x`).kind).toBe('Pod');
});
