// Jest runs in native ESM mode (node --experimental-vm-modules) because @kubernetes/client-node is
// ESM-only; ts-jest compiles TypeScript per file and the mapper strips the .js of relative imports.
/** Settings every project shares (also the base of the mutation-testing run, stryker.config.mjs). */
export const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testEnvironment: 'node',
  // Stryker's sandbox (a copy of the repository) while `npm run test:mutation` runs.
  modulePathIgnorePatterns: ['<rootDir>/.stryker-tmp'],
};

const projects = [
  { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/src/**/*.test.ts', '<rootDir>/bench/**/*.test.ts'] },
  { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'], globalSetup: '<rootDir>/test/support/global-setup.ts', slowTestThreshold: 60 },
  { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'], globalSetup: '<rootDir>/test/support/global-setup.ts', slowTestThreshold: 120 },
];

// HAEIN_TEST_PROJECT picks one project, so that paths given after `npm run test:unit --` filter within it
// (jest's --selectProjects would swallow them as project names).
const only = process.env.HAEIN_TEST_PROJECT;

/** @type {import('jest').Config} */
export default {
  projects: only ? projects.filter((p) => p.displayName === only) : projects,
  // The integration and e2e suites share one control plane (e2e: one real node), one after another: the same
  // order everywhere (see the sequencer).
  ...(only === 'e2e' || only === 'integration' ? { testSequencer: '<rootDir>/test/support/path-order-sequencer.js' } : {}),
};
