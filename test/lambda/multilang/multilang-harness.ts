/**
 * What the MultiLang tests share: a journal file per child fleet (each fixture process
 * appends one JSON line per call it received and per checkpoint answer it read), the
 * child output a handler forwarded, and a check that no fixture died of a message
 * amazon_kclpy could not have parsed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import type { ChildOutputHandler } from '../../../lambda';
import { buildGoProcessor } from '../../../examples/multilang/go-processor-build';

export interface JournalEntry {
  readonly pid: number;
  readonly call: string;
  readonly [field: string]: unknown;
}

export const PYTHON_FIXTURE = join(__dirname, 'fixtures', 'strict_kcl_processor.py');
export const GO_FIXTURE = join(__dirname, 'fixtures', 'go-processor', 'main.go');

/** Compiles the Go fixture into `dir` (a static binary), with its build cache there too; `goarch` cross-compiles. */
export function buildGoFixture(dir: string, goarch?: string): string {
  return buildGoProcessor({ source: GO_FIXTURE, output: join(dir, 'kcl-go-processor'), goarch, cacheDir: dir });
}

/** A processRecords journal entry's records as `sequence/sub-sequence`. */
export const delivered = (entry: JournalEntry) => (entry.records as [string, number][]).map(([seq, sub]) => `${seq}/${sub}`);

export const failures = (response: KinesisStreamBatchResponse) => response.batchItemFailures.map((failure) => failure.itemIdentifier);

/** A temporary folder with one journal per test. */
export class FixtureJournals {
  readonly dir = mkdtempSync(join(tmpdir(), 'kcl-multilang-'));
  private counter = 0;

  next(): Journal {
    this.counter += 1;
    return new Journal(join(this.dir, `journal-${this.counter}.jsonl`));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class Journal {
  readonly output: { line: string; stream: string; shardId: string }[] = [];
  readonly onOutput: ChildOutputHandler = (line, { stream, shardId }) => void this.output.push({ line, stream, shardId });

  constructor(readonly path: string) {}

  entries(): JournalEntry[] {
    let text = '';
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as JournalEntry);
  }

  calls(): string[] {
    return this.entries().map((entry) => entry.call);
  }

  of(call: string): JournalEntry[] {
    return this.entries().filter((entry) => entry.call === call);
  }

  pids(): number[] {
    return [...new Set(this.entries().map((entry) => entry.pid))];
  }

  /** The fixture records why it died where amazon_kclpy would have died. */
  expectNoFatal(): void {
    expect(this.of('fatal')).toEqual([]);
  }

  /** Waits (without a time bound the test depends on) until the journal shows `call`. */
  async waitFor(call: string, count = 1): Promise<void> {
    for (let attempt = 0; attempt < 400 && this.of(call).length < count; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** Everything a memory logger was told, errors included by message, as one string per line. */
export function loggedText(lines: readonly { level: string; message: string; extra: unknown[] }[]): string[] {
  const describe = (value: unknown): string => {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    if (typeof value === 'object' && value !== null) {
      return Object.entries(value)
        .map(([key, field]) => `${key}=${describe(field)}`)
        .join(' ');
    }
    return String(value);
  };
  return lines.map((line) => `${line.level} ${line.message} ${line.extra.map(describe).join(' ')}`);
}
