import { bundledModuleLoader } from '../local/demo/bundled-module';
import { runDemo } from '../local/demo/demo';
import { RUN_OPTIONS, UsageError, demoOptionsFrom, optionsHelp, parseRunArgs, type ParsedValues } from '../local/demo/run-options';
import { isCloudAssembly, readCdkJson, readCloudAssembly, readTemplateStack, synthesizeApp, type AssemblyStack } from '../local/mapping/cloud-assembly';
import { consumerSettings, selectConsumer } from '../local/mapping/consumer-selection';
import type { CliCommand } from './cli-command';

/** `kcl-lambda local`'s own flags, then the flags it shares with `npm start`. */
const OPTIONS = {
  handler: {
    type: 'string',
    value: '<module>',
    help: 'your handler module, TypeScript or JavaScript: exports handler (e.g. withKclProcessor(...))\nor a processor factory (createProcessor)',
  },
  app: {
    type: 'string',
    value: '<command|dir>',
    help: 'the CDK app to read the event source mapping from: a command (e.g. "npx ts-node bin/app.ts")\nor a cloud assembly directory (cdk.out); default: the "app" of ./cdk.json',
  },
  consumer: {
    type: 'string',
    value: '<path|id>',
    help: 'the KclConsumer to run when the app has several: its construct path (MyStack/Orders, Orders)\nor the logical id of its function or event source mapping',
  },
  ...RUN_OPTIONS,
  template: { ...RUN_OPTIONS.template, help: `${RUN_OPTIONS.template.help} instead of the app` },
} as const;

const USAGE = `Usage: kcl-lambda local --handler <module> [options]

Runs your handler against Kinesis and DynamoDB emulators in this process (kinesalite,
dynalite), invoked by an emulated event source mapping with the settings of your
synthesized CDK app.

${optionsHelp(OPTIONS)}`;

/** Where the stacks come from, for the summary. */
interface StackSource {
  readonly stacks: AssemblyStack[];
  readonly description: string;
}

function readStacks(values: ParsedValues, cwd: string): StackSource {
  const template = typeof values.template === 'string' ? values.template : undefined;
  const app = typeof values.app === 'string' ? values.app : undefined;
  if (template && app) throw new UsageError('--template and --app both name the settings; give one.');
  if (template) return { stacks: [readTemplateStack(template)], description: `template ${template}` };
  const cdkJson = readCdkJson(cwd);
  if (app && isCloudAssembly(app)) return { stacks: readCloudAssembly(app), description: `cloud assembly ${app}` };
  const command = app ?? cdkJson?.app;
  if (!command) {
    throw new UsageError(`No --app, --template or cdk.json in ${cwd}: say where the event source mapping settings come from.`);
  }
  const outdir = synthesizeApp(command, { cwd, context: cdkJson?.context });
  return { stacks: readCloudAssembly(outdir), description: `synthesized from ${command}` };
}

/** `kcl-lambda local`: a user's handler end to end on this machine, with their app's settings. */
export const localCommand: CliCommand = {
  name: 'local',
  summary: "runs your handler against in-process Kinesis and DynamoDB emulators, with your CDK app's settings",
  async run(args) {
    let values: ParsedValues;
    let demoOptions;
    try {
      values = parseRunArgs(args, OPTIONS);
      if (values.help) {
        console.log(USAGE);
        return 0;
      }
      // A MultiLang processor (--multilang, shared with npm start) stands in for a module.
      if (typeof values.handler !== 'string' && values.multilang === undefined) {
        throw new UsageError('--handler <module> (or --multilang <command>) is required: what your function runs.');
      }
      if (values.handler !== undefined && values.multilang !== undefined) throw new UsageError('give either --handler or --multilang, not both');
      demoOptions = demoOptionsFrom(values);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      console.error(`kcl-lambda local: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    try {
      const { stacks, description } = readStacks(values, process.cwd());
      const consumer = selectConsumer(stacks, typeof values.consumer === 'string' ? values.consumer : undefined);
      const result = await runDemo({
        ...demoOptions,
        template: undefined,
        processor: typeof values.handler === 'string' ? values.handler : undefined,
        settings: consumerSettings(consumer),
        settingsSource: `${consumer.name}, ${description}`,
        loadModule: bundledModuleLoader(),
      });
      console.log(result.text);
      return result.ok ? 0 : 1;
    } catch (error) {
      if (error instanceof UsageError) {
        console.error(`kcl-lambda local: ${error.message}`);
        return 2;
      }
      console.error(`kcl-lambda local: error: ${(error as Error).message}`);
      if (demoOptions.verbose && error instanceof Error && error.stack) console.error(error.stack);
      return 1;
    }
  },
};
