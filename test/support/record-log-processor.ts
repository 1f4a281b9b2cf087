import type { RecordProcessor } from '../../lambda';
import type { LoggedRecord } from './kcl-lease-table';

/**
 * Processors that append every record they are given to `log` (as `by`) and note
 * their lifecycle calls, for exactly-once assertions across consumers.
 */
export function recordLogProcessors(log: LoggedRecord[], by = 'lambda') {
  const calls: string[] = [];
  const factory = (shardId: string): RecordProcessor => ({
    initialize: ({ extendedSequenceNumber }) => void calls.push(`initialize ${shardId} ${extendedSequenceNumber.sequenceNumber}`),
    processRecords: ({ records }) => {
      calls.push(`processRecords ${shardId} ${records.length}`);
      for (const record of records) log.push({ shardId, sequenceNumber: record.sequenceNumber, by });
    },
    shardEnded: async ({ checkpointer }) => {
      calls.push(`shardEnded ${shardId}`);
      await checkpointer.checkpoint();
    },
    leaseLost: () => void calls.push(`leaseLost ${shardId}`),
  });
  return { calls, factory };
}
