import type { KclLogger } from '../../lambda';

export interface ShardRuntimeStats {
  batches: number;
  userRecords: number;
  duplicatesSkipped: number;
  recordsFailed: number;
  shardEnded: number;
  leaseLost: number;
}

export type LogLine = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown>) => void;

/**
 * A KclLogger for the runtime that sums its per-batch log fields ("Batch
 * processed": user records, duplicates skipped, shard ends) per shard, so the
 * local summary reports what the runtime itself counted. Lines go on to `forward`.
 */
export class RuntimeStatsLogger implements KclLogger {
  readonly shards = new Map<string, ShardRuntimeStats>();
  warnings = 0;
  errors = 0;

  constructor(private readonly forward?: LogLine) {}

  debug(message: string, ...extra: unknown[]): void {
    this.forward?.('debug', message, fieldsOf(extra));
  }

  info(message: string, ...extra: unknown[]): void {
    const fields = fieldsOf(extra);
    if (message === 'Batch processed' && typeof fields.shardId === 'string') this.add(fields.shardId, fields);
    this.forward?.('info', message, fields);
  }

  warn(message: string, ...extra: unknown[]): void {
    this.warnings += 1;
    this.forward?.('warn', message, fieldsOf(extra));
  }

  error(message: string, ...extra: unknown[]): void {
    this.errors += 1;
    this.forward?.('error', message, fieldsOf(extra));
  }

  total(): ShardRuntimeStats {
    const total = emptyStats();
    for (const stats of this.shards.values()) {
      for (const key of Object.keys(total) as (keyof ShardRuntimeStats)[]) total[key] += stats[key];
    }
    return total;
  }

  private add(shardId: string, fields: Record<string, unknown>): void {
    let stats = this.shards.get(shardId);
    if (!stats) this.shards.set(shardId, (stats = emptyStats()));
    stats.batches += 1;
    stats.userRecords += numberField(fields.userRecords);
    stats.duplicatesSkipped += numberField(fields.duplicatesSkipped);
    stats.recordsFailed += numberField(fields.recordsFailed);
    stats.shardEnded += numberField(fields.shardEnded);
    stats.leaseLost += numberField(fields.leaseLost);
  }
}

function emptyStats(): ShardRuntimeStats {
  return { batches: 0, userRecords: 0, duplicatesSkipped: 0, recordsFailed: 0, shardEnded: 0, leaseLost: 0 };
}

function numberField(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function fieldsOf(extra: unknown[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const item of extra) {
    if (item instanceof Error) fields.error = `${item.name}: ${item.message}`;
    else if (item && typeof item === 'object') Object.assign(fields, item);
    else if (item !== undefined) fields.extra = item;
  }
  return fields;
}
