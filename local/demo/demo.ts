import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { compareExtended, isNumericSequenceNumber, type KinesisUserRecord, SHARD_END, withKclProcessor } from '../../lambda';
import { DeliveryLog } from './delivery-log';
import { renderSummary, type RunSummary, type ShardSummary } from './demo-summary';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../emulators/emulators';
import { EmulatedEventSourceMapping, StreamNotFoundError, type KinesisBatchHandler } from '../mapping/event-source-mapping';
import { FailureWatch } from './failure-watch';
import { FaultPlan, failingHandler, instrumentProcessorFactory } from './fault-injection';
import {
  connectLocalServices,
  createStream,
  ensureCheckpointTable,
  readCheckpointRows,
  streamExists,
  type LocalServices,
} from '../emulators/local-services';
import { resolveSettings, settingsFromTemplateFile, type EventSourceMappingSettings } from '../mapping/mapping-settings';
import { JsonLinesOnFailureDestination } from '../mapping/on-failure-destination';
import { loadProcessorModule, resolveProcessorModule, type ModuleLoader } from './processor-module';
import { multiLangProcessor } from './multilang-processor';
import { RunProgress } from './progress';
import { produceRecords, type ProducedRecord } from './record-producer';
import { adjacentOpenShards, listAllShards, mergeAdjacentShards, splitShardInHalf } from '../mapping/resharding';
import { RuntimeStatsLogger } from './runtime-stats';

export const DEFAULT_PROCESSOR_MODULE = join(__dirname, '..', '..', 'examples', 'counting-processor.ts');

export type Reshard = 'split' | 'merge';

export interface DemoOptions {
  /** User records to produce. @default 1000 */
  readonly records?: number;
  /** Shards of the new stream. @default 2 */
  readonly shards?: number;
  /** Module exporting a processor factory or a handler. @default examples/counting-processor.ts */
  readonly processor?: string;
  /** A KCL MultiLang processor's command line (e.g. `python3 app.py`), run through withMultiLangProcessor instead of `processor`. */
  readonly multilang?: string;
  /** The MultiLang protocol version it speaks. @default 'kcl2' */
  readonly multilangDialect?: 'kcl2' | 'kcl1';
  /** Chance that a record fails on its first delivery, on top of the one planned failure. @default 0 */
  readonly failRate?: number;
  readonly kinesisEndpoint?: string;
  readonly dynamoDbEndpoint?: string;
  /** Consume this existing stream instead of creating and filling one. */
  readonly stream?: string;
  /** Read the mapping settings from this synthesized template instead of synthesizing bin/app.ts. */
  readonly template?: string;
  /** Explicit settings; override those of the template. Given alone, no template is read. */
  readonly settings?: Partial<EventSourceMappingSettings>;
  /** Where explicit `settings` come from, for the summary. @default 'explicit settings' */
  readonly settingsSource?: string;
  /** The settings of the app, read when neither `template` nor `settings` is given (npm start: bin/app.ts). */
  readonly appSettings?: { readonly load: () => Promise<EventSourceMappingSettings>; readonly source: string };
  /** How the processor module is loaded, once the function's environment is set. @default - `require` */
  readonly loadModule?: ModuleLoader;
  /** Failed invocations, none with progress, after which the run stops with the error. @default 5 */
  readonly failedInvocationsLimit?: number;
  /** Settings laid over those of the app or template (e.g. `--batch-size`). */
  readonly overrides?: Partial<EventSourceMappingSettings>;
  /** Reshards done midway, in order. @default ['split'] */
  readonly reshards?: readonly Reshard[];
  /** Where on-failure records are appended. @default - a new file in the temp directory */
  readonly onFailureFile?: string;
  /** Live progress bars. @default - when stderr is a terminal */
  readonly progress?: boolean;
  /** Print the runtime's warnings and errors as they happen. */
  readonly verbose?: boolean;
  /** Check each delivery against the durable checkpoint (one extra read per batch). @default true */
  readonly verifyCheckpoints?: boolean;
  /** Give up after this long. @default 120000 */
  readonly timeoutMs?: number;
}

