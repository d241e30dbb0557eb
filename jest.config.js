/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFilesAfterEnv: ['<rootDir>/__tests__/setup.ts'],
  // Bundles dist/ once and opens the run's shared cache of synthesized stacks (support/synth-cache.ts).
  globalSetup: '<rootDir>/__tests__/support/global-setup.ts',
  globalTeardown: '<rootDir>/__tests__/support/global-teardown.ts',
  // A worker that has grown past this after a test file is replaced by a fresh one: each file loads
  // cdktf, the providers or the SDK anew, and a long-lived worker keeps what the earlier files left.
  workerIdleMemoryLimit: '300MB',
};
