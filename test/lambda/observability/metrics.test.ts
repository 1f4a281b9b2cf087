import { Metrics } from '@aws-lambda-powertools/metrics';
import { type MetricsSink, type ShardBatchStats, emptyShardBatchStats } from '../../../lambda/observability/batch-stats';
import { createMetricsSink, resolveApplicationName } from '../../../lambda/observability/metrics-sink';
import { type EmfDocument, emfDocuments } from '../../../lambda/observability/emf-metrics';
import type { KclLogger } from '../../../lambda/options';
import type { PowertoolsMetricsLike } from '../../../lambda/observability/powertools-adapters';
import { isolateEnvironment } from '../../support/environment';

const SHARD = 'shardId-000000000007';
const NOW = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

/** The metric contract the construct's dashboard and alarm are built on. */
const EXPECTED_UNITS: Record<string, string> = {
  KinesisRecords: 'Count',
  KinesisBytes: 'Bytes',
  UserRecords: 'Count',
  DuplicatesSkipped: 'Count',
  RecordsFailed: 'Count',
  MillisBehindLatest: 'Milliseconds',
  ProcessRecordsTime: 'Milliseconds',
  CheckpointWriteTime: 'Milliseconds',
  LeaseLost: 'Count',
  ShardEnded: 'Count',
};

function knownStats(shardId = SHARD): ShardBatchStats {
  return {
    shardId,
    kinesisRecords: 12,
    kinesisBytes: 3456,
    userRecords: 40,
    duplicatesSkipped: 3,
    recordsFailed: 2,
    millisBehindLatest: 789,
    processRecordsMs: 55,
    checkpointWriteMs: [11, 13],
    leaseLost: 1,
    shardEnded: 0,
  };
}

function capturingSink(options: Parameters<typeof createMetricsSink>[0] = {}): { sink: MetricsSink; lines: string[] } {
  const lines: string[] = [];
  const sink = createMetricsSink(options, { write: (line) => lines.push(line), now: () => NOW });
  return { sink, lines };
}

function parse(lines: string[]): EmfDocument[] {
  for (const line of lines) expect(line.endsWith('\n')).toBe(true);
  return lines.map((line) => JSON.parse(line) as EmfDocument);
}

/** Captures what anything (Powertools included) writes to a standard stream while `run` runs. */
function captureStream(stream: NodeJS.WriteStream, run: () => void): string[] {
  const chunks: string[] = [];
  const spy = jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return chunks.join('').split('\n').filter((line) => line.length > 0);
}

const captureStdout = (run: () => void): string[] => captureStream(process.stdout, run);

isolateEnvironment(['KCL_METRICS_NAMESPACE', 'KCL_APPLICATION_NAME', 'AWS_LAMBDA_FUNCTION_NAME', 'POWERTOOLS_DEV', 'POWERTOOLS_METRICS_DISABLED']);

