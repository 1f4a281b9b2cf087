import { compareSequenceNumbers, isNumericSequenceNumber } from '../../lambda';

/** What became of one invocation, before the retry policy looks at it. */
export type InvocationOutcome =
  | { readonly kind: 'returned'; readonly response: unknown }
  | { readonly kind: 'threw'; readonly error: unknown }
  | { readonly kind: 'timedOut'; readonly timeoutMs: number };

/** How Lambda reads an outcome for a batch of Kinesis records. */
export type BatchVerdict =
  | { readonly kind: 'success' }
  /** Records before `retryFromIndex` are done; the rest are retried. */
  | { readonly kind: 'partial'; readonly retryFromIndex: number; readonly itemIdentifier: string }
  /** The whole batch failed; `functionError` is set when the function itself errored. */
  | { readonly kind: 'failed'; readonly reason: string; readonly functionError?: 'Unhandled' };

/**
 * Lambda's rules for a Kinesis batch: a thrown error or timeout fails the whole
 * batch. With ReportBatchItemFailures, an empty or null response (`[]` too) or failure list
 * is success; several failures retry from the lowest sequence number; an empty,
 * null, mistyped or unknown `itemIdentifier` fails the whole batch. Without it,
 * whatever the function returns is success.
 */
export function judgeOutcome(
  outcome: InvocationOutcome,
  batchSequenceNumbers: readonly string[],
  reportBatchItemFailures: boolean,
): BatchVerdict {
  if (outcome.kind === 'threw') {
    return { kind: 'failed', reason: `function error: ${describeError(outcome.error)}`, functionError: 'Unhandled' };
  }
  if (outcome.kind === 'timedOut') {
    return { kind: 'failed', reason: `function timed out after ${outcome.timeoutMs} ms`, functionError: 'Unhandled' };
  }
  if (!reportBatchItemFailures) return { kind: 'success' };

  const response = outcome.response;
  // An empty list as the whole response is success too (recorded against AWS).
  if (response === null || response === undefined || (Array.isArray(response) && response.length === 0)) return { kind: 'success' };
  if (typeof response !== 'object' || Array.isArray(response)) {
    return { kind: 'failed', reason: `response is not a batch response object: ${preview(response)}` };
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { kind: 'success' };
  if (!Array.isArray(failures)) {
    return { kind: 'failed', reason: `batchItemFailures is not a list: ${preview(failures)}` };
  }
  if (failures.length === 0) return { kind: 'success' };

  const indexBySequence = new Map(batchSequenceNumbers.map((sequenceNumber, index) => [sequenceNumber, index]));
  let lowest: string | undefined;
  for (const failure of failures) {
    const identifier = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof identifier !== 'string' || identifier === '') {
      return { kind: 'failed', reason: `batch item failure without an itemIdentifier: ${preview(failure)}` };
    }
    if (!isNumericSequenceNumber(identifier) || !indexBySequence.has(identifier)) {
      return { kind: 'failed', reason: `itemIdentifier ${JSON.stringify(identifier)} is not a sequence number in this batch` };
    }
    if (lowest === undefined || compareSequenceNumbers(identifier, lowest) < 0) lowest = identifier;
  }
  return { kind: 'partial', retryFromIndex: indexBySequence.get(lowest as string) as number, itemIdentifier: lowest as string };
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return preview(error);
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
