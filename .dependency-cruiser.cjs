/**
 * The layout's import rules (DESIGN.md §2), checked by `npm test`.
 * Type-only imports count: a cycle through types is still a cycle for a reader.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles anywhere.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'runtime-stays-runtime',
      severity: 'error',
      comment: 'lambda/ is what a function bundles: it never imports the construct, the local runner or the CLI.',
      from: { path: '^lambda/' },
      to: { path: '^(lib|local|cli|bin|examples|bench|test)/' },
    },
    {
      name: 'runtime-imports-no-cdk',
      severity: 'error',
      comment: 'The runtime must not pull the CDK into a function bundle.',
      from: { path: '^lambda/' },
      to: { path: 'node_modules/(aws-cdk-lib|constructs|cdk-nag|esbuild)/' },
    },
    {
      name: 'construct-not-local',
      severity: 'error',
      comment: 'lib/ (deploy time) never imports the local runner or the CLI.',
      from: { path: '^lib/' },
      to: { path: '^(local|cli|bin|examples|bench|test)/' },
    },
    {
      name: 'runtime-entry-points-only',
      severity: 'error',
      comment:
        "Code outside lambda/ uses the runtime's entry points (lambda/*.ts), not its internals; tests and benchmarks excepted.",
      from: { path: '^(lib|local|cli|bin|examples)/' },
      to: { path: '^lambda/[^/]+/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '(^|/)(node_modules|dist|cdk\\.out)/' },
  },
};
