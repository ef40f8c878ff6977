// Mutation testing of the safety-critical code: `npm run test:mutation` (not part of `make test`: it takes
// hours on a small machine). See docs/reliability.md, "Mutation testing", for what it covers and the last scores.
//
// Two parts, each with its own files, tests and incremental record, because Jest loads every related test file
// for each mutant: the ledger's tests load the operator (and the Kubernetes client), which the placement engine's
// thousands of mutants should not pay for.
//   HAEIN_MUTATION_PART=placement  src/placement/** and the node agent's layout realiser, with their unit tests
//   HAEIN_MUTATION_PART=ledger     the allocation ledger (claims, draft, write, assumed ledger, snapshot) and the
//                                  cycle planner, with their unit tests
import { common } from './jest.config.js';

// Property tests try fewer cases under mutation (test/support/property-runs.ts); the test runners inherit this.
process.env.HAEIN_MUTATION = '1';

const PARTS = {
  placement: {
    mutate: ['src/placement/**/*.ts', '!src/placement/index.ts', 'src/node-agent/layout-realiser.ts'],
    tests: ['<rootDir>/test/unit/placement/**/*.test.ts', '<rootDir>/test/unit/node-agent/layout-realiser*.test.ts'],
  },
  ledger: {
    mutate: ['src/ledger/*.ts', 'src/scheduler/cycle-planner.ts', 'src/tenancy/quota-book.ts'],
    tests: ['<rootDir>/test/unit/ledger/*.test.ts', '<rootDir>/test/unit/scheduler/**/*.test.ts', '<rootDir>/test/unit/tenancy/*.test.ts'],
  },
};

const partName = process.env.HAEIN_MUTATION_PART ?? 'placement';
const part = PARTS[partName];
if (!part) throw new Error(`HAEIN_MUTATION_PART must be one of ${Object.keys(PARTS).join(', ')}, not ${partName}`);

// HAEIN_MUTATION_TESTS (comma-separated globs from the repository root) runs only those tests, e.g. a file's own
// unit tests: each mutant then loads fewer test files (much faster on a loaded machine), and the score is a lower
// bound of the part's. Its own incremental record, so a narrowed run never passes for a full one.
const narrowed = process.env.HAEIN_MUTATION_TESTS?.split(',').map((g) => g.trim()).filter(Boolean);
const tests = narrowed?.length ? narrowed.map((g) => `<rootDir>/${g}`) : part.tests;
const record = narrowed?.length ? `${partName}-narrowed` : partName;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: part.mutate,
  testRunner: 'jest',
  // Jest runs in native ESM mode, as in `npm run test:unit`.
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  jest: {
    projectType: 'custom',
    config: { ...common, rootDir: '.', roots: ['<rootDir>/src', '<rootDir>/test'], testMatch: tests },
    // Each mutant runs only the test files that import its file (and, inside them, only the tests covering it).
    enableFindRelatedTests: true,
  },
  coverageAnalysis: 'perTest',
  // Module-level data (the catalog's board tables) would need every test per mutant; the catalog tests check
  // that data against the reference instead.
  ignoreStatic: true,
  // Re-use the results of unchanged mutants and tests from the previous run of the same part.
  incremental: true,
  incrementalFile: `reports/mutation/${record}-incremental.json`,
  concurrency: 2,
  timeoutMS: 20000,
  reporters: ['clear-text', 'progress-append-only', 'json', 'html'],
  jsonReporter: { fileName: `reports/mutation/${record}.json` },
  htmlReporter: { fileName: `reports/mutation/${record}.html` },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
