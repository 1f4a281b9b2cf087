/**
 * A generated history: how the stream is produced and resharded, how the
 * consumer is configured, and which faults strike where. Plain data, so
 * fast-check can shrink it and a failure prints as something a person can read.
 */
import fc from 'fast-check';

/** What happens to one user record when it is handled. */
export interface UserRecordPlan {
  /** The processor throws at this record this many times before it succeeds. */
  readonly throws: number;
  /**
   * The first delivery is slow: past the timeout guard (guard histories; every other
   * user record so slow that the stopped processRecords outlives its invocation and
   * resumes in a later one), or past Lambda's own timeout, which kills the container
   * (`lambdaTimeout` histories).
   */
  readonly slow: boolean;
}

/** One Kinesis record: a plain record (one user record) or a KPL aggregate of several. */
export interface KinesisRecordPlan {
  readonly aggregated: boolean;
  readonly users: readonly UserRecordPlan[];
  /** A plain record of about 1 MB (`bigRecords` histories): five of them pass Lambda's 6 MB event limit. */
  readonly big?: boolean;
}

export type Step =
  /** Put records into the `shard`-th open shard (modulo the open shards, in shard-id order). */
  | { readonly kind: 'produce'; readonly shard: number; readonly records: readonly KinesisRecordPlan[]; readonly drain: boolean }
  /** Split the `shard`-th open shard at the middle of its hash range. */
  | { readonly kind: 'split'; readonly shard: number; readonly drain: boolean }
  /** Merge the `pair`-th pair of hash-adjacent open shards (skipped when there is none). */
  | { readonly kind: 'merge'; readonly pair: number; readonly drain: boolean }
  /**
   * Time passes (the emulated clock jumps): past MaximumRecordAgeInSeconds when it is
   * set, else past the stream's 24 h retention, so what is not yet processed expires.
   */
  | { readonly kind: 'wait'; readonly drain: boolean };

/**
 * A DynamoDB fault on the n-th request the runtime sends in the history:
 * `throttle` and `internalError` fail without reaching the table; `lostResponse`
 * reaches the table (a write is applied) and then fails, as a dropped connection does.
 */
export type DynamoDbFaultKind = 'throttle' | 'internalError' | 'lostResponse';
export interface DynamoDbFault {
  readonly call: number;
  readonly kind: DynamoDbFaultKind;
}

/**
 * A fault on the n-th invocation of the event source mapping. Containers are always
 * frozen between invocations (their left-over work resumes only inside their next
 * invocation, or never) and killed when Lambda's timeout ends an invocation.
 * `crash`: the container is killed at its first checkpoint write, before the write is sent;
 * `killInFlight`: killed with its first checkpoint write sent: the write lands, no answer comes;
 * `duplicate` / `duplicateOtherAnswer`: a second container is invoked with the same batch at
 * the same time; Lambda acts on the first / the second container's answer;
 * `otherContainer`: the invocation lands on a second warm container;
 * `recycled`: after the invocation the container is reclaimed while frozen (its left-over
 * work never resumes; the next invocation gets a fresh one);
 * `lateDuplicate`: afterwards, an earlier acknowledged batch of the shard is invoked again on
 * the other container (its answer is lost);
 * `replay` / `replaySeveral`: afterwards, Lambda's poller reads the shard again from the start
 * of the last / of one of the last 2–4 acknowledged batches (new batch boundaries, answers acted on);
 * `clockJump`: afterwards, time jumps as in a `wait` step (a retried batch's records age out).
 */
export type InvocationFaultKind =
  | 'crash'
  | 'killInFlight'
  | 'duplicate'
  | 'duplicateOtherAnswer'
  | 'otherContainer'
  | 'recycled'
  | 'lateDuplicate'
  | 'replay'
  | 'replaySeveral'
  | 'clockJump';
export const INVOCATION_FAULT_KINDS: readonly InvocationFaultKind[] = [
  'crash',
  'killInFlight',
  'duplicate',
  'duplicateOtherAnswer',
  'otherContainer',
  'recycled',
  'lateDuplicate',
  'replay',
  'replaySeveral',
  'clockJump',
];
export interface InvocationFault {
  readonly invocation: number;
  readonly kind: InvocationFaultKind;
}

export interface MappingPlan {
  readonly batchSize: number;
  /** -1: retry until success (Lambda's default). */
  readonly maximumRetryAttempts: number;
  readonly bisectBatchOnFunctionError: boolean;
  readonly concurrentShards: boolean;
  /** -1: never (Lambda's default; the stream's retention still applies). */
  readonly maximumRecordAgeInSeconds: number;
  /** Whole seconds, as AWS takes them. */
  readonly maximumBatchingWindowInSeconds: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';
  /** LATEST / AT_TIMESTAMP: the mapping starts before this step (modulo the steps); what was put before is not read. */
  readonly startAtStep: number;
  /** False: a child shard's batches may arrive while its parent's are in flight or unread. */
  readonly childrenWaitForParents: boolean;
}

