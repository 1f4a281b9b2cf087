/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  // Emulators start per test file; give them room on a 2-core machine.
  testTimeout: 60_000,
  maxWorkers: 2,
};
