/** One measured row of a benchmark section. */
export interface BenchRow {
  readonly name: string;
  readonly opsPerSec: number;
  /** This row's throughput divided by the baseline's (2 means twice as fast). */
  readonly ratio?: number;
  readonly note?: string;
  /** A target this row is held to, with the ratio it is measured by, and whether it was met. */
  readonly target?: string;
  readonly met?: boolean;
}

/** A benchmark's result: rows measured against one named baseline. */
export interface BenchSection {
  readonly title: string;
  readonly baseline: string;
  readonly rows: BenchRow[];
}
