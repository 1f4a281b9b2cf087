/**
 * The timeout guard: a Lambda context whose remaining time runs out mid-batch, for
 * both APIs, against dynalite; and the guard's default margin.
 */
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import {
  CheckpointError,
  type Checkpointer,
  KclConfigurationError,
  type KclOptions,
  type KinesisUserRecord,
  type RecordProcessor,
  withKclProcessor,
  withRecordHandler,
} from '../../../lambda';
import { TimeoutGuard, defaultGuardMillis } from '../../../lambda/lifecycle/timeout-guard';
import {
  type RuntimeHarness,
  type TestStream,
  kinesisEvent,
  lambdaContext,
  memoryLogger,
  sequenceNumbers,
  startRuntimeHarness,
} from '../../support/runtime-harness';

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));
const failures = (response: KinesisStreamBatchResponse) => response.batchItemFailures.map((failure) => failure.itemIdentifier);

describe('defaultGuardMillis', () => {
  test.each([
    ['a 3 s function: 1 s (the floor)', 3_000, 1_000],
    ['a 60 s function: a tenth, 6 s', 60_000, 6_000],
    ['a 5 min function: a tenth, 30 s', 300_000, 30_000],
    ['a 15 min function: 30 s (the cap)', 900_000, 30_000],
    ['1.5 s left: half of it, 750 ms', 1_500, 750],
    ['nothing left: 0', 0, 0],
  ])('%s', (_name, remaining, expected) => {
    expect(defaultGuardMillis(remaining)).toBe(expected);
  });

  test('always leaves at least half the remaining time for work', () => {
    for (let remaining = 0; remaining <= 1_000_000; remaining += 9_973) {
      const guard = defaultGuardMillis(remaining);
      expect(guard).toBeGreaterThanOrEqual(0);
      expect(guard).toBeLessThanOrEqual(remaining / 2);
      expect(guard).toBeLessThanOrEqual(30_000);
    }
  });
});

describe('TimeoutGuard', () => {
  test('fires guardMillis before the deadline', async () => {
    const started = Date.now();
    const guard = TimeoutGuard.start(lambdaContext(120), 80);
    expect(guard.expired).toBe(false);
    expect(await guard.fired).toBe('timeout');
    expect(guard.expired).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
  });

  test('is expired as soon as the margin leaves no time', async () => {
    // A clock that does not move between the call and the start: the margin stays just below it.
    const guard = TimeoutGuard.start({ getRemainingTimeInMillis: () => 50 }, 49.9);
    await sleep(5);
    expect(guard.expired).toBe(true);
    guard.stop();
  });

  test('without a clock in the context (a direct call) it never fires', async () => {
    const guard = TimeoutGuard.start({}, 10);
    const outcome = await Promise.race([guard.fired, sleep(40).then(() => 'still waiting')]);
    expect(outcome).toBe('still waiting');
    expect(guard.expired).toBe(false);
  });

  test('a margin as long as the time left is cut to half of it, and said so', async () => {
    const capped: number[][] = [];
    const guard = TimeoutGuard.start(lambdaContext(200), 60_000, (requested, used) => void capped.push([requested, used]));
    expect(capped).toHaveLength(1);
    expect(capped[0][0]).toBe(60_000);
    expect(capped[0][1]).toBeGreaterThan(80);
    expect(capped[0][1]).toBeLessThanOrEqual(100);
    expect(guard.expired).toBe(false);
    await guard.fired;
    guard.stop();
  });

  test('withKclProcessor refuses a bad timeoutGuardMs when it is created', () => {
    expect(() => withKclProcessor(() => ({ initialize() {}, processRecords() {}, shardEnded() {} }), { timeoutGuardMs: -5 })).toThrow(
      /timeoutGuardMs must be a non-negative number/,
    );
  });

  test.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses timeoutGuardMs %p', (millis) => {
    expect(() => TimeoutGuard.start(lambdaContext(1_000), millis)).toThrow(KclConfigurationError);
    expect(() => TimeoutGuard.start(lambdaContext(1_000), millis)).toThrow(/timeoutGuardMs must be a non-negative number/);
  });
});

