import type { KinesisStreamBatchResponse } from 'aws-lambda';
import {
  CheckpointError,
  type Checkpointer,
  type KclOptions,
  type KinesisUserRecord,
  type RecordProcessor,
  withKclProcessor,
} from '../../lambda';
import {
  type RuntimeHarness,
  type TestStream,
  awsError,
  kinesisEvent,
  memoryLogger,
  sequenceNumbers,
  startRuntimeHarness,
} from '../support/runtime-harness';

/** A processor that records every lifecycle call; `onRecords` decides what processRecords does. */
function recordingProcessors(onRecords?: (records: readonly KinesisUserRecord[], checkpointer: Checkpointer, call: number) => Promise<void> | void) {
  const calls: string[] = [];
  const delivered: string[] = [];
  const instances: string[] = [];
  let processCalls = 0;
  const factory = (shardId: string): RecordProcessor => {
    instances.push(shardId);
    return {
      initialize: ({ extendedSequenceNumber }) => void calls.push(`initialize ${shardId} ${extendedSequenceNumber.sequenceNumber}`),
      processRecords: async ({ records, checkpointer }) => {
        calls.push(`processRecords ${shardId} ${records.length}`);
        for (const record of records) delivered.push(record.sequenceNumber);
        processCalls += 1;
        await onRecords?.(records, checkpointer, processCalls);
      },
      shardEnded: async ({ checkpointer }) => {
        calls.push(`shardEnded ${shardId}`);
        await checkpointer.checkpoint();
      },
      leaseLost: () => void calls.push(`leaseLost ${shardId}`),
    };
  };
  return { calls, delivered, instances, factory };
}

const failures = (response: KinesisStreamBatchResponse) => response.batchItemFailures.map((failure) => failure.itemIdentifier);

