import { KclConfigurationError } from './errors';
import { type EngineOverrides, type KinesisBatchHandler, createKclHandler } from './lifecycle/kcl-engine';
import { childEnvironment } from './multilang/child-environment';
import { DIALECTS, type MultiLangDialect } from './multilang/dialect';
import { InvocationDeadlines } from './multilang/invocation-deadline';
import { type ChildOutputHandler, MultiLangRecordProcessor, type MultiLangSettings } from './multilang/multilang-record-processor';
import { createLogger } from './observability/json-logger';
import type { KclOptions } from './options';

export type { MultiLangDialect } from './multilang/dialect';
export type { ChildOutputHandler } from './multilang/multilang-record-processor';

export interface MultiLangProcessorOptions {
  /** The executable and its arguments, run without a shell (e.g. `['python3', 'app.py']`). */
  readonly command: readonly string[];
  /**
   * The protocol version the processor speaks: `kcl2` (KCL 2.x/3.x, amazon_kclpy ≥ 2) or
   * `kcl1` (KCL 1.x, the Go client, amazon_kclpy 1.x).
   * @default 'kcl2'
   */
  readonly dialect?: MultiLangDialect;
  /**
   * Added to the child's environment (an `undefined` value removes a variable). The child
   * inherits the function's environment without LD_LIBRARY_PATH, LD_PRELOAD, NODE_OPTIONS
   * and NODE_PATH; set them here if it needs them.
   * @default - nothing added
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The child's working directory.
   * @default - the function's (LAMBDA_TASK_ROOT on Lambda)
   */
  readonly cwd?: string;
  /**
   * Receives the child's stderr lines and the stdout lines that are not protocol messages.
   * @default - written to stderr as `[shardId] line`
   */
  readonly onOutput?: ChildOutputHandler;
}

/**
 * Runs an unchanged KCL MultiLang processor (amazon_kclpy, the Go client, ...) as one
 * child process per shard per warm container, on the same engine as withKclProcessor:
 * its checkpoint requests go to the KCL-compatible checkpoint table, and replays,
 * KPL sub-sequences, shard end, lease lost, the timeout guard and partial responses
 * behave as they do for a TypeScript processor.
 */
export function withMultiLangProcessor(options: MultiLangProcessorOptions, kclOptions: KclOptions = {}): KinesisBatchHandler {
  return multiLangHandler(multiLangSettings(options, kclOptions), kclOptions);
}

/**
 * What withMultiLangProcessor gives each shard's processor: the options validated, the
 * child's environment scrubbed. Exported (not from the package's entry) for the benchmark,
 * which times processors and handlers built exactly as here.
 */
export function multiLangSettings(options: MultiLangProcessorOptions, kclOptions: KclOptions = {}): MultiLangSettings {
  const dialect = validate(options);
  return {
    command: [...options.command],
    dialect,
    env: childEnvironment(process.env, options.env),
    cwd: options.cwd,
    checkpointing: kclOptions.checkpointing ?? 'auto',
    deadlines: new InvocationDeadlines(kclOptions.timeoutGuardMs),
    logger: createLogger(kclOptions),
    output: options.onOutput ?? writeToStderr,
    live: new Set(),
  };
}

/** withMultiLangProcessor's handler for these settings; `overrides` are the engine's (the benchmark's in-memory lease store). */
export function multiLangHandler(settings: MultiLangSettings, kclOptions: KclOptions = {}, overrides: EngineOverrides = {}): KinesisBatchHandler {
  const handler = createKclHandler((shardId) => new MultiLangRecordProcessor(shardId, settings), kclOptions, overrides);
  return (event, context) =>
    settings.deadlines.run(context, async () => {
      try {
        return await handler(event, context);
      } finally {
        // kclpy's sample writes stderr without newlines: what it wrote belongs to this invocation's logs.
        for (const processor of settings.live) processor.flushOutput();
      }
    });
}

const writeToStderr: ChildOutputHandler = (line, { shardId }) => void process.stderr.write(`[${shardId}] ${line}\n`);

function validate(options: MultiLangProcessorOptions): MultiLangDialect {
  if (typeof options !== 'object' || options === null) {
    throw new KclConfigurationError("withMultiLangProcessor needs options: { command: ['python3', 'app.py'] }");
  }
  const { command, dialect = 'kcl2', env, cwd } = options;
  if (!Array.isArray(command) || command.length === 0 || !command.every((part) => typeof part === 'string') || command[0] === '') {
    throw new KclConfigurationError(
      `withMultiLangProcessor: command must be a non-empty array of strings (executable, then arguments; no shell), got ${JSON.stringify(command)}`,
    );
  }
  if (!DIALECTS.includes(dialect)) {
    throw new KclConfigurationError(`withMultiLangProcessor: dialect must be 'kcl2' or 'kcl1', got ${JSON.stringify(dialect)}`);
  }
  if (env !== undefined) {
    const bad = Object.entries(env).find(([, value]) => value !== undefined && typeof value !== 'string');
    if (typeof env !== 'object' || env === null || bad) {
      throw new KclConfigurationError(`withMultiLangProcessor: env values must be strings${bad ? `; ${bad[0]} is ${typeof bad[1]}` : ''}`);
    }
  }
  if (cwd !== undefined && (typeof cwd !== 'string' || cwd === '')) {
    throw new KclConfigurationError(`withMultiLangProcessor: cwd must be a directory path, got ${JSON.stringify(cwd)}`);
  }
  return dialect;
}
