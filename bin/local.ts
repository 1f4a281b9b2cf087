/**
 * `npm start`: runs a KCL record processor end to end on this machine —
 * kinesalite and dynalite in-process (or given endpoints), Lambda's event
 * source mapping emulated with the deployment's settings, the real runtime.
 */
import { runDemo, type DemoOptions } from '../local/demo/demo';
import { exampleStackSettings } from '../local/demo/example-stack-settings';
import { RUN_OPTIONS, UsageError, demoOptionsFrom, optionsHelp, parseRunArgs } from '../local/demo/run-options';

/** npm start's own flag, then the flags it shares with `kcl-lambda local`. */
const OPTIONS = {
  processor: {
    type: 'string',
    value: '<module>',
    help: 'module exporting a processor factory (createProcessor) or a handler\n(default examples/counting-processor.ts)',
  },
  ...RUN_OPTIONS,
  template: { ...RUN_OPTIONS.template, help: `${RUN_OPTIONS.template.help}\n(default: synthesize bin/app.ts in-process)` },
} as const;

const USAGE = `Usage: npm start -- [options]\n\n${optionsHelp(OPTIONS)}`;

function parseOptions(argv: string[]): DemoOptions | 'help' {
  const values = parseRunArgs(argv, OPTIONS);
  if (values.help) return 'help';
  if (values.multilang !== undefined && values.processor !== undefined) throw new UsageError('give either --processor or --multilang, not both');
  return {
    ...demoOptionsFrom(values),
    processor: typeof values.processor === 'string' ? values.processor : undefined,
    appSettings: { load: exampleStackSettings, source: 'synthesized from bin/app.ts' },
  };
}

async function main(): Promise<number> {
  let options: DemoOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const result = await runDemo(options);
    process.stdout.write(`${result.text}\n`);
    return result.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    if (options.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
