/**
 * Runs the benchmarks on the repository's TypeScript compiled as `npm run build`
 * compiles it for the package (tsc, CommonJS: the code in dist/ that a user's
 * function loads). tsx would compile it with esbuild and keep function names, which
 * adds an Object.defineProperty call for every function the code creates (about
 * 1 µs per batch of the engine's, measured) and turns every export into a getter:
 * costs no shipped build has.
 *
 *   node --require ./bench/typescript-as-shipped.cjs bench/run.ts
 *
 * Packages that are ES modules only (tinybench) load through Node's require(esm),
 * on by default from Node.js 20.19.
 */
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const ROOT = path.resolve(__dirname, '..');

function buildCompilerOptions() {
  const configFile = ts.readConfigFile(path.join(ROOT, 'tsconfig.build.json'), ts.sys.readFile);
  if (configFile.error) throw new Error(ts.flattenDiagnosticMessageText(configFile.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
  return { ...parsed.options, declaration: false, sourceMap: false, inlineSourceMap: true, inlineSources: true };
}

const compilerOptions = buildCompilerOptions();

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { compilerOptions, fileName: filename });
  module._compile(outputText, filename);
};
