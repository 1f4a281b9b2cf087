/**
 * The messages the MultiLangDaemon writes to a processor's stdin, each built from a
 * fixed schema: every key present, no `undefined` (JSON.stringify would drop the key),
 * no nested object without an `action`. amazon_kclpy decodes every object with an
 * object hook that needs `action` and reads fields by key, so one missing key, one
 * null timestamp or one stray nested object kills the child.
 */
import type { KinesisUserRecord } from '../records/kinesis-user-record';
import type { ExtendedSequenceNumber } from '../records/sequence-number';

export interface InitializeMessage {
  readonly action: 'initialize';
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
}

export interface RecordMessage {
  readonly action: 'record';
  readonly data: string;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
  /** Epoch milliseconds, an integer (kclpy calls int() on it). */
  readonly approximateArrivalTimestamp: number;
}

export interface ProcessRecordsMessage {
  readonly action: 'processRecords';
  readonly records: readonly RecordMessage[];
  readonly millisBehindLatest: number;
}

/** KCL 2.x/3.x lifecycle ends. */
export interface LifecycleMessage {
  readonly action: 'leaseLost' | 'shardEnded' | 'shutdownRequested';
}

/** KCL 1.x: both lifecycle ends are `shutdown`, told apart by the reason. */
export interface ShutdownMessage {
  readonly action: 'shutdown';
  readonly reason: 'TERMINATE' | 'ZOMBIE';
}

/** The answer to a processor's checkpoint request: what it sent, and the KCL exception name or null. */
export interface CheckpointReplyMessage {
  readonly action: 'checkpoint';
  readonly sequenceNumber: string | null;
  readonly subSequenceNumber: number | null;
  readonly error: string | null;
}

export type DaemonMessage =
  | InitializeMessage
  | ProcessRecordsMessage
  | LifecycleMessage
  | ShutdownMessage
  | CheckpointReplyMessage;

export function initializeMessage(shardId: string, position: ExtendedSequenceNumber): InitializeMessage {
  return {
    action: 'initialize',
    shardId,
    sequenceNumber: position.sequenceNumber,
    subSequenceNumber: wholeNumber(position.subSequenceNumber),
  };
}

export function processRecordsMessage(records: readonly KinesisUserRecord[], millisBehindLatest: number): ProcessRecordsMessage {
  return { action: 'processRecords', records: records.map(recordMessage), millisBehindLatest: wholeNumber(millisBehindLatest) };
}

export function recordMessage(record: KinesisUserRecord): RecordMessage {
  return {
    action: 'record',
    data: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength).toString('base64'),
    partitionKey: record.partitionKey,
    sequenceNumber: record.sequenceNumber,
    subSequenceNumber: wholeNumber(record.subSequenceNumber),
    approximateArrivalTimestamp: wholeNumber(record.approximateArrivalTimestamp.getTime()),
  };
}

export function lifecycleMessage(action: LifecycleMessage['action']): LifecycleMessage {
  return { action };
}

export function shutdownMessage(reason: ShutdownMessage['reason']): ShutdownMessage {
  return { action: 'shutdown', reason };
}

/**
 * Echoes the request as the processor sent it. A value of a type the protocol does
 * not have (a number as sequence number) is echoed as null: the reply must still parse.
 */
export function checkpointReplyMessage(sequenceNumber: unknown, subSequenceNumber: unknown, error: string | null): CheckpointReplyMessage {
  return {
    action: 'checkpoint',
    sequenceNumber: typeof sequenceNumber === 'string' ? sequenceNumber : null,
    subSequenceNumber: typeof subSequenceNumber === 'number' && Number.isFinite(subSequenceNumber) ? subSequenceNumber : null,
    error,
  };
}

/** One line on the child's stdin. */
export function encodeMessage(message: DaemonMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/** A finite integer, never NaN or null (an unparseable arrival time becomes 0). */
function wholeNumber(value: number): number {
  return Number.isFinite(value) ? Math.max(0, Math.trunc(value)) : 0;
}
