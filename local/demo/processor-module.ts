import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RecordProcessorFactory } from '../../lambda';
import type { KinesisBatchHandler } from '../mapping/event-source-mapping';

/** What a `--processor` module gives the runner. */
export type LoadedProcessor =
  | { readonly kind: 'factory'; readonly factory: RecordProcessorFactory; readonly exportName: string; readonly path: string }
  | { readonly kind: 'handler'; readonly handler: KinesisBatchHandler; readonly exportName: string; readonly path: string };

/** The module cannot be used as a processor. */
export class ProcessorModuleError extends Error {
  override readonly name = 'ProcessorModuleError';
}

/** Export names read as a processor factory, in order of preference. */
const FACTORY_EXPORTS = ['createProcessor', 'processorFactory', 'default'];

/** Loads a module by absolute path and returns its exports. */
export type ModuleLoader = (path: string) => unknown;

/** `require`: ts-jest and tsx both hook it for .ts modules. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireModule: ModuleLoader = (path) => require(path);

/** The absolute path of a processor module; throws when neither it nor it with a usual extension exists. */
export function resolveProcessorModule(modulePath: string): string {
  const path = resolve(modulePath);
  const found = [path, ...['.ts', '.js', '.cjs', '.mjs'].map((extension) => path + extension)].find((candidate) => existsSync(candidate));
  if (!found) throw new ProcessorModuleError(`Processor module ${modulePath} does not exist (looked for ${path}).`);
  return found;
}

/**
 * Loads a module that exports a Lambda handler (`handler`, e.g. the result of
 * withKclProcessor) or a processor factory (`createProcessor`, `processorFactory`
 * or a default export: `(shardId) => RecordProcessor`). A handler wins: it is
 * what Lambda would run, options included.
 */
export async function loadProcessorModule(modulePath: string, load: ModuleLoader = requireModule): Promise<LoadedProcessor> {
  const path = resolveProcessorModule(modulePath);
  let loaded: Record<string, unknown>;
  try {
    loaded = (load(path) ?? {}) as Record<string, unknown>;
  } catch (error) {
    throw new ProcessorModuleError(`Processor module ${modulePath} failed to load: ${(error as Error).message}`, { cause: error });
  }
  if (typeof loaded.handler === 'function') {
    return { kind: 'handler', handler: loaded.handler as KinesisBatchHandler, exportName: 'handler', path };
  }
  for (const name of FACTORY_EXPORTS) {
    const candidate = name === 'default' && typeof loaded.default === 'object' ? undefined : loaded[name];
    if (typeof candidate === 'function' && !isClass(candidate)) {
      return { kind: 'factory', factory: candidate as RecordProcessorFactory, exportName: name, path };
    }
  }
  const exported = Object.keys(loaded).filter((key) => key !== '__esModule');
  throw new ProcessorModuleError(
    `Processor module ${modulePath} exports neither a Lambda handler (export const handler = withKclProcessor(...)) ` +
      `nor a processor factory (export const createProcessor = (shardId) => new MyProcessor()). ` +
      `It exports: ${exported.length > 0 ? exported.join(', ') : 'nothing'}.`,
  );
}

function isClass(value: unknown): boolean {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
}