export interface DemoResult {
  readonly ok: boolean;
  readonly summary: RunSummary;
  readonly text: string;
  readonly produced: readonly ProducedRecord[];
  /** Present when the processor is a factory the runner can watch. */
  readonly deliveries?: DeliveryLog;
  /** Deliveries that reached the processor at or below the durable checkpoint. */
  readonly deliveriesBelowCheckpoint: number;
}

/**
 * The local demo: emulators (or given endpoints), a stream and checkpoint
 * table, records plain and KPL-aggregated, the processor behind the real
 * runtime, invoked by the emulated event source mapping with the deployment's
 * settings, a reshard midway, a planned failure, progress, and a summary with
 * the checks a KCL user cares about.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const began = Date.now();
  const recordCount = options.records ?? 1000;
  const shardCount = options.shards ?? 2;
  const failRate = options.failRate ?? 0;
  if (!Number.isInteger(recordCount) || recordCount < 1) throw new RangeError(`records must be a positive integer, got ${recordCount}`);
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 50) throw new RangeError(`shards must be an integer in [1, 50], got ${shardCount}`);
  if (!(failRate >= 0 && failRate < 1)) throw new RangeError(`fail rate must be in [0, 1), got ${failRate}`);

  // Cheapest checks first: a missing module or a bad endpoint fails before anything is synthesized.
  if (options.multilang !== undefined && options.processor !== undefined) {
    throw new RangeError('give either a processor module or a MultiLang command, not both');
  }
  const processorModule = options.processor ?? DEFAULT_PROCESSOR_MODULE;
  if (options.multilang === undefined) resolveProcessorModule(processorModule);
  const services = await connectLocalServices(options);
  let progress: RunProgress | undefined;
  try {
    const { settings, source: settingsSource } = await loadSettings(options);
    progress = new RunProgress(options.progress);
    const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const streamName = options.stream ?? `kcl-lambda-demo-${runId}`;
    const tableName = `kcl-lambda-demo-${runId}-checkpoints`;
    if (options.stream) {
      if (!(await streamExists(services.kinesis, streamName))) throw new StreamNotFoundError(streamName);
    } else {
      await createStream(services.kinesis, streamName, shardCount);
    }
    await ensureCheckpointTable(services.dynamoDb, tableName);
    const environment = runtimeEnvironment(services, settings, tableName, streamName);
    // A handler module logs through its own logger: keep its per-batch lines out of the summary unless asked.
    if (!options.verbose && process.env.AWS_LAMBDA_LOG_LEVEL === undefined) environment.AWS_LAMBDA_LOG_LEVEL = 'WARN';
    const restore = setEnvironment(environment);

    try {
      // Loaded only now: a module that builds its handler (and reads its environment) at load sees the function's.
      const processor =
        options.multilang !== undefined
          ? multiLangProcessor(options.multilang, options.multilangDialect, options.verbose)
          : await loadProcessorModule(processorModule, options.loadModule);
      return await runAgainst({
        options,
        services,
        settings,
        settingsSource,
        processor,
        progress,
        streamName,
        tableName,
        recordCount,
        failRate,
        began,
      });
    } finally {
      restore();
    }
  } finally {
    progress?.stop();
    await services.close();
  }
}

interface RunContext {
  readonly options: DemoOptions;
  readonly services: LocalServices;
  readonly settings: EventSourceMappingSettings;
  readonly settingsSource: string;
  readonly processor: Awaited<ReturnType<typeof loadProcessorModule>>;
  readonly progress: RunProgress;
  readonly streamName: string;
  readonly tableName: string;
  readonly recordCount: number;
  readonly failRate: number;
  readonly began: number;
}

async function runAgainst(run: RunContext): Promise<DemoResult> {
  const { options, services, settings, progress, streamName, tableName } = run;
  const producing = !options.stream;
  const produced: ProducedRecord[] = [];
  const firstHalf = Math.max(1, Math.ceil(run.recordCount / 2));

  if (producing) produced.push(...(await produceRecords(services.kinesis, streamName, { count: firstHalf, prefix: 'record' })));

  // One plain record and one record inside an aggregate fail once: a partial retry,
  // and a resumed aggregate whose earlier user records the runtime skips.
  const plainVictim = produced.filter((record) => !record.aggregated)[Math.floor(produced.length / 3)];
  const aggregatedVictim = produced.filter((record) => record.aggregated && record.subSequenceNumber === 2)[0];
  const plan = new FaultPlan({
    failOncePayloads: [plainVictim?.payload, aggregatedVictim?.payload].filter((payload): payload is string => !!payload),
    failRate: run.failRate,
  });

  const watch = new FailureWatch(options.failedInvocationsLimit);
  const runtimeStats = new RuntimeStatsLogger((level, message, fields) => {
    if (level === 'error') watch.runtimeError(message, fields.error === undefined ? undefined : String(fields.error));
    if (options.verbose && (level === 'warn' || level === 'error')) {
      progress.log(`[${level}] ${message}${fields.shardId ? ` (${String(fields.shardId)})` : ''}${fields.error ? `: ${String(fields.error)}` : ''}`);
    }
  });
  let deliveries: DeliveryLog | undefined;
  let deliveriesBelowCheckpoint = 0;
  let handler: KinesisBatchHandler;
  if (run.processor.kind === 'factory') {
    const log = new DeliveryLog();
    deliveries = log;
    const verify = options.verifyCheckpoints ?? true;
    const observer = {
      delivered: async (shardId: string, records: readonly KinesisUserRecord[]) => {
        log.delivered(shardId, records);
        if (verify && (await countAtOrBelowCheckpoint(services, tableName, shardId, records)) > 0) deliveriesBelowCheckpoint += 1;
      },
      processed: (shardId: string, records: readonly KinesisUserRecord[]) => log.processed(shardId, records),
    };
    handler = withKclProcessor(instrumentProcessorFactory(run.processor.factory, { plan, observer }), {
      logger: runtimeStats,
      metrics: false,
    });
  } else {
    handler = failingHandler(run.processor.handler, plan);
  }

  const onFailure = new JsonLinesOnFailureDestination(
    options.onFailureFile ?? join(mkdtempSync(join(tmpdir(), 'kcl-lambda-local-')), 'on-failure.jsonl'),
  );
  const mapping = new EmulatedEventSourceMapping({
    kinesis: services.kinesis,
    streamName,
    handler,
    settings,
    onFailure,
    pollIntervalMs: 50,
    shardDiscoveryIntervalMs: 250,
    observer: {
      invocationFinished: (invocation) => watch.invocationFinished(invocation),
      shardStarted: (shardId, parents) => {
        if (parents.length > 0) progress.log(`${shardId} started after its parent${parents.length > 1 ? 's' : ''} ${parents.join(' + ')} finished`);
      },
      batchDiscarded: (record) =>
        progress.log(`discarded ${record.KinesisBatchInfo.batchSize} record(s) of ${record.KinesisBatchInfo.shardId}: ${record.requestContext.condition}`),
    },
  });

  const producedPerShard = (): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const record of produced) counts.set(record.shardId, (counts.get(record.shardId) ?? 0) + 1);
    return counts;
  };
  const showProgress = () => {
    const stats = mapping.stats();
    const perShard = producedPerShard();
    let done = 0;
    for (const status of mapping.shardStatuses()) {
      const shardDone = deliveries ? deliveries.processedCount(status.shardId) : status.stats.recordsSucceeded;
      done += shardDone;
      if (status.phase === 'waitingForParents') continue;
      progress.setShardTotal(status.shardId, deliveries ? perShard.get(status.shardId) ?? 0 : shardDone + status.bufferedRecords);
      progress.setShard(status.shardId, shardDone, `${status.phase}, ${status.stats.invocations} invocations, ${status.stats.retries} retries`);
    }
    progress.setOverall(done, producing ? produced.length : done, `${stats.invocations} invocations, ${stats.retries} retries, ${plan.injected} injected failures`);
  };
  const ticker = setInterval(showProgress, 100);
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const stopReading = run.processor.kind === 'handler' ? watch.readStandardError() : () => undefined;

  try {
    await mapping.initialize();
    mapping.start();
    if (producing) {
      // Let about half of what is in the stream be processed, then reshard under load.
      await waitFor(() => (deliveries ? deliveries.processedPayloads.size : mapping.stats().recordsSucceeded) >= firstHalf / 2, deadline, watch);
      for (const reshard of options.reshards ?? ['split']) {
        const shards = await listAllShards(services.kinesis, streamName);
        if (reshard === 'split') {
          const target = shards.find((shard) => shard.SequenceNumberRange?.EndingSequenceNumber === undefined)!;
          const children = await splitShardInHalf(services.kinesis, streamName, target.ShardId!);
          progress.log(`split ${target.ShardId} into ${children.map((child) => child.ShardId).join(' + ')}`);
        } else {
          const pair = adjacentOpenShards(shards);
          if (!pair) throw new Error('No two adjacent open shards to merge; use more shards.');
          const merged = await mergeAdjacentShards(services.kinesis, streamName, pair[0].ShardId!, pair[1].ShardId!);
          progress.log(`merged ${pair[0].ShardId} + ${pair[1].ShardId} into ${merged.ShardId}`);
        }
      }
      produced.push(
        ...(await produceRecords(services.kinesis, streamName, {
          count: run.recordCount - firstHalf,
          firstIndex: firstHalf,
          prefix: 'record',
        })),
      );
    }
    await mapping.stop();
    await Promise.race([mapping.runUntilIdle({ timeoutMs: Math.max(1000, deadline - Date.now()) }), watch.tripped]);
  } finally {
    clearInterval(ticker);
    stopReading();
    await mapping.stop();
  }
  showProgress();
  progress.stop();

  const checkpointRows = await readCheckpointRows(services.dynamoDb, tableName);
  const problems = findProblems({ produced, deliveries, mapping, checkpointRows, deliveriesBelowCheckpoint, producing });
  const perShard = producedPerShard();
  const shards: ShardSummary[] = mapping.shardStatuses().map((status) => ({
    shardId: status.shardId,
    parents: status.parentShardIds,
    state: status.phase === 'finished' ? 'finished' : status.closed ? 'closed' : 'open',
    produced: producing ? perShard.get(status.shardId) ?? 0 : undefined,
    processed: deliveries?.processedCount(status.shardId),
    kinesisRecords: status.stats.recordsSucceeded,
    invocations: status.stats.invocations,
    retries: status.stats.retries,
    duplicatesSkipped: deliveries ? runtimeStats.shards.get(status.shardId)?.duplicatesSkipped ?? 0 : undefined,
    discarded: status.stats.recordsDiscarded,
  }));
  const stats = mapping.stats();
  const summary: RunSummary = {
    streamName,
    tableName,
    processor: `${run.processor.exportName} from ${run.processor.path} (${run.processor.kind === 'factory' ? 'via withKclProcessor' : 'handler'})`,
    settingsSource: run.settingsSource,
    settings,
    shards,
    checkpointRows,
    totals: {
      produced: producing ? produced.length : undefined,
      processed: deliveries?.processedPayloads.size,
      invocations: stats.invocations,
      retries: stats.retries,
      injectedFailures: plan.injected,
      duplicatesSkipped: deliveries ? runtimeStats.total().duplicatesSkipped : undefined,
      onFailureRecords: stats.onFailureRecords,
    },
    onFailureFile: onFailure.path,
    elapsedMs: Date.now() - run.began,
    problems,
  };
  return { ok: problems.length === 0, summary, text: renderSummary(summary), produced, deliveries, deliveriesBelowCheckpoint };
}

function findProblems(input: {
  produced: readonly ProducedRecord[];
  deliveries?: DeliveryLog;
  mapping: EmulatedEventSourceMapping;
  checkpointRows: readonly { leaseKey: string; checkpoint?: string }[];
  deliveriesBelowCheckpoint: number;
  producing: boolean;
}): string[] {
  const problems: string[] = [];
  const { deliveries, mapping } = input;
  if (input.producing && deliveries) {
    const missing = input.produced.filter((record) => !deliveries.processedPayloads.has(record.payload));
    if (missing.length > 0) {
      problems.push(`${missing.length} record(s) never processed, e.g. ${missing.slice(0, 3).map((record) => record.payload).join(', ')}`);
    }
  }
  if (input.producing && !deliveries) {
    const kinesisRecords = new Set(input.produced.map((record) => record.sequenceNumber)).size;
    const succeeded = mapping.stats().recordsSucceeded;
    if (succeeded < kinesisRecords) problems.push(`${kinesisRecords - succeeded} Kinesis record(s) never processed`);
  }
  const outOfOrder = deliveries?.outOfOrderShards() ?? [];
  if (outOfOrder.length > 0) problems.push(`first processing out of stream order on ${outOfOrder.join(', ')}`);
  if (input.deliveriesBelowCheckpoint > 0) {
    problems.push(`${input.deliveriesBelowCheckpoint} batch(es) gave the processor records at or below the durable checkpoint`);
  }
  const discarded = mapping.stats().recordsDiscarded;
  if (discarded > 0) problems.push(`${discarded} Kinesis record(s) discarded to the on-failure destination`);
  const rows = new Map(input.checkpointRows.map((row) => [row.leaseKey, row]));
  for (const status of mapping.shardStatuses()) {
    // A closed shard ends with SHARD_END once a child has started (the runtime writes it then).
    const childStarted = mapping.shardStatuses().some((other) => other.parentShardIds.includes(status.shardId) && other.stats.invocations > 0);
    if (status.closed && childStarted && rows.get(status.shardId)?.checkpoint !== SHARD_END) {
      problems.push(`closed shard ${status.shardId} has checkpoint ${rows.get(status.shardId)?.checkpoint ?? 'none'}, not SHARD_END`);
    }
  }
  return problems;
}

/** Records at or below the shard's durable checkpoint (a consistent read of its lease). */
async function countAtOrBelowCheckpoint(
  services: LocalServices,
  tableName: string,
  shardId: string,
  records: readonly KinesisUserRecord[],
): Promise<number> {
  const { Item } = await services.dynamoDb.send(
    new GetItemCommand({ TableName: tableName, Key: { leaseKey: { S: shardId } }, ConsistentRead: true }),
  );
  const checkpoint = Item?.checkpoint?.S;
  if (!checkpoint) return 0;
  if (checkpoint === SHARD_END) return records.length;
  if (!isNumericSequenceNumber(checkpoint)) return 0;
  const position = { sequenceNumber: checkpoint, subSequenceNumber: Number(Item?.checkpointSubSequenceNumber?.N ?? 0) };
  return records.filter((record) => compareExtended(record, position) <= 0).length;
}

