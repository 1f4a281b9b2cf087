/**
 * The setup both fixture processors' tests share (Python, kcl2; Go, kcl1): dynalite and
 * kinesalite, one stream shard, a fresh checkpoint table, journal and logger per test, a
 * handler running the fixture with that journal, and the helpers the cases read the
 * outcome with. Call it inside a describe(); its fields are set by the hooks it registers, and its
 * helpers are arrow functions, so they can be destructured.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { KinesisStreamEvent } from 'aws-lambda';
import { type KclOptions, type KinesisBatchHandler, type MultiLangProcessorOptions, withMultiLangProcessor } from '../../../lambda';
import {
  type RuntimeHarness,
  type SyntheticRecord,
  type TestStream,
  kinesisEvent,
  memoryLogger,
  sequenceNumbers,
  startRuntimeHarness,
} from '../../support/runtime-harness';
import { putRecords, readShardAsEvent, splitShard } from '../../support/kinesis-stream';
import { FixtureJournals, type Journal, failures, loggedText } from './multilang-harness';

export interface MultiLangSuiteSettings {
  /** Runs once before the emulators start, with a temporary folder (e.g. to compile the fixture). */
  readonly prepare?: (dir: string) => void;
  /** The fixture's command and dialect (read after prepare). */
  readonly processor: () => Pick<MultiLangProcessorOptions, 'command' | 'dialect'>;
}

export class MultiLangSuite {
  harness!: RuntimeHarness;
  stream!: TestStream;
  shardId!: string;
  tableName!: string;
  journal!: Journal;
  logger!: ReturnType<typeof memoryLogger>;
  readonly seqs = sequenceNumbers(12);
  readonly journals = new FixtureJournals();

  constructor(private readonly settings: MultiLangSuiteSettings) {}

  /** A handler running the fixture with this test's journal; `options.env` is added to the journal's variable. */
  readonly handlerFor = (extra: KclOptions = {}, options: Partial<MultiLangProcessorOptions> = {}): KinesisBatchHandler =>
    withMultiLangProcessor(
      {
        ...this.settings.processor(),
        onOutput: this.journal.onOutput,
        ...options,
        env: { KCL_FIXTURE_JOURNAL: this.journal.path, ...options.env },
      },
      this.harness.options(this.tableName, { logger: this.logger, ...extra }),
    );

  /** Records `seqs[from..]` on the suite's shard, with these data commands. */
  readonly batch = (from: number, ...commands: (string | Buffer)[]): KinesisStreamEvent =>
    kinesisEvent(
      this.stream.streamArn,
      this.shardId,
      commands.map((data, index): SyntheticRecord => ({ sequenceNumber: this.seqs[from + index], data })),
    );

  /** The shard's checkpoint in the table: [sequence number, sub-sequence number]. */
  readonly position = async (shard = this.shardId): Promise<(string | undefined)[]> => {
    const item = await this.harness.row(this.tableName, shard);
    return [item?.checkpoint?.S, item?.checkpointSubSequenceNumber?.N];
  };

  readonly logged = (text: string): boolean => loggedText(this.logger.lines).some((line) => line.includes(text));

  /** Another worker takes the lease (checkpoint `at`) just before the engine's next write to the shard's row. */
  readonly takeOverBeforeNextWrite = (at: string): void => {
    let done = false;
    this.harness.fault = (commandName, input) => {
      const key = input.Key as Record<string, AttributeValue> | undefined;
      if (commandName !== 'UpdateItemCommand' || key?.leaseKey?.S !== this.shardId || done) return undefined;
      return async () => {
        done = true;
        const current = await this.harness.row(this.tableName, this.shardId);
        await this.harness.putRow(this.tableName, {
          ...current,
          leaseKey: { S: this.shardId },
          checkpoint: { S: at },
          checkpointSubSequenceNumber: { N: '0' },
          leaseCounter: { N: String(Number(current?.leaseCounter?.N ?? '0') + 1) },
          leaseOwner: { S: 'worker-2' },
        });
      };
    };
  };

  /**
   * Shard end on a real kinesalite split: the parent's records (these commands) go through
   * `handler`, the shard is split, and a batch of the first child's (one 'ok') follows,
   * whose lineage check ends the parent. Both batches must succeed.
   */
  readonly handleAcrossSplit = async (handler: KinesisBatchHandler, ...parentCommands: string[]): Promise<{ parent: string; child: string }> => {
    const { kinesis } = this.harness;
    const { streamName, shardIds } = await this.harness.newStream(1);
    const [parent] = shardIds;
    await putRecords(kinesis, streamName, parentCommands.map((data) => ({ data })), { shardId: parent });
    expect(failures(await handler(await readShardAsEvent(kinesis, streamName, parent)))).toEqual([]);
    const [child] = await splitShard(kinesis, streamName, parent);
    await putRecords(kinesis, streamName, [{ data: 'ok' }], { shardId: child });
    expect(failures(await handler(await readShardAsEvent(kinesis, streamName, child)))).toEqual([]);
    return { parent, child };
  };

  /** Registers the suite's hooks in the enclosing describe(). */
  register(): this {
    beforeAll(async () => {
      this.settings.prepare?.(this.journals.dir);
      this.harness = await startRuntimeHarness();
      this.stream = await this.harness.newStream(1);
      this.shardId = this.stream.shardIds[0];
    }, 180_000);
    afterAll(async () => {
      await this.harness?.close();
      this.journals.remove();
    });
    beforeEach(async () => {
      this.tableName = await this.harness.newTable();
      this.harness.fault = undefined;
      this.journal = this.journals.next();
      this.logger = memoryLogger();
    });
    // Where a fixture saw what its real client would choke on (kclpy's parsing, the Go client's retries).
    afterEach(() => {
      expect(this.journal.of('fatal')).toEqual([]);
      expect(this.journal.of('retryStorm')).toEqual([]);
    });
    return this;
  }
}

export function multiLangSuite(settings: MultiLangSuiteSettings): MultiLangSuite {
  return new MultiLangSuite(settings).register();
}
