import { type MultiLangDialect, withMultiLangProcessor } from '../../lambda';
import type { LoadedProcessor } from './processor-module';
import { splitCommandLine } from './command-line';

/**
 * `--multilang "python3 app.py"`: an unchanged KCL MultiLang processor as the demo's
 * handler. The handler is built at its first batch, once the runner has set the
 * environment (table, endpoints) the child inherits.
 */
export function multiLangProcessor(commandLine: string, dialect: MultiLangDialect = 'kcl2', verbose = false): LoadedProcessor {
  const command = splitCommandLine(commandLine);
  // Fails now (bad dialect) rather than at the first batch.
  withMultiLangProcessor({ command, dialect });
  let handler: ReturnType<typeof withMultiLangProcessor> | undefined;
  return {
    kind: 'handler',
    exportName: `withMultiLangProcessor (${dialect})`,
    path: command.join(' '),
    handler: (event, context) => {
      handler ??= withMultiLangProcessor(
        // The child's own stderr is noise next to the progress bars unless asked for.
        { command, dialect, onOutput: verbose ? undefined : () => undefined },
        { metrics: false },
      );
      return handler(event, context);
    },
  };
}