export interface History {
  readonly initialShards: number;
  readonly steps: readonly Step[];
  readonly api: 'withKclProcessor' | 'withRecordHandler';
  /** withKclProcessor only. */
  readonly checkpointing: 'auto' | 'manual';
  /** withKclProcessor only: the processor checkpoints after every n-th record of a batch (0: never mid-batch). */
  readonly checkpointEvery: number;
  /** The function has a short timeout guard and some records are slow. */
  readonly timeoutGuard: boolean;
  /**
   * Without a short guard: a 1 s function timeout that slow records exceed, and a guard
   * margin of 0 (it fires with Lambda's timeout, too late): Lambda kills the container.
   */
  readonly lambdaTimeout: boolean;
  /** Plain records are (nine in ten) about 1 MB. */
  readonly bigRecords: boolean;
  /**
   * withKclProcessor only: what shutdownRequested checkpoints. `lastProcessed`: the last
   * record the processor finished; `noArguments`: `checkpoint()`, as in the README quick start.
   */
  readonly shutdownCheckpoint: 'lastProcessed' | 'noArguments';
  readonly mapping: MappingPlan;
  readonly dynamoDbFaults: readonly DynamoDbFault[];
  readonly invocationFaults: readonly InvocationFault[];
}

const userRecordPlan: fc.Arbitrary<UserRecordPlan> = fc.record({
  throws: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  slow: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const kinesisRecordPlan: fc.Arbitrary<KinesisRecordPlan> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(userRecordPlan, fc.oneof({ weight: 1, arbitrary: fc.constant(false) }, { weight: 9, arbitrary: fc.constant(true) }))
      .map(([user, big]): KinesisRecordPlan => ({ aggregated: false, users: [user], ...(big ? { big } : {}) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(userRecordPlan, { minLength: 1, maxLength: 4 })
      .map((users): KinesisRecordPlan => ({ aggregated: true, users })),
  },
);

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('produce' as const),
      shard: fc.nat(3),
      records: fc.array(kinesisRecordPlan, { minLength: 1, maxLength: 5 }),
      drain: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('split' as const), shard: fc.nat(3), drain: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('merge' as const), pair: fc.nat(3), drain: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), drain: fc.boolean() }) },
);

const mappingPlan: fc.Arbitrary<MappingPlan> = fc.record({
  batchSize: fc.integer({ min: 1, max: 8 }),
  maximumRetryAttempts: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 3 }) }),
  bisectBatchOnFunctionError: fc.boolean(),
  concurrentShards: fc.boolean(),
  maximumRecordAgeInSeconds: fc.oneof({ weight: 1, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.constantFrom(60, 600) }),
  // A window costs real time in every batch: rare, and one second.
  maximumBatchingWindowInSeconds: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
  startingPosition: fc.oneof(
    { weight: 4, arbitrary: fc.constant('TRIM_HORIZON' as const) },
    { weight: 1, arbitrary: fc.constantFrom('LATEST' as const, 'AT_TIMESTAMP' as const) },
  ),
  startAtStep: fc.nat(4),
  childrenWaitForParents: fc.boolean(),
});

const dynamoDbFault: fc.Arbitrary<DynamoDbFault> = fc.record({
  call: fc.nat(40),
  kind: fc.constantFrom<DynamoDbFaultKind>('throttle', 'internalError', 'lostResponse'),
});

const invocationFault: fc.Arbitrary<InvocationFault> = fc.record({
  invocation: fc.nat(12),
  kind: fc.constantFrom<InvocationFaultKind>(...INVOCATION_FAULT_KINDS),
});

