/**
 * The one table `npm run bench` prints and the JSON it writes. Sections differ in
 * units (ms per batch, ops/s, requests, KB), so every figure becomes a row that
 * carries its own unit, its ratio to the section's baseline and the target, if any.
 */
import type { BenchSection } from './bench-types';

export interface ReportRow {
  readonly section: string;
  readonly name: string;
  /** The figure, e.g. a median in ms, ops/s, a request count, a size in KB. */
  readonly value: number;
  readonly unit: string;
  /** How the row is shown in the table (the value with its unit, or a richer text). */
  readonly display?: string;
  /** Relative to the section's baseline; `ratioMeaning` says which way is better. */
  readonly ratio?: number;
  readonly ratioMeaning?: 'time' | 'throughput' | 'memory';
  readonly target?: string;
  readonly met?: boolean;
  /** Every other number measured for the row (mean, p99, samples, …). */
  readonly details?: Readonly<Record<string, number | string>>;
}

export interface ReportSection {
  readonly title: string;
  readonly baseline?: string;
  /** What the figures mean, for the README. */
  readonly explanation: string;
  readonly rows: ReportRow[];
}

/** The de-aggregation section (BenchSection: throughput and throughput ratio) as report rows. */
export function fromBenchSection(section: BenchSection): ReportSection {
  const title = 'KPL de-aggregation';
  return {
    title,
    baseline: section.baseline,
    explanation: section.title,
    rows: section.rows.map((row) => {
      return {
        section: title,
        name: row.note ? `${row.name} (${row.note})` : row.name,
        value: row.opsPerSec,
        unit: 'aggregates/s',
        display: `${formatNumber(row.opsPerSec)} aggregates/s`,
        ratio: row.ratio,
        ratioMeaning: 'throughput',
        target: row.target,
        met: row.met,
      };
    }),
  };
}

export function formatNumber(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function ratioText(row: ReportRow): string {
  if (row.ratio === undefined) return '';
  if (row.ratioMeaning === 'throughput') return `${row.ratio.toFixed(2)}× as fast`;
  if (row.ratioMeaning === 'memory') return `${row.ratio.toFixed(row.ratio < 0.1 ? 3 : 2)}× the memory`;
  return `${row.ratio.toFixed(2)}× the time`;
}

function targetText(row: ReportRow): string {
  if (!row.target) return '';
  if (row.met === undefined) return row.target;
  return `${row.target} ${row.met ? '✅ met' : '❌ not met'}`;
}

/** One Markdown table of every row of every section. */
export function markdownTable(sections: readonly ReportSection[]): string {
  const lines = ['| Section | Case | Result | Ratio to baseline | Target |', '|---|---|---:|---:|---|'];
  for (const section of sections) {
    for (const row of section.rows) {
      const cells = [section.title, row.name, row.display ?? `${formatNumber(row.value)} ${row.unit}`, ratioText(row), targetText(row)];
      lines.push(`| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** Runs one section's benchmark on its own (`node -r ./bench/typescript-as-shipped.cjs bench/<name>.bench.ts`) and prints its rows. */
export function runStandalone(run: () => Promise<ReportSection | readonly ReportSection[]>): void {
  run().then(
    (result) => console.log(markdownTable(Array.isArray(result) ? result : [result as ReportSection])),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
