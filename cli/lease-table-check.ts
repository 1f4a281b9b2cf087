/**
 * What `kcl-lambda lease-table check` finds in a KCL lease table: the table is read
 * twice, `watchMs` apart, and every lease whose `leaseCounter` moved in between has a
 * live owner (a KCL worker renewing it, or Lambda checkpointing). From that, the rows
 * that are not leases, KCL 3's index, handoffs, parents not at SHARD_END and (with a
 * stream) the shards and multi-stream keys, it judges whether the next step of a
 * cut-over is safe. Pure reading: the table is never written.
 */
import {
  type AttributeValue,
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand, type KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { SHARD_END, TRIM_HORIZON, LATEST, AT_TIMESTAMP } from '../lambda';
import {
  LEASE_OWNER_INDEX_NAME,
  NON_LEASE_ENTITY_TYPES,
  classifyRow,
  handoffFingerprint,
  isLambdaOwner,
  parseHandoffNote,
  parseLeaseRow,
} from '../lambda/lease-rows';

/** The way the table is about to change hands: to Lambda, back to KCL, or unknown. */
export type CutOverDirection = 'lambda' | 'kcl';

export interface LeaseTableCheckInput {
  readonly dynamoDb: DynamoDBClient;
  readonly tableName: string;
  /** Needed only with `streamName`. */
  readonly kinesis?: KinesisClient;
  readonly streamName?: string;
  /** Time between the two reads; 0 reads once (renewals cannot be seen then). */
  readonly watchMs: number;
  readonly direction?: CutOverDirection;
  readonly sleep?: (ms: number) => Promise<void>;
}

export type OwnerKind = 'lambda' | 'kcl' | 'none';

export interface LeaseFinding {
  readonly leaseKey: string;
  readonly shardId: string;
  readonly owner?: string;
  readonly ownerKind: OwnerKind;
  readonly checkpoint: string;
  readonly checkpointSubSequenceNumber: number;
  readonly counterBefore: number;
  readonly counterAfter: number;
  /** leaseCounter moved between the two reads: someone holds and renews (or checkpoints) it now. */
  readonly renewed: boolean;
  /** KCL 3 handoff in progress: the old owner. */
  readonly checkpointOwner?: string;
  /** In a handoff at both reads, in the same state (same owners, counter and checkpoint). */
  readonly handoffUnchanged: boolean;
  /** When the runtime first saw the row's current handoff state (its note on the row). */
  readonly handoffNotedAt?: Date;
  readonly parentShardIds: readonly string[];
  /** Parents whose lease exists and is not at SHARD_END: this shard waits for them. */
  readonly parentsNotEnded: readonly string[];
  readonly multiStreamIdentifier?: string;
}

export interface IndexFinding {
  readonly state: 'present' | 'missing' | 'different';
  readonly detail?: string;
}

export interface StreamFinding {
  readonly streamName: string;
  readonly creationTimestamp: Date;
  /** Shards of the stream that have no lease row (they start at the mapping's starting position). */
  readonly shardsWithoutLease: readonly string[];
  /** Multi-stream keys of this stream whose creation epoch is not the runtime's (milliseconds). */
  readonly foreignEpochs: readonly string[];
}

export type Severity = 'unsafe' | 'warning' | 'info';

export interface Finding {
  readonly severity: Severity;
  readonly message: string;
}

export interface LeaseTableReport {
  readonly tableName: string;
  readonly watchMs: number;
  readonly direction?: CutOverDirection;
  readonly index: IndexFinding;
  readonly leases: readonly LeaseFinding[];
  readonly nonLeaseRows: readonly { readonly leaseKey: string; readonly entityType: string }[];
  readonly corruptRows: readonly { readonly leaseKey: string; readonly reason: string }[];
  readonly keyFormat: 'shardId' | 'multiStream' | 'mixed' | 'none';
  readonly stream?: StreamFinding;
  readonly findings: readonly Finding[];
  readonly nextSteps: readonly string[];
  /** False when going on now could lose or repeat records. */
  readonly safe: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function checkLeaseTable(input: LeaseTableCheckInput): Promise<LeaseTableReport> {
  const description = await input.dynamoDb.send(new DescribeTableCommand({ TableName: input.tableName }));
  const index = indexFinding(description);
  const first = await scanAll(input.dynamoDb, input.tableName);
  if (input.watchMs > 0) await (input.sleep ?? defaultSleep)(input.watchMs);
  const second = input.watchMs > 0 ? await scanAll(input.dynamoDb, input.tableName) : first;

  const nonLeaseRows: { leaseKey: string; entityType: string }[] = [];
  const corruptRows: { leaseKey: string; reason: string }[] = [];
  // At the first read: each lease's counter and, in a handoff, the handoff's state.
  const before = new Map<string, { readonly leaseCounter: number; readonly handoff?: string }>();
  for (const item of first) {
    const parsed = classifyRow(item).kind === 'lease' ? parseLeaseRow(item) : undefined;
    if (parsed && 'lease' in parsed) {
      const { lease } = parsed;
      before.set(lease.leaseKey, { leaseCounter: lease.leaseCounter, handoff: lease.checkpointOwner === undefined ? undefined : handoffFingerprint(lease) });
    }
  }
  const parsedLeases = [];
  for (const item of second) {
    const leaseKey = item.leaseKey?.S ?? '';
    const kind = classifyRow(item);
    if (kind.kind === 'other') {
      nonLeaseRows.push({ leaseKey, entityType: kind.entityType });
      continue;
    }
    const parsed = parseLeaseRow(item);
    if ('corrupt' in parsed) corruptRows.push({ leaseKey, reason: parsed.corrupt });
    else parsedLeases.push(parsed.lease);
  }
  const byKey = new Map(parsedLeases.map((lease) => [lease.leaseKey, lease]));
  const leases: LeaseFinding[] = parsedLeases.map((lease) => {
    const shardId = lease.multiStream?.shardId ?? lease.leaseKey;
    const prefix = lease.multiStream ? `${lease.multiStream.streamName}:` : '';
    const parentShardIds = lease.parentShardIds ?? [];
    const earlier = before.get(lease.leaseKey);
    const counterBefore = earlier?.leaseCounter ?? lease.leaseCounter;
    const note = parseHandoffNote(lease.handoffSeen);
    const inHandoff = lease.checkpointOwner !== undefined;
    return {
      leaseKey: lease.leaseKey,
      shardId,
      owner: lease.leaseOwner,
      ownerKind: lease.leaseOwner === undefined ? 'none' : isLambdaOwner(lease.leaseOwner) ? 'lambda' : 'kcl',
      checkpoint: lease.checkpoint.sequenceNumber,
      checkpointSubSequenceNumber: lease.checkpoint.subSequenceNumber,
      counterBefore,
      counterAfter: lease.leaseCounter,
      renewed: lease.leaseCounter !== counterBefore,
      checkpointOwner: lease.checkpointOwner,
      handoffUnchanged:
        inHandoff && input.watchMs > 0 && earlier?.handoff !== undefined && earlier.handoff === handoffFingerprint(lease),
      handoffNotedAt: inHandoff && note?.fingerprint === handoffFingerprint(lease) ? new Date(note.since) : undefined,
      parentShardIds,
      // KCL's rule: a parent without a lease does not block; one not at SHARD_END does.
      parentsNotEnded: parentShardIds.filter((parent) => {
        const parentLease = byKey.get(`${prefix}${parent}`);
        return parentLease !== undefined && parentLease.checkpoint.sequenceNumber !== SHARD_END;
      }),
      multiStreamIdentifier: lease.multiStream?.streamName,
    };
  });
  leases.sort((a, b) => a.leaseKey.localeCompare(b.leaseKey));
  nonLeaseRows.sort((a, b) => a.leaseKey.localeCompare(b.leaseKey));

  const multi = leases.filter((lease) => lease.multiStreamIdentifier !== undefined).length;
  const keyFormat = leases.length === 0 ? 'none' : multi === 0 ? 'shardId' : multi === leases.length ? 'multiStream' : 'mixed';
  const stream = input.streamName ? await streamFinding(input, leases) : undefined;
  const partial = { tableName: input.tableName, watchMs: input.watchMs, direction: input.direction, index, leases, nonLeaseRows, corruptRows, keyFormat, stream } as const;
  const { findings, nextSteps } = judge(partial);
  return { ...partial, findings, nextSteps, safe: !findings.some((finding) => finding.severity === 'unsafe') };
}

async function scanAll(dynamoDb: DynamoDBClient, tableName: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamoDb.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

function indexFinding(description: DescribeTableCommandOutput): IndexFinding {
  const index = description.Table?.GlobalSecondaryIndexes?.find((candidate) => candidate.IndexName === LEASE_OWNER_INDEX_NAME);
  if (!index) return { state: 'missing' };
  const keys = (index.KeySchema ?? []).map((key) => `${key.AttributeName}:${key.KeyType}`).join(',');
  const types = new Map((description.Table?.AttributeDefinitions ?? []).map((definition) => [definition.AttributeName, definition.AttributeType]));
  const projection = index.Projection?.ProjectionType;
  if (keys !== 'leaseOwner:HASH,leaseKey:RANGE' || types.get('leaseOwner') !== 'S' || types.get('leaseKey') !== 'S' || projection !== 'KEYS_ONLY') {
    return { state: 'different', detail: `keys ${keys}, projection ${projection}` };
  }
  return { state: 'present' };
}

async function streamFinding(input: LeaseTableCheckInput, leases: readonly LeaseFinding[]): Promise<StreamFinding> {
  const streamName = input.streamName!;
  if (!input.kinesis) throw new Error('checking a stream needs a Kinesis client');
  const summary = await input.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
  const creationTimestamp = summary.StreamDescriptionSummary?.StreamCreationTimestamp;
  if (!(creationTimestamp instanceof Date)) throw new Error(`DescribeStreamSummary gave no StreamCreationTimestamp for ${streamName}`);
  const shardIds: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await input.kinesis.send(new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: streamName }));
    for (const shard of page.Shards ?? []) if (shard.ShardId) shardIds.push(shard.ShardId);
    nextToken = page.NextToken ?? undefined;
  } while (nextToken);
  const ofStream = leases.filter((lease) =>
    lease.multiStreamIdentifier === undefined ? true : lease.multiStreamIdentifier.split(':')[1] === streamName,
  );
  const leased = new Set(ofStream.map((lease) => lease.shardId));
  const epoch = String(creationTimestamp.getTime());
  const foreignEpochs = [
    ...new Set(
      ofStream
        .filter((lease) => lease.multiStreamIdentifier !== undefined && lease.multiStreamIdentifier.split(':')[2] !== epoch)
        .map((lease) => lease.multiStreamIdentifier!),
    ),
  ];
  return { streamName, creationTimestamp, shardsWithoutLease: shardIds.filter((id) => !leased.has(id)), foreignEpochs };
}

