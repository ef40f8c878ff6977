// Mutation testing of the safety-critical code: `npm run test:mutation` (not part of `make test`: it takes
// hours on a small machine). See docs/reliability.md, "Mutation testing", for what it covers and the last scores.
import { common } from './jest.config.js';

// Property tests try fewer cases under mutation (test/support/property-runs.ts); the test runners inherit this.
process.env.HAEIN_MUTATION = '1';

/** The files mutated: the placement engine, the allocation ledger and claims, and the node agent's layout realiser. */
const MUTATE = [
  'src/placement/**/*.ts',
  // The ledger moves to src/ledger/ (claims, ledger draft): then this becomes 'src/ledger/{claims,ledger}.ts'.
  'src/controllers/{claims,ledger}.ts',
  'src/node-agent/layout-realiser.ts',
  // Re-exports only.
  '!src/placement/index.ts',
];

/** The unit tests that exercise those files (the rest of the unit suite cannot kill their mutants). */
const TESTS = [
  '<rootDir>/test/unit/placement/**/*.test.ts',
  '<rootDir>/test/unit/controllers/{ledger,ledger-*,claim-identity,snapshot,defrag-plan}.test.ts',
  '<rootDir>/test/unit/node-agent/layout-realiser*.test.ts',
];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: MUTATE,
  testRunner: 'jest',
  // Jest runs in native ESM mode, as in `npm run test:unit`.
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  jest: {
    projectType: 'custom',
    config: { ...common, rootDir: '.', roots: ['<rootDir>/src', '<rootDir>/test'], testMatch: TESTS },
    // Each mutant runs only the test files that import its file (and, inside them, only the tests covering it).
    enableFindRelatedTests: true,
  },
  coverageAnalysis: 'perTest',
  // Module-level data (the catalog's board tables) would need every test per mutant; the catalog tests check
  // that data against the reference instead.
  ignoreStatic: true,
  // Re-use the results of unchanged mutants and tests from the previous run.
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  concurrency: 2,
  timeoutMS: 20000,
  reporters: ['clear-text', 'progress-append-only', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
