import Module from 'node:module';
import { dirname } from 'node:path';
import { ProcessorModuleError, type ModuleLoader } from './processor-module';

/** The part of esbuild's API used here (esbuild is a peer dependency, loaded when needed). */
interface EsbuildLike {
  buildSync(options: Record<string, unknown>): { outputFiles?: { text: string }[] };
}

/** Node's module internals used to run code from memory as if it were a file. */
interface ModuleInternals {
  _nodeModulePaths(from: string): string[];
}
interface CompilableModule extends Module {
  _compile(code: string, filename: string): void;
}

/**
 * A loader for a user's own handler module, TypeScript or JavaScript, from an
 * installed package where no TypeScript hook is registered: esbuild (the one the
 * construct bundles with) compiles the module and the files it imports into one
 * CommonJS module, in memory; packages stay outside and load from the module's own
 * `node_modules`, as Node would resolve them next to the file. Source maps are
 * inline and turned on, so stack traces name the user's lines.
 */
export function bundledModuleLoader(requireEsbuild: () => EsbuildLike = defaultEsbuild): ModuleLoader {
  return (path) => {
    const esbuild = requireEsbuild();
    let code: string;
    try {
      const result = esbuild.buildSync({
        entryPoints: [path],
        bundle: true,
        packages: 'external',
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        sourcemap: 'inline',
        write: false,
        logLevel: 'silent',
      });
      code = result.outputFiles?.[0]?.text ?? '';
    } catch (error) {
      throw new ProcessorModuleError(`Processor module ${path} does not compile: ${firstLine(error)}`, { cause: error });
    }
    process.setSourceMapsEnabled(true);
    // A file name next to the module: relative requires and node_modules resolve from there.
    const filename = `${path}.kcl-lambda-local.cjs`;
    const compiled = new Module(filename) as CompilableModule;
    compiled.filename = filename;
    compiled.paths = (Module as unknown as ModuleInternals)._nodeModulePaths(dirname(path));
    compiled._compile(code, filename);
    compiled.loaded = true;
    return compiled.exports;
  };
}

function defaultEsbuild(): EsbuildLike {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('esbuild') as EsbuildLike;
  } catch (error) {
    throw new ProcessorModuleError(
      'kcl-lambda local compiles your handler with esbuild, which is not installed: npm install --save-dev esbuild',
      { cause: error },
    );
  }
}

function firstLine(error: unknown): string {
  const errors = (error as { errors?: { text?: string; location?: { file?: string; line?: number } | null }[] }).errors;
  const first = errors?.[0];
  if (first?.text) return first.location ? `${first.location.file}:${first.location.line}: ${first.text}` : first.text;
  return (error as Error).message?.split('\n')[0] ?? String(error);
}
