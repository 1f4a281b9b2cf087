import Table from 'cli-table3';
import type { EventSourceMappingSettings } from '../mapping/mapping-settings';
import type { CheckpointRow } from '../emulators/local-services';

/** One shard's line in the summary. */
export interface ShardSummary {
  readonly shardId: string;
  readonly parents: readonly string[];
  readonly state: string;
  readonly produced?: number;
  /** User records the processor finished (first time), when the runner can see them. */
  readonly processed?: number;
  readonly kinesisRecords: number;
  readonly invocations: number;
  readonly retries: number;
  readonly duplicatesSkipped?: number;
  readonly discarded: number;
}

export interface RunSummary {
  readonly streamName: string;
  readonly tableName: string;
  readonly processor: string;
  readonly settingsSource: string;
  readonly settings: EventSourceMappingSettings;
  readonly shards: readonly ShardSummary[];
  readonly checkpointRows: readonly CheckpointRow[];
  readonly totals: {
    readonly produced?: number;
    readonly processed?: number;
    readonly invocations: number;
    readonly retries: number;
    readonly injectedFailures: number;
    readonly duplicatesSkipped?: number;
    readonly onFailureRecords: number;
  };
  readonly onFailureFile: string;
  readonly elapsedMs: number;
  readonly problems: readonly string[];
}

const plain = { head: [] as string[], border: [] as string[] };

/** The summary as text: settings, records per shard, checkpoint rows, on-failure records, verdict. */
export function renderSummary(summary: RunSummary): string {
  const lines: string[] = [];
  const { settings } = summary;
  lines.push('');
  lines.push(`Stream ${summary.streamName} → ${summary.processor}`);
  lines.push(
    `Event source mapping (${summary.settingsSource}): batch size ${settings.batchSize}, ` +
      `batching window ${settings.maximumBatchingWindowInSeconds} s, ${settings.startingPosition}, ` +
      `retries ${settings.maximumRetryAttempts < 0 ? 'unlimited' : settings.maximumRetryAttempts}, ` +
      `max record age ${settings.maximumRecordAgeInSeconds < 0 ? 'unlimited' : `${settings.maximumRecordAgeInSeconds} s`}, ` +
      `bisect ${settings.bisectBatchOnFunctionError ? 'on' : 'off'}, ` +
      `ReportBatchItemFailures ${settings.reportBatchItemFailures ? 'on' : 'off'}, timeout ${settings.functionTimeoutSeconds} s`,
  );

  const shards = new Table({
    head: ['shard', 'parents', 'state', 'produced', 'processed', 'kinesis records', 'invocations', 'retries', 'duplicates skipped', 'discarded'],
    style: plain,
  });
  for (const shard of summary.shards) {
    shards.push([
      shard.shardId,
      shard.parents.join(' + ') || '-',
      shard.state,
      show(shard.produced),
      show(shard.processed),
      shard.kinesisRecords,
      shard.invocations,
      shard.retries,
      show(shard.duplicatesSkipped),
      shard.discarded,
    ]);
  }
  const { totals } = summary;
  shards.push([
    'total',
    '',
    '',
    show(totals.produced),
    show(totals.processed),
    summary.shards.reduce((sum, shard) => sum + shard.kinesisRecords, 0),
    totals.invocations,
    totals.retries,
    show(totals.duplicatesSkipped),
    summary.shards.reduce((sum, shard) => sum + shard.discarded, 0),
  ]);
  lines.push('', 'Records per shard', shards.toString());

  const rows = new Table({
    head: ['leaseKey', 'checkpoint', 'sub-sequence', 'leaseCounter', 'leaseOwner', 'parentShardId'],
    style: plain,
  });
  for (const row of summary.checkpointRows) {
    rows.push([
      row.leaseKey,
      row.checkpoint ?? '-',
      show(row.checkpointSubSequenceNumber),
      show(row.leaseCounter),
      row.leaseOwner ?? '-',
      row.parentShardId?.join(', ') ?? '-',
    ]);
  }
  lines.push('', `Checkpoint table ${summary.tableName} (read back)`, rows.toString());

  lines.push('');
  lines.push(`Injected failures: ${totals.injectedFailures}; retried invocations: ${totals.retries}`);
  lines.push(
    `On-failure records: ${totals.onFailureRecords}${totals.onFailureRecords > 0 ? ` (in ${summary.onFailureFile})` : ''}`,
  );
  lines.push(`Elapsed: ${(summary.elapsedMs / 1000).toFixed(1)} s`);
  if (summary.problems.length === 0) {
    lines.push(
      totals.produced !== undefined && totals.processed !== undefined
        ? 'OK: every record processed at least once, in order per shard; SHARD_END on every closed shard.'
        : 'OK: nothing discarded; SHARD_END on every closed shard with a started child.',
    );
  } else {
    lines.push('PROBLEMS:');
    for (const problem of summary.problems) lines.push(`  - ${problem}`);
  }
  return lines.join('\n');
}

function show(value: number | undefined): string | number {
  return value === undefined ? '-' : value;
}
