import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { batchLogFields, emptyShardBatchStats } from '../../../lambda/observability/batch-stats';
import { createMetricsSink } from '../../../lambda/observability/metrics-sink';
import { CheckpointError } from '../../../lambda/errors';
import { JsonLogger, createLogger, logLevelFromEnvironment } from '../../../lambda/observability/json-logger';
import type { KinesisUserRecord } from '../../../lambda/records/kinesis-user-record';
import type { KclLogger } from '../../../lambda/options';
import { isolateEnvironment } from '../../support/environment';

const NOW = new Date(Date.UTC(2025, 5, 6, 7, 8, 9, 10));

function capturingLogger(level?: string): { logger: JsonLogger; lines: { line: string; level: string }[] } {
  const lines: { line: string; level: string }[] = [];
  const logger = new JsonLogger({ level, now: () => NOW, write: (line, lineLevel) => lines.push({ line, level: lineLevel }) });
  return { logger, lines };
}

function parsed(lines: { line: string }[]): Record<string, unknown>[] {
  for (const { line } of lines) {
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
  }
  return lines.map(({ line }) => JSON.parse(line) as Record<string, unknown>);
}

/** Everything written to stdout and stderr (by anyone, Powertools included) while `run` runs. */
async function captureStandardStreams(run: () => void | Promise<void>): Promise<{ stdout: string; stderr: string }> {
  const captured = { stdout: '', stderr: '' };
  const spies = (['stdout', 'stderr'] as const).map((name) =>
    jest.spyOn(process[name], 'write').mockImplementation((chunk: string | Uint8Array) => {
      captured[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    }),
  );
  try {
    await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return captured;
}

isolateEnvironment(['AWS_LAMBDA_LOG_LEVEL', 'POWERTOOLS_LOG_LEVEL', 'LOG_LEVEL', 'POWERTOOLS_DEV', 'POWERTOOLS_METRICS_DISABLED']);

describe('JsonLogger', () => {
  test('one JSON object per line: timestamp, level, message, then the fields', () => {
    const { logger, lines } = capturingLogger();
    logger.info('Batch processed', { shardId: 'shardId-000000000001', userRecords: 3, durationMs: 12 });

    const [line] = parsed(lines);
    expect(line).toEqual({
      timestamp: NOW.toISOString(),
      level: 'INFO',
      message: 'Batch processed',
      shardId: 'shardId-000000000001',
      userRecords: 3,
      durationMs: 12,
    });
    expect(Object.keys(line).slice(0, 3)).toEqual(['timestamp', 'level', 'message']);
  });

  test('errors keep name, message, code and their cause chain', () => {
    const { logger, lines } = capturingLogger();
    const root = new Error('socket hang up');
    const error = new CheckpointError('KinesisClientLibDependencyException', 'checkpoint write failed', { cause: root });
    logger.error('Checkpoint failed', { shardId: 's-1', error });
    logger.error('Bare error argument', error);

    const [withField, bare] = parsed(lines);
    for (const line of [withField, bare]) {
      expect(line.level).toBe('ERROR');
      expect(line.error).toMatchObject({
        name: 'CheckpointError',
        message: 'KinesisClientLibDependencyException: checkpoint write failed',
        code: 'KinesisClientLibDependencyException',
        cause: { name: 'Error', message: 'socket hang up' },
      });
      expect(typeof (line.error as { stack: unknown }).stack).toBe('string');
    }
    expect(withField.shardId).toBe('s-1');
  });

  test('extra arguments read like Powertools reads them; reserved keys are not overwritten', () => {
    const { logger, lines } = capturingLogger();
    logger.warn('Corrupt aggregate delivered as one record', 'see README', { message: 'spoof', level: 'DEBUG', shardId: 's' });

    const [line] = parsed(lines);
    expect(line).toMatchObject({ level: 'WARN', message: 'Corrupt aggregate delivered as one record', extra: 'see README', shardId: 's' });
  });

  test('BigInt and cyclic values never make a log call throw', () => {
    const { logger, lines } = capturingLogger();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const shared = { a: 1 };
    logger.info('odd values', { big: 2n ** 70n, cyclic, left: shared, right: shared });

    const [line] = parsed(lines);
    expect(line.big).toBe((2n ** 70n).toString());
    expect(line.cyclic).toEqual({ name: 'loop', self: '[Circular]' });
    // A value seen twice side by side is not a cycle.
    expect(line.left).toEqual({ a: 1 });
    expect(line.right).toEqual({ a: 1 });
  });

  test('level threshold: explicit, else AWS_LAMBDA_LOG_LEVEL, POWERTOOLS_LOG_LEVEL, LOG_LEVEL, INFO', () => {
    expect(logLevelFromEnvironment()).toBe('INFO');
    process.env.LOG_LEVEL = 'debug';
    expect(logLevelFromEnvironment()).toBe('DEBUG');
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    expect(logLevelFromEnvironment()).toBe('ERROR');
    process.env.AWS_LAMBDA_LOG_LEVEL = 'WARN';
    expect(logLevelFromEnvironment()).toBe('WARN');
    process.env.AWS_LAMBDA_LOG_LEVEL = 'nonsense';
    expect(logLevelFromEnvironment()).toBe('ERROR');

    process.env.AWS_LAMBDA_LOG_LEVEL = 'WARN';
    const fromEnv = capturingLogger();
    fromEnv.logger.debug('d');
    fromEnv.logger.info('i');
    fromEnv.logger.warn('w');
    fromEnv.logger.error('e');
    expect(parsed(fromEnv.lines).map((l) => l.level)).toEqual(['WARN', 'ERROR']);

    const explicit = capturingLogger('debug');
    explicit.logger.debug('d');
    explicit.logger.info('i');
    expect(parsed(explicit.lines).map((l) => l.message)).toEqual(['d', 'i']);
  });

  test('by default info goes to stdout and warnings and errors to stderr', async () => {
    const logger = new JsonLogger();
    const { stdout, stderr } = await captureStandardStreams(() => {
      logger.info('to stdout');
      logger.error('to stderr');
    });
    expect(JSON.parse(stdout)).toMatchObject({ level: 'INFO', message: 'to stdout' });
    expect(JSON.parse(stderr)).toMatchObject({ level: 'ERROR', message: 'to stderr' });
  });

  test('createLogger: the given logger, else a JsonLogger with the given fields', () => {
    const given: KclLogger = console;
    expect(createLogger({ logger: given })).toBe(given);

    const lines: string[] = [];
    const fallback = createLogger({}, { fields: { applicationName: 'app' }, write: (line) => lines.push(line) });
    expect(fallback).toBeInstanceOf(JsonLogger);
    fallback.info('hello');
    expect(JSON.parse(lines[0])).toMatchObject({ message: 'hello', applicationName: 'app' });
  });
});

describe('Powertools Logger', () => {
  test('fits KclLogger as it is and is used when passed, fields and errors included', async () => {
    // Compiles only if the Powertools Logger is structurally a KclLogger: no adapter needed.
    const powertools: KclLogger = new Logger({ serviceName: 'orders' });
    const logger = createLogger({ logger: powertools });
    expect(logger).toBe(powertools);

    const { stdout, stderr } = await captureStandardStreams(() => {
      logger.info('Batch processed', { shardId: 'shardId-000000000003', userRecords: 7 });
      logger.error('Checkpoint failed', {
        shardId: 'shardId-000000000003',
        error: new CheckpointError('ThrottlingException', 'slow down', { cause: new Error('rate exceeded') }),
      });
    });
    const info = JSON.parse(stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ level: 'INFO', message: 'Batch processed', service: 'orders', shardId: 'shardId-000000000003', userRecords: 7 });
    const error = JSON.parse(stderr) as Record<string, unknown>;
    expect(error).toMatchObject({
      level: 'ERROR',
      message: 'Checkpoint failed',
      error: { name: 'CheckpointError', message: 'ThrottlingException: slow down', code: 'ThrottlingException', cause: { message: 'rate exceeded' } },
    });
  });
});

describe('the one line per batch', () => {
  test('batchLogFields names the shard, positions, counts, checkpoint and duration', () => {
    const stats = {
      ...emptyShardBatchStats('shardId-000000000009'),
      kinesisRecords: 4,
      kinesisBytes: 400,
      userRecords: 10,
      duplicatesSkipped: 2,
      millisBehindLatest: 1500,
      processRecordsMs: 30,
      checkpointWriteMs: [5, 7],
    };
    const fields = batchLogFields(stats, {
      firstSequenceNumber: '49590338271490256608559692538361571095921575989136588801',
      lastSequenceNumber: '49590338271490256608559692538361571095921575989136588899',
      checkpoint: { sequenceNumber: '49590338271490256608559692538361571095921575989136588899', subSequenceNumber: 3 },
      durationMs: 42,
    });
    expect(fields).toEqual({
      shardId: 'shardId-000000000009',
      firstSequenceNumber: '49590338271490256608559692538361571095921575989136588801',
      lastSequenceNumber: '49590338271490256608559692538361571095921575989136588899',
      kinesisRecords: 4,
      kinesisBytes: 400,
      userRecords: 10,
      duplicatesSkipped: 2,
      recordsFailed: 0,
      millisBehindLatest: 1500,
      processRecordsMs: 30,
      checkpointWrites: 2,
      checkpointWriteMs: 12,
      checkpoint: '49590338271490256608559692538361571095921575989136588899',
      checkpointSubSequenceNumber: 3,
      leaseLost: 0,
      shardEnded: 0,
      durationMs: 42,
    });
  });

  test('no record data in any log line or metric, whichever logger and metrics are used', async () => {
    const payload = 'SENTINEL-PAYLOAD-c0ffee-7d1f';
    const partitionKey = 'SENTINEL-PARTITION-KEY-91ab';
    const explicitHashKey = '271828182845904523536028747135266249775';
    const records: KinesisUserRecord[] = [0, 1, 2].map((sub) => ({
      shardId: 'shardId-000000000004',
      sequenceNumber: '49590338271490256608559692538361571095921575989136588833',
      subSequenceNumber: sub,
      partitionKey,
      explicitHashKey,
      data: Buffer.from(`${payload}#${sub}`),
      approximateArrivalTimestamp: new Date(NOW.getTime() - 2000),
      aggregated: true,
    }));
    const first = records[0];
    const last = records[records.length - 1];
    const stats = {
      ...emptyShardBatchStats(first.shardId),
      kinesisRecords: 1,
      kinesisBytes: records.reduce((n, r) => n + r.data.length, 0),
      userRecords: records.length,
      millisBehindLatest: NOW.getTime() - last.approximateArrivalTimestamp.getTime(),
      checkpointWriteMs: [3],
    };
    // Careless callers: a whole record as the context and as the checkpoint (it has the position's fields).
    const context = { ...first, firstSequenceNumber: first.sequenceNumber, lastSequenceNumber: last.sequenceNumber, checkpoint: last };
    const failure = new CheckpointError('ShutdownException', 'lease lost to another owner');

    const jsonLines: string[] = [];
    const jsonLogger = new JsonLogger({ level: 'DEBUG', write: (line) => jsonLines.push(line) });
    const emfLines: string[] = [];
    const emfSink = createMetricsSink({ applicationName: 'app' }, { write: (line) => emfLines.push(line) });

    const { stdout, stderr } = await captureStandardStreams(() => {
      for (const logger of [jsonLogger, new Logger({ serviceName: 'orders', logLevel: 'DEBUG' }) as KclLogger]) {
        logger.info('Batch processed', batchLogFields(stats, context));
        logger.error('Checkpoint failed', { ...batchLogFields(stats, context), error: failure });
      }
      emfSink.publish([stats]);
      createMetricsSink({ metrics: new Metrics({ namespace: 'N', serviceName: 'orders' }), applicationName: 'app' }).publish([stats]);
    });

    const everything = [...jsonLines, ...emfLines, stdout, stderr].join('\n');
    // Prove the capture worked, so the absence below means something.
    expect(jsonLines).toHaveLength(2);
    expect(emfLines).toHaveLength(1);
    expect(stdout).toContain('"service":"orders"');
    expect(stdout).toContain('"UserRecords":3');
    expect(stderr).toContain('ShutdownException');
    expect(everything).toContain(first.sequenceNumber);

    for (const record of records) {
      const forms = [
        record.data.toString('utf8'),
        record.data.toString('base64'),
        record.data.toString('hex'),
        JSON.stringify(Array.from(record.data)).slice(1, -1),
      ];
      for (const form of forms) expect(everything).not.toContain(form);
    }
    for (const secret of [payload, partitionKey, explicitHashKey, Buffer.from(payload).toString('base64')]) {
      expect(everything).not.toContain(secret);
    }
  });
});