type Unjudged = Omit<LeaseTableReport, 'findings' | 'nextSteps' | 'safe'>;

const STARTING = new Set([TRIM_HORIZON, LATEST, AT_TIMESTAMP]);

/** The findings, worst first, and what to do next. */
function judge(report: Unjudged): { findings: Finding[]; nextSteps: string[] } {
  const findings: Finding[] = [];
  const nextSteps: string[] = [];
  const watched = report.watchMs > 0;
  const seconds = `${Math.round(report.watchMs / 100) / 10} s`;
  const kclRenewing = report.leases.filter((lease) => lease.renewed && lease.ownerKind !== 'lambda');
  const lambdaWriting = report.leases.filter((lease) => lease.renewed && lease.ownerKind === 'lambda');
  const handoffs = report.leases.filter((lease) => lease.checkpointOwner !== undefined);
  const owners = (leases: readonly LeaseFinding[]) => [...new Set(leases.map((lease) => lease.owner ?? '(no owner)'))].join(', ');

  // A handoff nobody moves while no lease at all is renewed: its KCL workers stopped midway.
  const anyRenewed = report.leases.some((lease) => lease.renewed);
  const stalled = handoffs.filter((lease) => watched && !anyRenewed && lease.handoffUnchanged);
  const live = handoffs.filter((lease) => !stalled.includes(lease));
  if (live.length > 0) {
    findings.push({
      severity: 'unsafe',
      message:
        `${live.length} lease(s) are being handed over between KCL workers (checkpointOwner set: ${live.map((lease) => lease.leaseKey).join(', ')}): ` +
        'KCL workers are running. The runtime does not write such a lease until the handoff completes or sits unchanged for a minute.',
    });
  }
  if (stalled.length > 0) {
    findings.push({
      severity: 'warning',
      message:
        `${stalled.length} lease(s) are stuck in a KCL 3 handoff (checkpointOwner set and unchanged during the watch, no lease renewed: ` +
        `its workers stopped midway): ${stalled.map((lease) => lease.leaseKey).join(', ')}. The runtime completes such a handoff once it has sat ` +
        'unchanged for a minute; until then every batch of the shard fails and spends one of the mapping\'s retries.',
    });
    for (const lease of stalled) nextSteps.push(finishHandoffStep(report.tableName, lease));
  }
  if (kclRenewing.length > 0 && report.direction !== 'kcl') {
    findings.push({
      severity: 'unsafe',
      message:
        `KCL workers renewed ${kclRenewing.length} lease(s) in ${seconds} (${owners(kclRenewing)}). While they run, every Lambda ` +
        'checkpoint loses its race on leaseCounter (leaseLost) and Lambda delivers the records again.',
    });
    nextSteps.push('Stop every KCL worker of this application, then run this check again: it passes once no KCL lease is renewed.');
  }
  if (lambdaWriting.length > 0 && report.direction === 'kcl') {
    findings.push({
      severity: 'unsafe',
      message: `Lambda checkpointed ${lambdaWriting.length} lease(s) in ${seconds} (${owners(lambdaWriting)}): the event source mapping still delivers.`,
    });
    nextSteps.push(
      'Disable the event source mapping (aws lambda update-event-source-mapping --uuid <id> --no-enabled), wait the function timeout, ' +
        'then run this check again: it passes once no Lambda lease moves.',
    );
  }
  if (report.direction === undefined && kclRenewing.length > 0 && lambdaWriting.length > 0) {
    nextSteps.push('KCL workers and Lambda both write this table: stop one of them (see the findings above).');
  }
  if (report.corruptRows.length > 0) {
    findings.push({
      severity: 'unsafe',
      message: `Lease rows the runtime cannot read (it fails their shards' batches): ${report.corruptRows.map((row) => `${row.leaseKey} (${row.reason})`).join('; ')}`,
    });
  }
  if (report.stream && report.stream.foreignEpochs.length > 0 && report.direction !== 'kcl') {
    findings.push({
      severity: 'unsafe',
      message:
        `Multi-stream leases of ${report.stream.streamName} carry a creation epoch other than the stream's creation time in milliseconds ` +
        `(${report.stream.creationTimestamp.getTime()}): ${report.stream.foreignEpochs.join(', ')}. The runtime would not find them and would start those shards over, ` +
          'unless the function is told the identifier (construct prop streamIdentifier, runtime option streamIdentifier, env KCL_STREAM_IDENTIFIER).',
    });
  }
  if (report.keyFormat === 'mixed') {
    findings.push({ severity: 'unsafe', message: 'The table mixes shard-id and multi-stream lease keys; the runtime reads one format only.' });
  }
  if (!watched) {
    findings.push({ severity: 'warning', message: 'Read once (--watch-seconds 0): renewals cannot be seen, so live workers would go unnoticed.' });
  }
  if (report.index.state === 'missing') {
    findings.push({
      severity: 'warning',
      message: `No ${LEASE_OWNER_INDEX_NAME}: KCL 3 workers create it when they start (they need dynamodb:UpdateTable); the construct's own table has it.`,
    });
  } else if (report.index.state === 'different') {
    findings.push({ severity: 'warning', message: `${LEASE_OWNER_INDEX_NAME} is not KCL 3's shape (hash leaseOwner, range leaseKey, KEYS_ONLY): ${report.index.detail}` });
  }
  for (const lease of report.leases) {
    if (lease.parentsNotEnded.length > 0 && STARTING.has(lease.checkpoint)) {
      findings.push({
        severity: 'info',
        message: `${lease.shardId} waits for its parent(s) ${lease.parentsNotEnded.join(', ')} to reach SHARD_END (KCL and the runtime both process parents first).`,
      });
    }
  }
  if (report.nonLeaseRows.length > 0) {
    const byType = new Map<string, string[]>();
    for (const row of report.nonLeaseRows) byType.set(row.entityType, [...(byType.get(row.entityType) ?? []), row.leaseKey]);
    // KCL's own order of entity types; anything unknown last.
    const rank = (type: string) => ((NON_LEASE_ENTITY_TYPES as readonly string[]).indexOf(type) + 1 || NON_LEASE_ENTITY_TYPES.length + 1);
    findings.push({
      severity: 'info',
      message: `Rows that are not leases (KCL 3 state; the runtime never reads or writes them): ${[...byType].sort(([a], [b]) => rank(a) - rank(b)).map(([type, keys]) => `${type} ${keys.join(', ')}`).join('; ')}`,
    });
  }
  if (report.stream && report.stream.shardsWithoutLease.length > 0) {
    findings.push({
      severity: 'info',
      message: `Shards of ${report.stream.streamName} without a lease (they start at the starting position): ${report.stream.shardsWithoutLease.join(', ')}`,
    });
  }
  if (report.keyFormat === 'multiStream' && report.direction !== 'kcl') {
    findings.push({ severity: 'info', message: "Leases are keyed by KCL's multi-stream format: deploy with leaseKeys LeaseKeys.MULTI_STREAM (runtime option leaseKeys: 'multiStream')." });
  }

  const unsafe = findings.some((finding) => finding.severity === 'unsafe');
  if (!unsafe) nextSteps.push(...safeNextSteps(report));
  return { findings: sortFindings(findings), nextSteps };
}

