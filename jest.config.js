// One jest run for the whole workspace. Sources are ESM TypeScript, compiled on the fly by swc;
// workspace packages resolve to their sources so tests never need a prior build of a dependency.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/apps', '<rootDir>/packages'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  moduleNameMapper: {
    '^@jetbridge/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts',
    '^@jetbridge/web$': '<rootDir>/apps/web/src/index.ts',
    '^@jetbridge/([a-z-]+)/([a-z-]+)$': '<rootDir>/packages/$1/src/$2.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
        module: { type: 'es6' },
      },
    ],
  },
  reporters: ['default', '<rootDir>/scripts/summary-reporter.js'],
  testTimeout: 60000,
  maxWorkers: 2,
};