describe('built-in EMF writer', () => {
  test('one EMF line per shard with every metric name, unit, dimension and value of a known batch', () => {
    const { sink, lines } = capturingSink({ applicationName: 'orders-app' });
    sink.publish([knownStats()]);

    expect(lines).toHaveLength(1);
    const [doc] = parse(lines);
    expect(doc._aws.Timestamp).toBe(NOW);
    expect(doc._aws.CloudWatchMetrics).toHaveLength(1);
    const directive = doc._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe('KclLambda');
    expect(directive.Dimensions).toEqual([['ApplicationName', 'ShardId'], ['ApplicationName']]);
    expect(Object.fromEntries(directive.Metrics.map((m) => [m.Name, m.Unit]))).toEqual(EXPECTED_UNITS);
    expect(doc).toMatchObject({
      ApplicationName: 'orders-app',
      ShardId: SHARD,
      KinesisRecords: 12,
      KinesisBytes: 3456,
      UserRecords: 40,
      DuplicatesSkipped: 3,
      RecordsFailed: 2,
      MillisBehindLatest: 789,
      ProcessRecordsTime: 55,
      CheckpointWriteTime: [11, 13],
      LeaseLost: 1,
      ShardEnded: 0,
    });
    // EMF requires every dimension named in a dimension set to be a top-level string.
    for (const set of directive.Dimensions) for (const name of set) expect(typeof doc[name]).toBe('string');
  });

  test('shard dimension turned off leaves only the ApplicationName dimension set', () => {
    const { sink, lines } = capturingSink({ applicationName: 'orders-app', shardMetricsDimension: false });
    sink.publish([knownStats()]);

    const [doc] = parse(lines);
    expect(doc._aws.CloudWatchMetrics[0].Dimensions).toEqual([['ApplicationName']]);
    expect(doc.ApplicationName).toBe('orders-app');
    expect(doc.KinesisRecords).toBe(12);
  });

  test('one line per shard when an invocation touched several shards', () => {
    const { sink, lines } = capturingSink({ applicationName: 'a' });
    sink.publish([knownStats('shardId-000000000001'), { ...knownStats('shardId-000000000002'), kinesisRecords: 5 }]);

    const docs = parse(lines);
    expect(docs.map((d) => [d.ShardId, d.KinesisRecords])).toEqual([
      ['shardId-000000000001', 12],
      ['shardId-000000000002', 5],
    ]);
  });

  test('a metric without values (no checkpoint write, no arrival time) is not declared', () => {
    const stats = emptyShardBatchStats(SHARD);
    const { sink, lines } = capturingSink({ applicationName: 'a' });
    sink.publish([stats]);

    const [doc] = parse(lines);
    const names = doc._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name);
    expect(names).not.toContain('CheckpointWriteTime');
    expect(names).not.toContain('MillisBehindLatest');
    expect(doc).not.toHaveProperty('CheckpointWriteTime');
    // Every declared metric has its value in the document, as EMF requires.
    for (const name of names) expect(typeof doc[name]).toBe('number');
    expect(doc.LeaseLost).toBe(0);
  });

  test('more than 100 checkpoint latencies spill into further documents, none lost', () => {
    const latencies = Array.from({ length: 250 }, (_, i) => i + 1);
    const docs = emfDocuments({ ...knownStats(), checkpointWriteMs: latencies }, { namespace: 'N', applicationName: 'a', shardDimension: true }, NOW);

    expect(docs).toHaveLength(3);
    const arrays = docs.map((d) => d.CheckpointWriteTime as number[]);
    for (const values of arrays) expect(values.length).toBeLessThanOrEqual(100);
    expect(arrays.flat()).toEqual(latencies);
    // The other metrics are counted once, in the first document.
    expect(docs.filter((d) => 'KinesisRecords' in d)).toHaveLength(1);
    for (const doc of docs) {
      for (const m of doc._aws.CloudWatchMetrics[0].Metrics) expect(doc).toHaveProperty(m.Name);
    }
  });

  test('namespace: option, else KCL_METRICS_NAMESPACE', () => {
    process.env.KCL_METRICS_NAMESPACE = 'FromEnv';
    const fromEnv = capturingSink({ applicationName: 'a' });
    fromEnv.sink.publish([knownStats()]);
    expect(parse(fromEnv.lines)[0]._aws.CloudWatchMetrics[0].Namespace).toBe('FromEnv');

    const fromOption = capturingSink({ applicationName: 'a', metricsNamespace: 'FromOption' });
    fromOption.sink.publish([knownStats()]);
    expect(parse(fromOption.lines)[0]._aws.CloudWatchMetrics[0].Namespace).toBe('FromOption');
  });

  test('application name: option, else KCL_APPLICATION_NAME, else the function name', () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'my-function';
    expect(resolveApplicationName({})).toBe('my-function');
    process.env.KCL_APPLICATION_NAME = 'env-app';
    expect(resolveApplicationName({})).toBe('env-app');
    expect(resolveApplicationName({ applicationName: 'option-app' })).toBe('option-app');

    const { sink, lines } = capturingSink();
    sink.publish([knownStats()]);
    expect(parse(lines)[0].ApplicationName).toBe('env-app');
  });

  test('writes to process.stdout by default', () => {
    const lines = captureStdout(() => createMetricsSink({ applicationName: 'stdout-app' }).publish([knownStats()]));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ ApplicationName: 'stdout-app', ShardId: SHARD, UserRecords: 40 });
  });

  test('metrics: false publishes nothing', () => {
    const { sink, lines } = capturingSink({ metrics: false });
    const stdout = captureStdout(() => sink.publish([knownStats()]));
    expect(lines).toEqual([]);
    expect(stdout).toEqual([]);
  });

  test('a failing writer never fails the batch; the logger is told', () => {
    const warnings: unknown[][] = [];
    const logger: KclLogger = { debug: () => {}, info: () => {}, error: () => {}, warn: (...args) => warnings.push(args) };
    const sink = createMetricsSink(
      { applicationName: 'a' },
      {
        logger,
        write: () => {
          throw new Error('EPIPE');
        },
      },
    );
    expect(() => sink.publish([knownStats()])).not.toThrow();
    expect(warnings).toHaveLength(1);
    expect((warnings[0][1] as { error: Error }).error.message).toBe('EPIPE');
  });
});

