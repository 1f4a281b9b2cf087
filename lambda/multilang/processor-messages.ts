/**
 * What a MultiLang processor writes on stdout: checkpoint requests and the status
 * that ends a call. Anything else on stdout (a library's print, kclpy's blank lines
 * around every message, a JSON value that is no message) is not protocol: KCL skips
 * such lines and so do we.
 */

export interface CheckpointRequest {
  readonly kind: 'checkpoint';
  /** As sent: null (or a missing key) asks for the largest permitted position. */
  readonly sequenceNumber: unknown;
  /** As sent: null (or a missing key) means sub-sequence 0 with a sequence number. */
  readonly subSequenceNumber: unknown;
}

export interface StatusMessage {
  readonly kind: 'status';
  readonly responseFor: string;
}

export interface NotProtocol {
  readonly kind: 'other';
  readonly line: string;
}

/** A status without a string `responseFor`: the call cannot be matched. */
export interface MalformedStatus {
  readonly kind: 'malformedStatus';
  readonly line: string;
}

export type ProcessorLine = CheckpointRequest | StatusMessage | NotProtocol | MalformedStatus;

export function parseProcessorLine(line: string): ProcessorLine {
  const text = line.trim();
  if (!text.startsWith('{')) return { kind: 'other', line };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'other', line };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'other', line };
  const message = value as Record<string, unknown>;
  if (message.action === 'checkpoint') {
    return { kind: 'checkpoint', sequenceNumber: message.sequenceNumber ?? null, subSequenceNumber: message.subSequenceNumber ?? null };
  }
  if (message.action === 'status') {
    return typeof message.responseFor === 'string' ? { kind: 'status', responseFor: message.responseFor } : { kind: 'malformedStatus', line };
  }
  return { kind: 'other', line };
}