/** How to finish a handoff its workers left half done: let KCL finish it, or remove checkpointOwner by hand. */
function finishHandoffStep(tableName: string, lease: LeaseFinding): string {
  const key = JSON.stringify({ leaseKey: { S: lease.leaseKey } });
  const values = JSON.stringify({ ':old': { S: lease.checkpointOwner }, ':counter': { N: String(lease.counterAfter) } });
  return (
    `Finish the handoff of ${lease.leaseKey} (from ${lease.checkpointOwner} to ${lease.owner ?? 'nobody'}): start one KCL worker to finish it ` +
    `(then stop it and run this check again), or remove checkpointOwner with: aws dynamodb update-item --table-name ${tableName} ` +
    `--key '${key}' --update-expression 'REMOVE checkpointOwner' ` +
    `--condition-expression 'checkpointOwner = :old AND leaseCounter = :counter' --expression-attribute-values '${values}'`
  );
}

function safeNextSteps(report: Unjudged): string[] {
  if (report.direction === 'lambda') {
    return [
      'Safe to enable the event source mapping: no KCL worker renews a lease.',
      'Start it at TRIM_HORIZON (or AT_TIMESTAMP before the oldest KCL checkpoint): the runtime skips every record at or below a checkpoint.',
      'Afterwards run this check again without --to: the leases then move under kcl-lambda: owners.',
    ];
  }
  if (report.direction === 'kcl') {
    return [
      'Safe to start the KCL workers: Lambda wrote nothing during the watch.',
      'KCL takes kcl-lambda: leases as expired (nobody renews them) and resumes after their checkpoints.',
    ];
  }
  return ['One consumer at most writes this table. Before a cut-over, run again with --to lambda or --to kcl.'];
}

function sortFindings(findings: Finding[]): Finding[] {
  const rank: Record<Severity, number> = { unsafe: 0, warning: 1, info: 2 };
  return [...findings].sort((a, b) => rank[a.severity] - rank[b.severity]);
}