describe('the timeout guard against dynalite', () => {
  let harness: RuntimeHarness;
  let stream: TestStream;
  let tableName: string;
  let shardId: string;
  let logger: ReturnType<typeof memoryLogger>;

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    stream = await harness.newStream(2);
    shardId = stream.shardIds[0];
  });
  afterAll(async () => harness.close());
  beforeEach(async () => {
    tableName = await harness.newTable();
    logger = memoryLogger();
  });

  const options = (extra: KclOptions = {}) => harness.options(tableName, { logger, ...extra });
  const event = (seqs: readonly string[], shard = shardId) =>
    kinesisEvent(stream.streamArn, shard, seqs.map((sequenceNumber) => ({ sequenceNumber })));
  const checkpointOf = async (shard = shardId) => (await harness.row(tableName, shard))?.checkpoint?.S;

  // The guard fires 400 ms into the invocation (1 s left, 600 ms margin): time enough
  // for the records before the one the guard is meant to catch, even on a busy machine.
  // That record does not return before the guard has fired: a processor waits for its
  // shutdownRequested; a record handler (which cannot see it) waits 150 ms past the
  // guard, a margin for timers that run late under load.
  const REMAINING_MS = 1_000;
  const GUARD_MS = 600;

  /** A Lambda context for one invocation, and a wait that ends after its guard has fired. */
  const shortInvocation = () => {
    const context = lambdaContext(REMAINING_MS);
    const untilGuardFired = async () => {
      while (context.getRemainingTimeInMillis() > GUARD_MS - 150) await sleep(5);
    };
    return { context, untilGuardFired };
  };

  describe('withRecordHandler', () => {
    test('stops between records: nothing handled after the guard, the checkpoint holds what was done, the response names the next record', async () => {
      const seqs = sequenceNumbers(6);
      const handled: string[] = [];
      const invocation = shortInvocation();
      const handler = withRecordHandler(async (record) => {
        handled.push(record.sequenceNumber);
        if (record.sequenceNumber === seqs[2]) await invocation.untilGuardFired();
      }, options({ timeoutGuardMs: GUARD_MS }));

      const response = await handler(event(seqs), invocation.context);

      expect(handled).toEqual(seqs.slice(0, 3));
      expect(await checkpointOf()).toBe(seqs[2]);
      expect(failures(response)).toEqual([seqs[3]]);
      expect(logger.lines.some((line) => line.level === 'warn' && line.message.startsWith('Timeout guard'))).toBe(true);

      // Lambda delivers again from the reported record: only the rest is handled.
      expect(failures(await handler(event(seqs.slice(3)), lambdaContext(10_000)))).toEqual([]);
      expect(handled).toEqual(seqs);
      expect(await checkpointOf()).toBe(seqs[5]);
    });

    test('a synchronous handler that never yields is still stopped by the guard between records', async () => {
      const seqs = sequenceNumbers(40);
      const handled: string[] = [];
      const invocation = shortInvocation();
      const handler = withRecordHandler((record) => {
        handled.push(record.sequenceNumber);
        const until = Date.now() + 30;
        while (Date.now() < until); // busy: no await, no I/O
      }, options({ timeoutGuardMs: GUARD_MS }));

      const response = await handler(event(seqs), invocation.context);

      // About 1.2 s of work against a guard that fires well before: it stopped in between.
      expect(handled.length).toBeGreaterThan(0);
      expect(handled.length).toBeLessThan(seqs.length);
      expect(failures(response)).toEqual([seqs[handled.length]]);
      expect(await checkpointOf()).toBe(seqs[handled.length - 1]);
    });

    test('a batch that would have timed out is never replayed whole, even when Lambda sends it all again', async () => {
      const seqs = sequenceNumbers(5);
      const handled: string[] = [];
      const invocation = shortInvocation();
      const handler = withRecordHandler(async (record) => {
        handled.push(record.sequenceNumber);
        if (record.sequenceNumber === seqs[1]) await invocation.untilGuardFired();
      }, options({ timeoutGuardMs: GUARD_MS }));

      expect(failures(await handler(event(seqs), invocation.context))).toEqual([seqs[2]]);
      expect(failures(await handler(event(seqs)))).toEqual([]);

      expect(handled).toEqual(seqs); // each record once
    });
  });

  describe('withKclProcessor', () => {
    /**
     * A processor that handles its records one at a time and stops when asked. The record
     * in hand when the guard fires (`slowAt`) finishes only after shutdownRequested has
     * returned (`resumeAfterMs` later); shutdownRequested checkpoints the records finished
     * before it (awaiting the write, or not), and processRecords then tries, too late, to
     * checkpoint the record it had in hand.
     */
    function stoppableProcessors(options: {
      slowAt: (record: KinesisUserRecord) => boolean;
      resumeAfterMs?: number;
      awaitShutdownCheckpoint?: boolean;
    }) {
      const calls: string[] = [];
      const handled: string[] = [];
      const lateCheckpoints: unknown[] = [];
      const processing: Promise<void>[] = [];
      const factory = (shard: string): RecordProcessor => {
        let stopRequested = false;
        let shutdownReturned: () => void = () => undefined;
        // Bounded, so that an engine that never calls shutdownRequested fails the test instead of hanging it.
        const untilShutdownReturned = new Promise<void>((resolve) => {
          shutdownReturned = resolve;
          setTimeout(resolve, 3_000).unref();
        });
        let processRecordsRunning = false;
        let lastDone: KinesisUserRecord | undefined;
        const work = async (records: readonly KinesisUserRecord[], checkpointer: Checkpointer) => {
          for (const record of records) {
            if (stopRequested) break;
            handled.push(record.sequenceNumber);
            if (options.slowAt(record)) {
              await untilShutdownReturned;
              await sleep(options.resumeAfterMs ?? 20);
            }
            lastDone = record;
          }
          if (stopRequested && lastDone) {
            lateCheckpoints.push(await checkpointer.checkpoint(lastDone).then(() => 'accepted', (error: unknown) => error));
          }
        };
        return {
          initialize: ({ extendedSequenceNumber }) => void calls.push(`initialize ${shard} ${extendedSequenceNumber.sequenceNumber}`),
          processRecords: async ({ records, checkpointer }) => {
            calls.push(`processRecords ${shard} ${records.length}`);
            processRecordsRunning = true;
            const done = work(records, checkpointer).finally(() => (processRecordsRunning = false));
            processing.push(done);
            await done;
          },
          shardEnded: ({ checkpointer }) => checkpointer.checkpoint(),
          shutdownRequested: async ({ checkpointer }) => {
            calls.push(`shutdownRequested ${shard} while processRecords ${processRecordsRunning ? 'runs' : 'has returned'}`);
            stopRequested = true;
            if (lastDone) {
              const written = checkpointer.checkpoint(lastDone);
              if (options.awaitShutdownCheckpoint ?? true) await written;
              else written.catch(() => undefined);
            }
            shutdownReturned();
          },
          leaseLost: () => void calls.push(`leaseLost ${shard}`),
        };
      };
      return { calls, handled, lateCheckpoints, processing, factory };
    }

    test.each([
      ['awaits its checkpoint', { awaitShutdownCheckpoint: true, resumeAfterMs: 20 }],
      ['returns before its checkpoint is written', { awaitShutdownCheckpoint: false, resumeAfterMs: 0 }],
    ])('shutdownRequested (%s) while processRecords runs; processRecords finishes the record in hand before the last call, and its checkpoint counts', async (_name, behaviour) => {
      const seqs = sequenceNumbers(6);
      const invocation = shortInvocation();
      const processors = stoppableProcessors({ slowAt: (record) => record.sequenceNumber === seqs[2], ...behaviour });
      const handler = withKclProcessor(processors.factory, options({ timeoutGuardMs: GUARD_MS }));

      const response = await handler(event(seqs), invocation.context);

      expect(processors.calls).toEqual([
        `initialize ${shardId} TRIM_HORIZON`,
        `processRecords ${shardId} 6`,
        `shutdownRequested ${shardId} while processRecords runs`,
      ]);
      // processRecords returned before the response: nothing of this batch goes on after it.
      expect(processors.handled).toEqual(seqs.slice(0, 3)); // nothing after the guard
      expect(processors.lateCheckpoints).toEqual(['accepted']);
      expect(await checkpointOf()).toBe(seqs[2]);
      expect(failures(response)).toEqual([seqs[3]]);
    });

    test('a processRecords that outlasts the last call: its later checkpoint is refused and does not move the table', async () => {
      const behaviour = { awaitShutdownCheckpoint: true, resumeAfterMs: REMAINING_MS };
      const seqs = sequenceNumbers(6);
      const invocation = shortInvocation();
      const processors = stoppableProcessors({ slowAt: (record) => record.sequenceNumber === seqs[2], ...behaviour });
      const handler = withKclProcessor(processors.factory, options({ timeoutGuardMs: GUARD_MS }));

      const response = await handler(event(seqs), invocation.context);

      expect(processors.calls).toEqual([
        `initialize ${shardId} TRIM_HORIZON`,
        `processRecords ${shardId} 6`,
        `shutdownRequested ${shardId} while processRecords runs`,
      ]);
      // shutdownRequested checkpointed the last finished record; seqs[2] was still in hand.
      expect(await checkpointOf()).toBe(seqs[1]);
      expect(failures(response)).toEqual([seqs[2]]);

      await Promise.all(processors.processing);
      expect(processors.handled).toEqual(seqs.slice(0, 3)); // nothing after the guard
      expect(processors.lateCheckpoints).toHaveLength(1);
      expect(processors.lateCheckpoints[0]).toBeInstanceOf(CheckpointError);
      expect((processors.lateCheckpoints[0] as CheckpointError).code).toBe('ShutdownException');
      expect((processors.lateCheckpoints[0] as CheckpointError).message).toMatch(/about to time out/);
      expect(await checkpointOf()).toBe(seqs[1]);
    });

    test('the next batch gets a fresh processor and initialize at the checkpoint; nothing done is replayed', async () => {
      const seqs = sequenceNumbers(6);
      const invocation = shortInvocation();
      const processors = stoppableProcessors({ slowAt: (record) => record.sequenceNumber === seqs[2] });
      const handler = withKclProcessor(processors.factory, options({ timeoutGuardMs: GUARD_MS }));
      await handler(event(seqs), invocation.context);
      await Promise.all(processors.processing);

      processors.calls.length = 0;
      processors.handled.length = 0;

      // Even if the whole batch came again, only what was not done is delivered.
      expect(failures(await handler(event(seqs), lambdaContext(10_000)))).toEqual([]);

      expect(processors.calls).toEqual([`initialize ${shardId} ${seqs[2]}`, `processRecords ${shardId} 3`]);
      expect(processors.handled).toEqual(seqs.slice(3));
      expect(await checkpointOf()).toBe(seqs[5]);
    });

    test('a processor without shutdownRequested: its own checkpoints hold and the response names the next record', async () => {
      const seqs = sequenceNumbers(5);
      const invocation = shortInvocation();
      const refused: string[] = [];
      let processing: Promise<void> | undefined;
      const handler = withKclProcessor(
        () => ({
          initialize: () => undefined,
          shardEnded: () => undefined,
          processRecords: ({ records, checkpointer }) =>
            (processing = (async () => {
              for (const record of records) {
                // Held up past the last call to answer: what it does afterwards cannot count.
                if (record.sequenceNumber === seqs[3]) await invocation.untilGuardFired().then(() => sleep(REMAINING_MS));
                await checkpointer.checkpoint(record).catch((error: CheckpointError) => void refused.push(error.code));
              }
            })()),
        }),
        options({ timeoutGuardMs: GUARD_MS }),
      );

      const response = await handler(event(seqs), invocation.context);

      expect(await checkpointOf()).toBe(seqs[2]);
      expect(failures(response)).toEqual([seqs[3]]);
      await processing;
      // The processor's later checkpoints were refused: the table still holds seqs[2].
      expect(refused).toEqual(['ShutdownException', 'ShutdownException']);
      expect(await checkpointOf()).toBe(seqs[2]);
    });

    test('checkpoint() without a position in shutdownRequested is refused (InvalidStateException): unprocessed records are not marked done', async () => {
      // Found by the property tests: "largest delivered" is not "done" while processRecords runs.
      const seqs = sequenceNumbers(5);
      const invocation = shortInvocation();
      let refused: unknown;
      const handler = withKclProcessor(
        () => ({
          initialize: () => undefined,
          shardEnded: () => undefined,
          processRecords: async ({ records, checkpointer }) => {
            await checkpointer.checkpoint(records[0]);
            await invocation.untilGuardFired(); // records[1] is in hand
          },
          shutdownRequested: async ({ checkpointer }) => {
            refused = await checkpointer.checkpoint().catch((error: unknown) => error);
          },
        }),
        options({ timeoutGuardMs: GUARD_MS }),
      );

      const response = await handler(event(seqs), invocation.context);

      expect((refused as CheckpointError).code).toBe('InvalidStateException');
      expect((refused as CheckpointError).message).toMatch(/pass the last record it finished/);
      expect(await checkpointOf()).toBe(seqs[0]);
      expect(failures(response)).toEqual([seqs[1]]);
    });

    test('the next batch waits for a stopped processRecords, so records never overtake the one still in hand', async () => {
      // Found by the property tests: a fresh processor used to run beside the stopped one.
      const seqs = sequenceNumbers(3);
      const events: string[] = [];
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      const invocation = shortInvocation();
      const handler = withKclProcessor(
        () => ({
          initialize: () => undefined,
          shardEnded: () => undefined,
          processRecords: async ({ records }) => {
            for (const record of records) {
              if (record.sequenceNumber === seqs[0] && events.length === 0) {
                events.push(`start ${record.sequenceNumber}`);
                await released; // still in hand after the guard fired
              }
              events.push(`done ${record.sequenceNumber}`);
            }
          },
        }),
        options({ timeoutGuardMs: GUARD_MS }),
      );
      expect(failures(await handler(event(seqs), invocation.context))).toEqual([seqs[0]]);

      // Lambda retries at once; the stopped processRecords is still running.
      const retry = handler(event(seqs), lambdaContext(10_000));
      await sleep(50);
      expect(events).toEqual([`start ${seqs[0]}`]);
      release();
      expect(failures(await retry)).toEqual([]);
      expect(events).toEqual([`start ${seqs[0]}`, ...seqs.map((seq) => `done ${seq}`), ...seqs.map((seq) => `done ${seq}`)]);
    });

    test('if the stopped processRecords outlasts the next invocation too, that batch delivers nothing', async () => {
      const seqs = sequenceNumbers(2);
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      let calls = 0;
      const handler = withKclProcessor(
        () => ({
          initialize: () => undefined,
          shardEnded: () => undefined,
          processRecords: async () => {
            calls += 1;
            await released;
          },
        }),
        options({ timeoutGuardMs: GUARD_MS }),
      );
      expect(failures(await handler(event(seqs), shortInvocation().context))).toEqual([seqs[0]]);
      expect(failures(await handler(event(seqs), shortInvocation().context))).toEqual([seqs[0]]);
      expect(calls).toBe(1);
      release();
    });

    test('shutdownRequested throwing does not fail the invocation (no whole-batch replay)', async () => {
      const seqs = sequenceNumbers(4);
      const invocation = shortInvocation();
      const handler = withKclProcessor(
        () => ({
          initialize: () => undefined,
          shardEnded: () => undefined,
          processRecords: async ({ records, checkpointer }) => {
            await checkpointer.checkpoint(records[0]);
            await invocation.untilGuardFired();
          },
          shutdownRequested: () => {
            throw new Error('could not flush');
          },
        }),
        options({ timeoutGuardMs: GUARD_MS }),
      );

      const response = await handler(event(seqs), invocation.context);

      expect(failures(response)).toEqual([seqs[1]]);
      expect(await checkpointOf()).toBe(seqs[0]);
      expect(logger.lines.some((line) => line.level === 'error' && line.message.includes('shutdownRequested failed'))).toBe(true);
    });

    test('a guard that has already fired delivers nothing: no initialize, no processRecords, every record reported', async () => {
      const seqs = sequenceNumbers(3);
      const processors = stoppableProcessors({ slowAt: () => false });
      // The guard fires a fraction of a millisecond into the invocation: before the shard's
      // lease is read. The context's clock is fixed so the margin stays below it.
      const handler = withKclProcessor(processors.factory, options({ timeoutGuardMs: 499.9 }));

      const response = await handler(event(seqs), { ...lambdaContext(500), getRemainingTimeInMillis: () => 500 });

      expect(processors.calls).toEqual([]);
      expect(failures(response)).toEqual([seqs[0]]);
      expect(await checkpointOf()).toBeUndefined();
    });

    test('a second shard in the same invocation is not delivered once the guard has fired', async () => {
      const seqs = sequenceNumbers(3);
      const [first, second] = stream.shardIds;
      const invocation = shortInvocation();
      const processors = stoppableProcessors({
        slowAt: (record) => record.shardId === first && record.sequenceNumber === seqs[1],
      });
      const handler = withKclProcessor(processors.factory, options({ timeoutGuardMs: GUARD_MS }));
      const twoShards = { Records: [...event(seqs, first).Records, ...event(seqs, second).Records] };

      const response = await handler(twoShards, invocation.context);

      expect(processors.calls.filter((call) => call.includes(second))).toEqual([]);
      // The first shard finished its record in hand before the last call and checkpointed it.
      expect(failures(response)).toEqual([seqs[2], seqs[0]]);
      expect(await checkpointOf(first)).toBe(seqs[1]);
      expect(await checkpointOf(second)).toBeUndefined();
    });
  });
});
