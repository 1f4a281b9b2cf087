/**
 * `npm run bench`: every benchmark section in one run, one Markdown table on
 * stdout, and every figure with the machine it was measured on in
 * bench/results/latest.json. Progress goes to stderr.
 *
 * BENCH_QUICK=1 shortens every section (a smoke run; its figures are rough).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bundleBench from './bundle.bench';
import { run as runDeaggregation } from './deaggregate.bench';
import { run as runDynamoDbRequests } from './dynamodb-requests.bench';
import * as functionBundle from './function-bundle.bench';
import * as handlerOverhead from './handler-overhead.bench';
import * as multiLang from './multilang.bench';
import { describeMachine, gitRevision } from './machine';
import { type ReportSection, fromBenchSection, markdownTable } from './report';

const ROOT = path.resolve(__dirname, '..');
const RESULTS = path.join(__dirname, 'results', 'latest.json');
const QUICK = process.env.BENCH_QUICK === '1';

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function main(): Promise<void> {
  const started = new Date();
  const loadBefore = os.loadavg();
  const sections: ReportSection[] = [];

  progress('handler overhead (hand-written loop, Powertools, withRecordHandler, withKclProcessor)…');
  sections.push(
    ...(await handlerOverhead.run(QUICK ? { rounds: 2, timeMs: 100, minIterations: 2, heapRuns: 1 } : handlerOverhead.DEFAULT_SETTINGS)),
  );
  progress('KPL de-aggregation (ours vs aws-kinesis-agg)…');
  sections.push(fromBenchSection(await runDeaggregation()));
  progress('DynamoDB requests per batch…');
  sections.push(await runDynamoDbRequests());
  progress('MultiLang processors (child start, batch round trip through the pipe)…');
  sections.push(...(await multiLang.run(QUICK ? { startRuns: 3, batches: { '10,000 × 400 B': 2, '100 × 1 KB': 5 } } : multiLang.DEFAULT_SETTINGS)));
  progress('bundle size and cold start…');
  sections.push(...(await bundleBench.run(QUICK ? { runs: 3 } : bundleBench.DEFAULT_SETTINGS)));
  progress('function bundle: AWS SDK bundled vs from the runtime…');
  sections.push(await functionBundle.run(QUICK ? { runs: 3 } : functionBundle.DEFAULT_SETTINGS));

  const finished = new Date();
  const table = markdownTable(sections);
  const targets = sections.flatMap((section) =>
    section.rows
      .filter((row) => row.target !== undefined)
      .map((row) => ({ section: section.title, name: row.name, target: row.target, met: row.met, value: row.value, ratio: row.ratio })),
  );
  const result = {
    command: QUICK ? 'BENCH_QUICK=1 npm run bench' : 'npm run bench',
    date: started.toISOString(),
    durationSeconds: Math.round((finished.getTime() - started.getTime()) / 1000),
    commit: gitRevision(ROOT),
    machine: describeMachine(),
    // Other processes on the machine slow some calls; the ratios are taken within rounds to absorb it.
    loadAverage1m: { before: round(loadBefore[0]), after: round(os.loadavg()[0]) },
    targets,
    sections,
    markdown: table,
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);

  const machine = result.machine;
  console.log(table);
  console.log(
    `\n${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node.js ${machine.node}; ` +
      `${result.date}; load average ${result.loadAverage1m.before} → ${result.loadAverage1m.after}; ` +
      `${result.durationSeconds} s. Written to ${path.relative(ROOT, RESULTS)}.`,
  );
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
