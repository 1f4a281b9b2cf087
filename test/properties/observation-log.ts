/**
 * Everything a history did, in the order it happened: what the processor was
 * given and finished, the lifecycle calls, every DynamoDB write that became
 * durable, every conditional write that was lost, and what Lambda gave up on.
 * The invariants are checked over this log once the history has run.
 */
import type { ExtendedSequenceNumber } from '../../lambda/records/sequence-number';

export type Observed =
  | {
      readonly kind: 'invocationStarted';
      readonly invocation: number;
      readonly container: number;
      /** Per shard, the checkpoint that was durable when the invocation began. */
      readonly durable: ReadonlyMap<string, ExtendedSequenceNumber>;
    }
  /** A user record handed to the processor (processRecords) or to the record handler. */
  | { readonly kind: 'delivered'; readonly invocation: number; readonly container: number; readonly shardId: string; readonly position: ExtendedSequenceNumber; readonly id: string }
  /** The processor finished a user record without throwing. */
  | { readonly kind: 'processed'; readonly shardId: string; readonly position: ExtendedSequenceNumber; readonly id: string }
  | { readonly kind: 'processorThrew'; readonly shardId: string; readonly id: string }
  | { readonly kind: 'shardEnded'; readonly invocation: number; readonly container: number; readonly shardId: string }
  | { readonly kind: 'leaseLost'; readonly shardId: string; readonly container: number }
  /** A PutItem/UpdateItem the table applied (whether or not its response got back). */
  | { readonly kind: 'checkpointWritten'; readonly shardId: string; readonly checkpoint: ExtendedSequenceNumber; readonly leaseCounter: number }
  /** The table refused a conditional write (ConditionalCheckFailedException from dynalite itself). */
  | { readonly kind: 'conditionalWriteLost'; readonly shardId: string; readonly container: number }
  /** Lambda gave up on these Kinesis records and described them to the on-failure destination. */
  | {
      readonly kind: 'discarded';
      readonly shardId: string;
      readonly startSequenceNumber: string;
      readonly endSequenceNumber: string;
      readonly condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
    }
  /** Time passed the stream's retention while this record was not yet processed: Kinesis may trim it, and nothing describes it. */
  | { readonly kind: 'expired'; readonly shardId: string; readonly position: ExtendedSequenceNumber; readonly id: string }
  /** A fault or Lambda behaviour the history met (counted per kind over a run: `fault:<name>`). */
  | { readonly kind: 'fault'; readonly name: string };

export type Entry = Observed & { readonly at: number };

/** A user record as produced: where it landed and its id (its data). */
export interface ProducedRecord {
  readonly id: string;
  readonly shardId: string;
  readonly position: ExtendedSequenceNumber;
  /** Put before a LATEST / AT_TIMESTAMP mapping started: it was never meant to be read. */
  readonly beforeStart?: boolean;
}

export interface ShardShape {
  readonly shardId: string;
  readonly parentShardIds: readonly string[];
  readonly closed: boolean;
}

export class ObservationLog {
  readonly entries: Entry[] = [];
  readonly produced: ProducedRecord[] = [];
  /** withRecordHandler has no leaseLost hook, so only withKclProcessor histories can show it. */
  leaseLostObservable = true;
  /** Containers that were killed (timeout, crash, reclaimed), by id. */
  readonly killedContainers = new Set<number>();
  /** The stream's shards once the history has run. */
  shards: ShardShape[] = [];
  /** What happened, step by step, with the real shard ids (for a failure message). */
  readonly trace: string[] = [];
  private readonly durableByShard = new Map<string, { checkpoint: ExtendedSequenceNumber; leaseCounter: number }>();

  add(observed: Observed): void {
    this.entries.push({ ...observed, at: this.entries.length });
    if (observed.kind === 'checkpointWritten') {
      const known = this.durableByShard.get(observed.shardId);
      if (!known || observed.leaseCounter > known.leaseCounter) {
        this.durableByShard.set(observed.shardId, { checkpoint: observed.checkpoint, leaseCounter: observed.leaseCounter });
      }
    }
  }

  /** Per shard, the checkpoint of the last applied write (highest lease counter). */
  durableCheckpoints(): Map<string, ExtendedSequenceNumber> {
    return new Map([...this.durableByShard].map(([shardId, { checkpoint }]) => [shardId, checkpoint]));
  }

  of<K extends Observed['kind']>(kind: K): (Entry & { kind: K })[] {
    return this.entries.filter((entry): entry is Entry & { kind: K } => entry.kind === kind);
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const entry of this.entries) {
      const name = entry.kind === 'fault' ? `fault:${entry.name}` : entry.kind;
      counts[name] = (counts[name] ?? 0) + 1;
    }
    return counts;
  }
}