describe('withKclProcessor against dynalite', () => {
  let harness: RuntimeHarness;
  let stream: TestStream;
  let tableName: string;
  let shardId: string;
  let logger: ReturnType<typeof memoryLogger>;

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    stream = await harness.newStream(2);
  });
  afterAll(async () => harness.close());

  beforeEach(async () => {
    tableName = await harness.newTable();
    shardId = stream.shardIds[0];
    harness.requests.length = 0;
    harness.fault = undefined;
    logger = memoryLogger();
  });

  const options = (extra: KclOptions = {}) => harness.options(tableName, { logger, ...extra });
  const event = (seqs: readonly string[], shard = shardId) =>
    kinesisEvent(stream.streamArn, shard, seqs.map((sequenceNumber) => ({ sequenceNumber })));

  test('a new shard end to end: initialize at TRIM_HORIZON, records in order, one checkpoint at the last record', async () => {
    const seqs = sequenceNumbers(5);
    const processors = recordingProcessors();
    const handler = withKclProcessor(processors.factory, options());

    const response = await handler(event(seqs));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(processors.calls).toEqual([`initialize ${shardId} TRIM_HORIZON`, `processRecords ${shardId} 5`]);
    expect(processors.delivered).toEqual(seqs);
    const row = await harness.row(tableName, shardId);
    expect(row?.checkpoint).toEqual({ S: seqs[4] });
    expect(row?.checkpointSubSequenceNumber).toEqual({ N: '0' });
  });

  test('the written row has exactly the KCL 3.x lease-table attribute names and types', async () => {
    const seqs = sequenceNumbers(3);
    const handler = withKclProcessor(recordingProcessors().factory, options());
    const next = sequenceNumbers(2, BigInt(seqs[2]) + 1n);
    await handler(event(seqs));
    await handler(event(next));

    const row = await harness.row(tableName, shardId);
    expect(Object.keys(row ?? {}).sort()).toEqual(
      ['checkpoint', 'checkpointSubSequenceNumber', 'entityType', 'leaseCounter', 'leaseKey', 'leaseOwner', 'ownerSwitchesSinceCheckpoint'].sort(),
    );
    expect(row).toEqual({
      leaseKey: { S: shardId },
      entityType: { S: 'LEASE' },
      checkpoint: { S: next[1] },
      checkpointSubSequenceNumber: { N: '0' },
      leaseCounter: { N: '2' },
      leaseOwner: { S: expect.stringMatching(/^kcl-lambda:/) },
      ownerSwitchesSinceCheckpoint: { N: '0' },
    });
  });

  test('a replayed batch delivers nothing twice and writes nothing', async () => {
    const seqs = sequenceNumbers(4);
    const processors = recordingProcessors();
    const handler = withKclProcessor(processors.factory, options());
    await handler(event(seqs));
    harness.requests.length = 0;

    const response = await handler(event(seqs));

    expect(failures(response)).toEqual([]);
    expect(processors.delivered).toEqual(seqs);
    expect(harness.requests).toEqual(['GetItemCommand']);
  });

  test('sequence numbers of different lengths are ordered numerically, not as strings', async () => {
    // As strings "100" < "99"; as numbers 99 < 100 < 1000.
    await harness.putRow(tableName, {
      leaseKey: { S: shardId },
      checkpoint: { S: '99' },
      checkpointSubSequenceNumber: { N: '0' },
      leaseCounter: { N: '1' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
    });
    const processors = recordingProcessors();
    const handler = withKclProcessor(processors.factory, options());

    await handler(event(['98', '99', '100', '1000']));

    expect(processors.delivered).toEqual(['100', '1000']);
    expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: '1000' });
  });

  test('one processor instance per shard per container; initialize once per shard', async () => {
    const processors = recordingProcessors();
    const handler = withKclProcessor(processors.factory, options());
    const [a, b] = stream.shardIds;
    const seqs = sequenceNumbers(6);

    await handler(event(seqs.slice(0, 2), a));
    await handler(event(seqs.slice(0, 2), b));
    await handler(event(seqs.slice(2, 4), a));
    await handler(event(seqs.slice(4, 6), a));

    expect(processors.instances).toEqual([a, b]);
    expect(processors.calls.filter((call) => call.startsWith('initialize'))).toEqual([
      `initialize ${a} TRIM_HORIZON`,
      `initialize ${b} TRIM_HORIZON`,
    ]);
  });

  test('processRecords throwing after an explicit checkpoint: reported from the next record, resumed there', async () => {
    const seqs = sequenceNumbers(5);
    const processors = recordingProcessors(async (records, checkpointer, call) => {
      if (call === 1) {
        await checkpointer.checkpoint(records[1]);
        throw new Error('boom at the third record');
      }
    });
    const handler = withKclProcessor(processors.factory, options());

    const first = await handler(event(seqs));
    expect(failures(first)).toEqual([seqs[2]]);
    expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[1] });
    expect(logger.lines.some((line) => line.level === 'error' && line.message.includes('processRecords failed'))).toBe(true);

    // Lambda retries from the reported record.
    const second = await handler(event(seqs.slice(2)));
    expect(failures(second)).toEqual([]);
    expect(processors.delivered).toEqual([...seqs, ...seqs.slice(2)]);
    expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[4] });
  });

  test('an explicit checkpoint at the last record is not written twice', async () => {
    const seqs = sequenceNumbers(3);
    const processors = recordingProcessors(async (_records, checkpointer) => checkpointer.checkpoint());
    const handler = withKclProcessor(processors.factory, options());
    await handler(event(seqs)); // first batch creates the row
    harness.requests.length = 0;

    await handler(event(sequenceNumbers(3, BigInt(seqs[2]) + 1n)));

    expect(harness.requests).toEqual(['GetItemCommand', 'UpdateItemCommand']);
  });

  describe('checkpoint validation (KCL rules): IllegalArgumentException and nothing written', () => {
    const cases: [string, (records: readonly KinesisUserRecord[], checkpointer: Checkpointer) => Promise<void>][] = [
      ['below the last checkpoint', (_records, checkpointer) => checkpointer.checkpoint('100')],
      ['above the largest record delivered', (records, checkpointer) => checkpointer.checkpoint((BigInt(records[records.length - 1].sequenceNumber) + 1n).toString())],
      ['at a sub-sequence above the largest delivered', (records, checkpointer) => checkpointer.checkpoint(records[records.length - 1].sequenceNumber, 1)],
      ['not a number', (_records, checkpointer) => checkpointer.checkpoint('12ab')],
      ['an empty string', (_records, checkpointer) => checkpointer.checkpoint('')],
      ['a negative sub-sequence number', (records, checkpointer) => checkpointer.checkpoint(records[0].sequenceNumber, -1)],
      ['a fractional sub-sequence number', (records, checkpointer) => checkpointer.checkpoint(records[0].sequenceNumber, 0.5)],
      ['the TRIM_HORIZON sentinel (below the last checkpoint)', (_records, checkpointer) => checkpointer.checkpoint('TRIM_HORIZON')],
      ['the SHARD_END sentinel on an open shard', (_records, checkpointer) => checkpointer.checkpoint('SHARD_END')],
      ['a record object without a sequence number', (_records, checkpointer) => checkpointer.checkpoint({} as KinesisUserRecord)],
    ];

    test.each(cases)('%s', async (_name, attempt) => {
      const seqs = sequenceNumbers(4);
      const handler = withKclProcessor(recordingProcessors().factory, options());
      await handler(event(seqs.slice(0, 2)));
      const before = await harness.row(tableName, shardId);
      let caught: unknown;
      const validating = withKclProcessor(
        () => ({
          initialize: () => undefined,
          shardEnded: () => undefined,
          processRecords: async ({ records, checkpointer }) => {
            caught = await attempt(records, checkpointer).then(
              () => undefined,
              (error: unknown) => error,
            );
            throw new Error('stop here so that no auto checkpoint is written');
          },
        }),
        options(),
      );

      const response = await validating(event(seqs.slice(2)));

      expect(caught).toBeInstanceOf(CheckpointError);
      expect((caught as CheckpointError).code).toBe('IllegalArgumentException');
      expect(await harness.row(tableName, shardId)).toEqual(before);
      expect(failures(response)).toEqual([seqs[2]]);
    });
  });

  test('a row seeded by a KCL worker (worker-1, counter 42, mid-batch checkpoint) resumes after its checkpoint', async () => {
    const seqs = sequenceNumbers(6);
    await harness.putRow(tableName, {
      leaseKey: { S: shardId },
      checkpoint: { S: seqs[2] },
      checkpointSubSequenceNumber: { N: '0' },
      leaseCounter: { N: '42' },
      leaseOwner: { S: 'worker-1' },
      ownerSwitchesSinceCheckpoint: { N: '3' },
    });
    const processors = recordingProcessors();
    const handler = withKclProcessor(processors.factory, options());

    const response = await handler(event(seqs));

    expect(failures(response)).toEqual([]);
    expect(processors.calls[0]).toBe(`initialize ${shardId} ${seqs[2]}`);
    expect(processors.delivered).toEqual(seqs.slice(3));
    const row = await harness.row(tableName, shardId);
    expect(row?.checkpoint).toEqual({ S: seqs[5] });
    expect(row?.leaseCounter).toEqual({ N: '43' });
    expect(row?.leaseOwner?.S).toMatch(/^kcl-lambda:/);
    expect(row?.ownerSwitchesSinceCheckpoint).toEqual({ N: '0' });
  });

  test.each([
    ['leaseCounter 0, as KCL creates leases no worker has taken', { leaseCounter: { N: '0' } }],
    ['no leaseCounter at all (a row written by hand)', {}],
  ])('a row with %s is used, not mistaken for a missing row', async (_name, counter) => {
    const seqs = sequenceNumbers(3);
    await harness.putRow(tableName, {
      leaseKey: { S: shardId },
      checkpoint: { S: 'TRIM_HORIZON' },
      checkpointSubSequenceNumber: { N: '0' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
      ...counter,
    });
    const processors = recordingProcessors();
    const handler = withKclProcessor(processors.factory, options());

    expect(failures(await handler(event(seqs)))).toEqual([]);
    expect(failures(await handler(event(sequenceNumbers(2, BigInt(seqs[2]) + 1n))))).toEqual([]);

    expect(processors.calls).not.toContain(`leaseLost ${shardId}`);
    const row = await harness.row(tableName, shardId);
    expect(row?.leaseCounter).toEqual({ N: '2' });
    expect(row?.checkpoint).toEqual({ S: (BigInt(seqs[2]) + 1001n).toString() });
  });

  test('a corrupt row fails the invocation with an error naming the table, the shard and the values', async () => {
    await harness.putRow(tableName, { leaseKey: { S: shardId }, checkpoint: { S: 'not-a-number' }, leaseCounter: { N: '3' } });
    const processors = recordingProcessors();
    const handler = withKclProcessor(processors.factory, options());
    await expect(handler(event(sequenceNumbers(1)))).rejects.toThrow(
      new RegExp(`The lease of ${shardId} in checkpoint table "${tableName}" is corrupt: checkpoint "not-a-number"`),
    );
    expect(processors.calls).toEqual([]);
  });

  test('a write whose response was lost and that the SDK retried counts as written, not as a lost lease', async () => {
    const seqs = sequenceNumbers(4);
    const processors = recordingProcessors();
    const handler = withKclProcessor(processors.factory, options());
    await handler(event(seqs.slice(0, 1)));
    // The update reaches the table, then its response is lost and the retry's condition fails.
    let replayed = false;
    harness.dynamoDb.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'UpdateItemCommand' && !replayed) {
          replayed = true;
          return next(args);
        }
        return result;
      },
      { step: 'initialize', name: 'replayOnce' },
    );
    try {
      expect(failures(await handler(event(seqs.slice(1))))).toEqual([]);
    } finally {
      harness.dynamoDb.middlewareStack.remove('replayOnce');
    }
    expect(replayed).toBe(true);
    expect(processors.calls).not.toContain(`leaseLost ${shardId}`);
    expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[3] });
  });

  describe('a lost conditional write', () => {
    /** Another worker checkpoints `at` just before our write reaches the table. */
    const winnerWritesFirst = (at: string) => {
      let done = false;
      harness.fault = (commandName) =>
        commandName === 'UpdateItemCommand' && !done
          ? async () => {
              done = true;
              const current = await harness.row(tableName, shardId);
              await harness.putRow(tableName, {
                ...current,
                checkpoint: { S: at },
                leaseCounter: { N: String(Number(current?.leaseCounter?.N ?? '0') + 1) },
                leaseOwner: { S: 'worker-2' },
              });
            }
          : undefined;
    };

    test('explicit checkpoint: ShutdownException to the caller, leaseLost, winner kept, only records above it failed', async () => {
      const seqs = sequenceNumbers(5);
      const handler0 = withKclProcessor(recordingProcessors().factory, options());
      await handler0(event(seqs.slice(0, 1)));
      let caught: unknown;
      const processors = recordingProcessors(async (records, checkpointer) => {
        winnerWritesFirst(seqs[2]);
        caught = await checkpointer.checkpoint(records[records.length - 1]).catch((error: unknown) => error);
      });
      const handler = withKclProcessor(processors.factory, options());

      const response = await handler(event(seqs.slice(1)));

      expect((caught as CheckpointError).code).toBe('ShutdownException');
      expect(processors.calls).toContain(`leaseLost ${shardId}`);
      const row = await harness.row(tableName, shardId);
      expect(row?.checkpoint).toEqual({ S: seqs[2] });
      expect(row?.leaseOwner).toEqual({ S: 'worker-2' });
      expect(failures(response)).toEqual([seqs[3]]);
    });

    test('auto checkpoint: leaseLost, then a fresh processor and initialize on the next batch', async () => {
      const seqs = sequenceNumbers(6);
      const processors = recordingProcessors();
      const handler = withKclProcessor(processors.factory, options());
      await handler(event(seqs.slice(0, 1)));
      winnerWritesFirst(seqs[4]);

      const response = await handler(event(seqs.slice(1, 5)));
      expect(failures(response)).toEqual([]); // the winner's checkpoint covers the whole batch
      expect(processors.calls).toContain(`leaseLost ${shardId}`);
      expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[4] });

      await handler(event(seqs.slice(5)));
      expect(processors.instances).toEqual([shardId, shardId]);
      expect(processors.calls.slice(-2)).toEqual([`initialize ${shardId} ${seqs[4]}`, `processRecords ${shardId} 1`]);
    });
  });

  describe('the end-of-batch write failing after the SDK retries', () => {
    test.each([
      ['ProvisionedThroughputExceededException', 'ThrottlingException'],
      ['InternalServerError', 'KinesisClientLibDependencyException'],
    ])('%s: the batch is reported failed from the first un-checkpointed record (%s)', async (awsName, code) => {
      const seqs = sequenceNumbers(5);
      const handler = withKclProcessor(recordingProcessors().factory, options());
      await handler(event(seqs.slice(0, 2)));
      harness.fault = (commandName) =>
        commandName === 'UpdateItemCommand'
          ? async () => {
              throw awsError(awsName);
            }
          : undefined;

      const response = await handler(event(seqs.slice(2)));

      expect(failures(response)).toEqual([seqs[2]]);
      expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[1] });
      const logged = logger.lines.find((line) => line.message.includes('end-of-batch checkpoint failed'));
      expect((logged?.extra[0] as { error: CheckpointError }).error.code).toBe(code);
    });

    test('the caller of checkpoint() gets ThrottlingException', async () => {
      const seqs = sequenceNumbers(2);
      harness.fault = (commandName) =>
        commandName === 'PutItemCommand'
          ? async () => {
              throw awsError('ThrottlingException');
            }
          : undefined;
      let caught: unknown;
      const handler = withKclProcessor(
        recordingProcessors(async (records, checkpointer) => {
          caught = await checkpointer.checkpoint(records[0]).catch((error: unknown) => error);
        }).factory,
        options(),
      );

      const response = await handler(event(seqs));

      expect((caught as CheckpointError).code).toBe('ThrottlingException');
      expect(failures(response)).toEqual([seqs[0]]);
      expect(await harness.row(tableName, shardId)).toBeUndefined();
    });
  });

  describe("checkpointing: 'manual'", () => {
    test('records above the processor’s last checkpoint are reported failed', async () => {
      const seqs = sequenceNumbers(5);
      const processors = recordingProcessors(async (records, checkpointer) => checkpointer.checkpoint(records[2]));
      const handler = withKclProcessor(processors.factory, options({ checkpointing: 'manual' }));

      const response = await handler(event(seqs));

      expect(failures(response)).toEqual([seqs[3]]);
      expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[2] });
    });

    test('a processor that never checkpoints makes no progress, but its lease row exists', async () => {
      const seqs = sequenceNumbers(3);
      const processors = recordingProcessors();
      const handler = withKclProcessor(processors.factory, options({ checkpointing: 'manual' }));

      expect(failures(await handler(event(seqs)))).toEqual([seqs[0]]);
      expect(failures(await handler(event(seqs)))).toEqual([seqs[0]]);
      expect(processors.delivered).toEqual([...seqs, ...seqs]);
      expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: 'TRIM_HORIZON' });
    });

    test('checkpoint() with no argument checkpoints the largest record delivered', async () => {
      const seqs = sequenceNumbers(4);
      const handler = withKclProcessor(
        recordingProcessors(async (_records, checkpointer) => checkpointer.checkpoint()).factory,
        options({ checkpointing: 'manual' }),
      );
      expect(failures(await handler(event(seqs)))).toEqual([]);
      expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[3] });
    });
  });

  describe('DynamoDB requests per batch, counted on the client', () => {
    test('first batch: 1 read, 1 write; steady state: 1 read, 1 write; replay: 1 read', async () => {
      const seqs = sequenceNumbers(9);
      const handler = withKclProcessor(recordingProcessors().factory, options());

      await handler(event(seqs.slice(0, 3)));
      expect(harness.requests).toEqual(['GetItemCommand', 'PutItemCommand']);

      for (const start of [3, 6]) {
        harness.requests.length = 0;
        await handler(event(seqs.slice(start, start + 3)));
        expect(harness.requests).toEqual(['GetItemCommand', 'UpdateItemCommand']);
      }

      harness.requests.length = 0;
      await handler(event(seqs.slice(6)));
      expect(harness.requests).toEqual(['GetItemCommand']);
    });

    test('after a partial failure: 1 read and no write', async () => {
      const seqs = sequenceNumbers(3);
      const handler = withKclProcessor(recordingProcessors().factory, options());
      await handler(event(seqs.slice(0, 1)));
      harness.requests.length = 0;
      const failing = withKclProcessor(
        recordingProcessors(() => {
          throw new Error('fail');
        }).factory,
        options(),
      );

      await failing(event(seqs.slice(1)));

      expect(harness.requests).toEqual(['GetItemCommand']);
    });
  });

  describe('bad input and faults', () => {
    test.each([
      ['undefined', undefined, /no Records array/],
      ['an SQS event', { Records: [{ eventSource: 'aws:sqs', body: '{}' }] }, /Record 0 is not a Kinesis record: eventSource is "aws:sqs"/],
      ['an object without Records', { hello: 'world' }, /no Records array \(got keys \["hello"\]\)/],
      ['a record without a sequence number', { Records: [{ eventSource: 'aws:kinesis', kinesis: { data: '' } }] }, /no valid kinesis.sequenceNumber/],
    ])('%s is refused with an error that says what is wrong', async (_name, bad, message) => {
      const processors = recordingProcessors();
      const handler = withKclProcessor(processors.factory, options());
      await expect(handler(bad)).rejects.toThrow(message);
      expect(processors.calls).toEqual([]);
      expect(harness.requests).toEqual([]);
    });

    test('an empty batch succeeds without touching the table', async () => {
      const handler = withKclProcessor(recordingProcessors().factory, options());
      expect(await handler({ Records: [] })).toEqual({ batchItemFailures: [] });
      expect(harness.requests).toEqual([]);
    });

    test('bad base64: the records before it are processed and checkpointed, it is reported failed', async () => {
      const seqs = sequenceNumbers(4);
      const processors = recordingProcessors();
      const handler = withKclProcessor(processors.factory, options());
      const bad = event(seqs);
      bad.Records[2].kinesis.data = 'not*base64!';

      const response = await handler(bad);

      expect(processors.delivered).toEqual(seqs.slice(0, 2));
      expect(failures(response)).toEqual([seqs[2]]);
      expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[1] });
      expect(logger.lines.some((line) => line.level === 'error' && /not valid base64/.test(line.message))).toBe(true);
    });

    test('a missing table fails the invocation with an error naming the table and the cause', async () => {
      const processors = recordingProcessors();
      const handler = withKclProcessor(processors.factory, options({ tableName: 'no-such-table' }));
      await expect(handler(event(sequenceNumbers(1)))).rejects.toThrow(
        /checkpoint table "no-such-table": the table does not exist .*ResourceNotFoundException/,
      );
      expect(processors.calls).toEqual([]);
    });

    test('a denied permission fails the invocation with an error naming the table and the cause', async () => {
      harness.fault = () => async () => {
        throw awsError('AccessDeniedException', 'User is not authorized to perform: dynamodb:GetItem');
      };
      const handler = withKclProcessor(recordingProcessors().factory, options());
      await expect(handler(event(sequenceNumbers(1)))).rejects.toThrow(
        new RegExp(`checkpoint table "${tableName}": the function may not read it .*AccessDeniedException`),
      );
    });

    test('no table name configured: a clear configuration error', async () => {
      const saved = process.env.KCL_CHECKPOINT_TABLE;
      delete process.env.KCL_CHECKPOINT_TABLE;
      try {
        const handler = withKclProcessor(recordingProcessors().factory, { ...options(), tableName: undefined });
        await expect(handler(event(sequenceNumbers(1)))).rejects.toThrow(/set the KCL_CHECKPOINT_TABLE environment variable/);
      } finally {
        if (saved !== undefined) process.env.KCL_CHECKPOINT_TABLE = saved;
      }
    });
  });

  test('clients built from the standard AWS environment (endpoints, region, table) work unchanged', async () => {
    const names = ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_KINESIS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'KCL_CHECKPOINT_TABLE'];
    const saved = names.map((name) => process.env[name]);
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: harness.dynamoDbEndpoint,
      AWS_ENDPOINT_URL_KINESIS: harness.kinesisEndpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      KCL_CHECKPOINT_TABLE: tableName,
    });
    try {
      const seqs = sequenceNumbers(3);
      const processors = recordingProcessors();
      const handler = withKclProcessor(processors.factory, { logger, metrics: false });
      expect(await handler(event(seqs))).toEqual({ batchItemFailures: [] });
      expect(processors.delivered).toEqual(seqs);
      expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[2] });
    } finally {
      names.forEach((name, index) => {
        if (saved[index] === undefined) delete process.env[name];
        else process.env[name] = saved[index];
      });
    }
  });
});