async function loadSettings(options: DemoOptions): Promise<{ settings: EventSourceMappingSettings; source: string }> {
  if (options.template) {
    const fromTemplate = settingsFromTemplateFile(options.template);
    const settings = resolveSettings({ ...fromTemplate, ...options.settings, ...options.overrides });
    return { settings, source: `template ${options.template}` };
  }
  if (options.settings || !options.appSettings) {
    const settings = resolveSettings({ ...options.settings, ...options.overrides });
    return { settings, source: options.settingsSource ?? (options.settings ? 'explicit settings' : "Lambda's defaults") };
  }
  const fromApp = await options.appSettings.load();
  return { settings: resolveSettings({ ...fromApp, ...options.overrides }), source: options.appSettings.source };
}

/** The environment the deployed function gets, pointed at the local services. */
function runtimeEnvironment(
  services: LocalServices,
  settings: EventSourceMappingSettings,
  tableName: string,
  streamName: string,
): Record<string, string> {
  const { NODE_OPTIONS: _nodeOptions, ...fromTemplate } = settings.environment;
  return {
    ...fromTemplate,
    KCL_CHECKPOINT_TABLE: tableName,
    KCL_APPLICATION_NAME: fromTemplate.KCL_APPLICATION_NAME ?? streamName,
    AWS_ENDPOINT_URL_KINESIS: services.kinesisEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: services.dynamoDbEndpoint,
    AWS_REGION: LOCAL_REGION,
    AWS_LAMBDA_FUNCTION_NAME: settings.functionName,
    // Emulators take any credentials; given endpoints keep the caller's, if any.
    ...((services.emulated.kinesis && services.emulated.dynamoDb) || !process.env.AWS_ACCESS_KEY_ID
      ? { AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey }
      : {}),
  };
}

/** Sets environment variables; returns how to put the previous values back. */
function setEnvironment(values: Record<string, string>): () => void {
  const previous = new Map(Object.keys(values).map((key) => [key, process.env[key]]));
  Object.assign(process.env, values);
  return () => {
    for (const [key, value] of previous) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

async function waitFor(condition: () => boolean, deadline: number, watch: FailureWatch): Promise<void> {
  while (!condition()) {
    watch.check();
    if (Date.now() > deadline) throw new Error('Timed out waiting for the first records to be processed');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