/** Histories of 1–3 shards, up to 5 steps, a few faults of each kind. */
export const historyArbitrary: fc.Arbitrary<History> = fc.record({
  initialShards: fc.integer({ min: 1, max: 3 }),
  steps: fc.array(step, { minLength: 1, maxLength: 5 }),
  api: fc.constantFrom('withKclProcessor' as const, 'withRecordHandler' as const),
  checkpointing: fc.constantFrom('auto' as const, 'manual' as const),
  checkpointEvery: fc.nat(3),
  timeoutGuard: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  // Each Lambda timeout costs a second of real time.
  lambdaTimeout: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  // Each big record is 1 MB through kinesalite: rare.
  bigRecords: fc.oneof({ weight: 11, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  shutdownCheckpoint: fc.constantFrom('lastProcessed' as const, 'noArguments' as const),
  mapping: mappingPlan,
  dynamoDbFaults: fc.uniqueArray(dynamoDbFault, { maxLength: 4, selector: (fault) => fault.call }),
  invocationFaults: fc.uniqueArray(invocationFault, { maxLength: 6, selector: (fault) => fault.invocation }),
});

/** User record ids in production order: `u0`, `u1`, ... (the runner assigns the same). */
export function userRecordIds(history: History): Map<KinesisRecordPlan, string[]> {
  const ids = new Map<KinesisRecordPlan, string[]>();
  let next = 0;
  for (const current of history.steps) {
    if (current.kind !== 'produce') continue;
    for (const record of current.records) ids.set(record, record.users.map(() => `u${next++}`));
  }
  return ids;
}

/** The history as a few lines of text, for a failing counterexample. */
export function describeHistory(history: History): string {
  const ids = userRecordIds(history);
  const consumer =
    history.api === 'withRecordHandler'
      ? 'withRecordHandler'
      : `withKclProcessor (${history.checkpointing} checkpointing${
          history.checkpointEvery > 0 ? `, checkpoint(record) every ${history.checkpointEvery} records` : ''
        }${history.timeoutGuard ? `, shutdownRequested checkpoints ${history.shutdownCheckpoint === 'noArguments' ? 'with checkpoint()' : 'its last finished record'}` : ''})`;
  const { batchSize, maximumRetryAttempts, bisectBatchOnFunctionError, concurrentShards } = history.mapping;
  const m = history.mapping;
  const timeouts = history.timeoutGuard ? 'timeout guard on' : history.lambdaTimeout ? 'no guard, 1 s function timeout' : 'timeout guard off';
  const start = m.startingPosition === 'TRIM_HORIZON' ? 'TRIM_HORIZON' : `${m.startingPosition} (mapping starts before step ${startStep(history) + 1})`;
  const lines = [
    `${history.initialShards} shard(s); ${consumer}; ${timeouts}${history.bigRecords ? '; some 1 MB records' : ''}`,
    `mapping: batchSize ${batchSize}, maximumRetryAttempts ${maximumRetryAttempts}, bisect ${bisectBatchOnFunctionError ? 'on' : 'off'}, shards ${
      concurrentShards ? 'concurrently' : 'one by one'
    }, maximumRecordAgeInSeconds ${m.maximumRecordAgeInSeconds}, batching window ${m.maximumBatchingWindowInSeconds} s, ${start}, children ${
      m.childrenWaitForParents ? 'after their parents' : 'as soon as discovered'
    }`,
  ];
  history.steps.forEach((current, index) => {
    const drain = current.drain ? '; then run the mapping until idle' : '';
    if (current.kind === 'produce') {
      const records = current.records.map((record) => {
        const users = record.users.map((user, at) => describeUser(ids.get(record)![at], user, history.timeoutGuard || history.lambdaTimeout));
        return record.aggregated ? `KPL[${users.join(' ')}]` : history.bigRecords && record.big ? `${users[0]}(1 MB)` : users[0];
      });
      lines.push(`${index + 1}. put into open shard #${current.shard}: ${records.join(', ')}${drain}`);
    } else if (current.kind === 'split') {
      lines.push(`${index + 1}. split open shard #${current.shard}${drain}`);
    } else if (current.kind === 'merge') {
      lines.push(`${index + 1}. merge adjacent pair #${current.pair}${drain}`);
    } else {
      lines.push(`${index + 1}. time jumps ${history.mapping.maximumRecordAgeInSeconds > 0 ? 'past the record age' : 'past the retention'}${drain}`);
    }
  });
  lines.push(`${history.steps.length + 1}. run the mapping until idle`);
  if (history.dynamoDbFaults.length > 0) {
    lines.push(`DynamoDB faults: ${sortBy(history.dynamoDbFaults, (f) => f.call).map((f) => `request #${f.call} ${f.kind}`).join(', ')}`);
  }
  if (history.invocationFaults.length > 0) {
    lines.push(
      `invocation faults: ${sortBy(history.invocationFaults, (f) => f.invocation).map((f) => `invocation #${f.invocation} ${f.kind}`).join(', ')}`,
    );
  }
  return lines.join('\n');
}

/** The step the mapping starts before (0 for TRIM_HORIZON: it reads everything anyway). */
export function startStep(history: History): number {
  return history.mapping.startingPosition === 'TRIM_HORIZON' ? 0 : history.mapping.startAtStep % history.steps.length;
}

function describeUser(id: string, user: UserRecordPlan, slowCounts: boolean): string {
  const marks = [user.throws > 0 ? `throws×${user.throws}` : '', slowCounts && user.slow ? 'slow' : ''].filter(Boolean);
  return marks.length > 0 ? `${id}(${marks.join(',')})` : id;
}

function sortBy<T>(items: readonly T[], key: (item: T) => number): T[] {
  return [...items].sort((a, b) => key(a) - key(b));
}
