import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ProcessorModuleError, type ModuleLoader } from './processor-module';

/** The part of esbuild's API used here (esbuild is a peer dependency, loaded when needed). */
interface EsbuildLike {
  buildSync(options: Record<string, unknown>): { outputFiles?: { text: string }[] };
}

/**
 * A loader for a user's own handler module, TypeScript or JavaScript, from an
 * installed package where no TypeScript hook is registered: esbuild (the one the
 * construct bundles with) compiles the module and the files it imports into one
 * CommonJS file; packages stay outside and load from the project's `node_modules`.
 * The file goes to `node_modules/.cache/kcl-lambda/` of the nearest project (where
 * tools keep such files, and from where those packages resolve), is required, and
 * removed. Source maps are inline and turned on, so stack traces name the user's lines.
 */
export function bundledModuleLoader(requireEsbuild: () => EsbuildLike = defaultEsbuild): ModuleLoader {
  return (path) => {
    const esbuild = requireEsbuild();
    const outfile = join(cacheDirectory(path), `${basename(path).replace(/\.[^.]*$/, '')}-${process.pid}-${Date.now().toString(36)}.cjs`);
    let code: string;
    try {
      const result = esbuild.buildSync({
        entryPoints: [path],
        outfile,
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
    mkdirSync(dirname(outfile), { recursive: true });
    writeFileSync(outfile, code);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(outfile) as unknown;
    } finally {
      rmSync(outfile, { force: true });
    }
  };
}

/** `node_modules/.cache/kcl-lambda` of the nearest directory with a `node_modules`, else next to the module. */
function cacheDirectory(modulePath: string): string {
  for (let directory = dirname(modulePath); ; directory = dirname(directory)) {
    if (existsSync(join(directory, 'node_modules'))) return join(directory, 'node_modules', '.cache', 'kcl-lambda');
    if (dirname(directory) === directory) return dirname(modulePath);
  }
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