describe('Powertools Metrics instance', () => {
  test('a Powertools Metrics instance fits the option type', () => {
    const metrics: PowertoolsMetricsLike = new Metrics({ namespace: 'TypeCheck' });
    expect(typeof metrics.addMetric).toBe('function');
  });

  test('is used when passed: its namespace and default dimensions, our dimensions and values', () => {
    const metrics = new Metrics({ namespace: 'UserNamespace', serviceName: 'orders' });
    const sink = createMetricsSink({ metrics, applicationName: 'pt-app', metricsNamespace: 'Ignored' });
    let lines: string[] = [];
    const warnings = captureStream(process.stderr, () => {
      lines = captureStdout(() => sink.publish([knownStats()]));
    });
    // Powertools warns on stderr about clashing or repeated dimensions; our calls must not provoke it.
    expect(warnings).toEqual([]);

    const docs = lines.map((line) => JSON.parse(line) as EmfDocument);
    expect(docs.length).toBeGreaterThan(0);
    const values: Record<string, number[]> = {};
    const units: Record<string, string> = {};
    for (const doc of docs) {
      const directive = doc._aws.CloudWatchMetrics[0];
      expect(directive.Namespace).toBe('UserNamespace');
      expect(directive.Dimensions).toEqual([['service', 'ApplicationName', 'ShardId']]);
      expect(doc).toMatchObject({ service: 'orders', ApplicationName: 'pt-app', ShardId: SHARD });
      for (const { Name, Unit } of directive.Metrics) {
        units[Name] = Unit;
        values[Name] = [...(values[Name] ?? []), ...([] as number[]).concat(doc[Name] as number | number[])];
      }
    }
    expect(units).toEqual(EXPECTED_UNITS);
    expect(values).toEqual({
      KinesisRecords: [12],
      KinesisBytes: [3456],
      UserRecords: [40],
      DuplicatesSkipped: [3],
      RecordsFailed: [2],
      MillisBehindLatest: [789],
      ProcessRecordsTime: [55],
      CheckpointWriteTime: [11, 13],
      LeaseLost: [1],
      ShardEnded: [0],
    });
  });

  test("leaves the user's own buffered metrics and dimensions alone", () => {
    const metrics = new Metrics({ namespace: 'UserNamespace', serviceName: 'orders' });
    metrics.addDimension('tenant', 't-1');
    metrics.addMetric('OrdersPlaced', 'Count', 4);
    const sink = createMetricsSink({ metrics, applicationName: 'pt-app' });

    const ours = captureStdout(() => sink.publish([knownStats()]));
    expect(ours.join('\n')).not.toContain('OrdersPlaced');
    expect(ours.join('\n')).not.toContain('tenant');

    const theirs = captureStdout(() => metrics.publishStoredMetrics());
    expect(theirs).toHaveLength(1);
    const doc = JSON.parse(theirs[0]) as EmfDocument;
    expect(doc._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'tenant']]);
    expect(doc.OrdersPlaced).toBe(4);
    expect(doc).not.toHaveProperty('ShardId');
  });

  test('shard dimension turned off: ApplicationName (with the default dimensions) only', () => {
    const metrics = new Metrics({ namespace: 'UserNamespace', serviceName: 'orders' });
    const sink = createMetricsSink({ metrics, applicationName: 'pt-app', shardMetricsDimension: false });
    const docs = captureStdout(() => sink.publish([knownStats()])).map((line) => JSON.parse(line) as EmfDocument);

    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(doc._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'ApplicationName']]);
      expect(doc).not.toHaveProperty('ShardId');
    }
  });

  test('a Metrics-like object without singleMetric is flushed once per shard', () => {
    const calls: string[] = [];
    const metricsLike: PowertoolsMetricsLike = {
      addDimension: (name, value) => calls.push(`dim ${name}=${value}`),
      addMetric: (name, unit, value) => calls.push(`metric ${name} ${unit} ${value}`),
      publishStoredMetrics: () => calls.push('publish'),
    };
    createMetricsSink({ metrics: metricsLike, applicationName: 'x' }).publish([knownStats('s-1'), knownStats('s-2')]);

    expect(calls.filter((c) => c === 'publish')).toHaveLength(2);
    expect(calls.slice(0, 2)).toEqual(['dim ApplicationName=x', 'dim ShardId=s-1']);
    expect(calls).toContain('metric CheckpointWriteTime Milliseconds 13');
    expect(calls.indexOf('dim ShardId=s-2')).toBeGreaterThan(calls.indexOf('publish'));
  });
});
