import type { KclLogger, KclOptions } from '../options';

export type LogLevelName = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';
type EmittedLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

const LEVEL_RANK: Readonly<Record<string, number>> = {
  TRACE: 0,
  DEBUG: 1,
  INFO: 2,
  WARN: 3,
  ERROR: 4,
  FATAL: 5,
  CRITICAL: 5,
  SILENT: 6,
};

/** Keys the logger owns; fields of the same name are dropped rather than overwrite them. */
const RESERVED = new Set(['timestamp', 'level', 'message']);

/** How deep an error's `cause` chain is followed. */
const MAX_CAUSE_DEPTH = 5;

export interface JsonLoggerSettings {
  /** Lowest level written. @default - from the environment, see {@link logLevelFromEnvironment} */
  readonly level?: string;
  /** Fields on every line (for example `applicationName`). */
  readonly fields?: Readonly<Record<string, unknown>>;
  /** Writes one line (newline included). @default - stdout for debug/info, stderr for warn/error */
  readonly write?: (line: string, level: EmittedLevel) => void;
  /** @default - the current time */
  readonly now?: () => Date;
}

/**
 * The runtime's default logger: one JSON object per line with `timestamp`,
 * `level` and `message` (the keys Lambda's JSON log format and its log-level
 * filter read), then the fields. Extra arguments are read like Powertools Logger
 * reads them: an object's keys become fields, an `Error` becomes `error`, a
 * string becomes `extra`. Errors keep name, message, own scalar properties (such
 * as `code`), stack and their `cause` chain.
 */
export class JsonLogger implements KclLogger {
  private readonly threshold: number;
  private readonly write: (line: string, level: EmittedLevel) => void;
  private readonly now: () => Date;

  constructor(private readonly settings: JsonLoggerSettings = {}) {
    this.threshold = rankOf(settings.level ?? logLevelFromEnvironment());
    this.write = settings.write ?? writeToStandardStreams;
    this.now = settings.now ?? (() => new Date());
  }

  debug(message: string, ...extra: unknown[]): void {
    this.log('DEBUG', message, extra);
  }

  info(message: string, ...extra: unknown[]): void {
    this.log('INFO', message, extra);
  }

  warn(message: string, ...extra: unknown[]): void {
    this.log('WARN', message, extra);
  }

  error(message: string, ...extra: unknown[]): void {
    this.log('ERROR', message, extra);
  }

  /** True when a line at this level would be written. */
  isEnabled(level: EmittedLevel): boolean {
    return LEVEL_RANK[level] >= this.threshold;
  }

  private log(level: EmittedLevel, message: string, extra: unknown[]): void {
    if (!this.isEnabled(level)) return;
    const line: Record<string, unknown> = { timestamp: this.now().toISOString(), level, message: String(message) };
    addFields(line, this.settings.fields);
    for (const item of extra) {
      if (item === undefined || item === null) continue;
      if (item instanceof Error) addFields(line, { error: item });
      else if (typeof item === 'object') addFields(line, item as Record<string, unknown>);
      else addFields(line, { extra: item });
    }
    this.write(stringify(line) + '\n', level);
  }
}

/**
 * The level threshold from the environment: Lambda's advanced logging controls
 * (`AWS_LAMBDA_LOG_LEVEL`) first, then `POWERTOOLS_LOG_LEVEL`, then `LOG_LEVEL`;
 * `INFO` when none is set or the value is unknown.
 */
export function logLevelFromEnvironment(env: NodeJS.ProcessEnv = process.env): LogLevelName {
  for (const key of ['AWS_LAMBDA_LOG_LEVEL', 'POWERTOOLS_LOG_LEVEL', 'LOG_LEVEL']) {
    const value = env[key]?.trim().toUpperCase();
    if (value && value in LEVEL_RANK) return (value === 'CRITICAL' || value === 'SILENT' ? 'FATAL' : value) as LogLevelName;
  }
  return 'INFO';
}

/** The logger the options ask for: theirs (console, Powertools Logger, pino...), else a {@link JsonLogger}. */
export function createLogger(options: Pick<KclOptions, 'logger'> = {}, settings?: JsonLoggerSettings): KclLogger {
  return options.logger ?? new JsonLogger(settings);
}

function rankOf(level: string): number {
  return LEVEL_RANK[level.trim().toUpperCase()] ?? LEVEL_RANK.INFO;
}

function addFields(line: Record<string, unknown>, fields: Readonly<Record<string, unknown>> | undefined): void {
  if (!fields) return;
  for (const [key, value] of Object.entries(fields)) {
    if (!RESERVED.has(key) && value !== undefined) line[key] = value;
  }
}

function writeToStandardStreams(line: string, level: EmittedLevel): void {
  (level === 'WARN' || level === 'ERROR' ? process.stderr : process.stdout).write(line);
}

/** JSON that survives errors, BigInt and cycles; a log call must never throw. */
function stringify(line: Record<string, unknown>): string {
  const ancestors: unknown[] = [];
  return JSON.stringify(line, function (this: unknown, _key: string, value: unknown) {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) return describeError(value, 0);
    if (typeof value === 'object' && value !== null) {
      // `this` is the object holding `value`: drop ancestors we have left, then look for a cycle.
      while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
      if (ancestors.includes(value)) return '[Circular]';
      ancestors.push(value);
    }
    return value;
  });
}

function describeError(error: Error, depth: number): Record<string, unknown> {
  const described: Record<string, unknown> = { name: error.name, message: error.message };
  for (const [key, value] of Object.entries(error)) {
    // Scalars only: nested objects on SDK errors (raw responses) are noise, and could be large.
    if (['string', 'number', 'boolean'].includes(typeof value) && !(key in described)) described[key] = value;
  }
  if (error.stack) described.stack = error.stack;
  const cause: unknown = error.cause;
  if (cause !== undefined) {
    described.cause =
      cause instanceof Error
        ? depth + 1 < MAX_CAUSE_DEPTH
          ? describeError(cause, depth + 1)
          : { name: cause.name, message: cause.message }
        : cause;
  }
  return described;
}
