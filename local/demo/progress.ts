import { format } from 'node:util';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';

/**
 * Live progress of a local run on stderr, drawn by cli-progress: one bar for the
 * whole stream and one per shard (added as child shards start). On a terminal
 * only; elsewhere (CI, pipes) it stays silent and the summary says it all.
 * While it runs, console output is written above the bars instead of through them.
 */
export class RunProgress {
  private readonly bars?: MultiBar;
  private readonly overall?: SingleBar;
  private readonly shardBars = new Map<string, SingleBar>();
  private readonly restoreConsole: (() => void)[] = [];

  constructor(enabled: boolean = process.stderr.isTTY === true) {
    if (!enabled) return;
    this.bars = new MultiBar(
      {
        format: ' {label} {bar} {value}/{total} records | {detail}',
        hideCursor: true,
        clearOnComplete: false,
        autopadding: true,
        fps: 10,
      },
      Presets.shades_classic,
    );
    this.overall = this.bars.create(0, 0, { label: 'stream              ', detail: '' });
    for (const method of ['log', 'info', 'warn', 'error'] as const) {
      const original = console[method];
      console[method] = (...args: unknown[]) => this.log(format(...args));
      this.restoreConsole.push(() => (console[method] = original));
    }
  }

  /** Records expected on a shard so far (grows as the producer puts more). */
  setShardTotal(shardId: string, total: number): void {
    this.shardBar(shardId)?.setTotal(total);
  }

  setOverall(done: number, total: number, detail: string): void {
    this.overall?.setTotal(total);
    this.overall?.update(done, { detail });
  }

  setShard(shardId: string, done: number, detail: string): void {
    this.shardBar(shardId)?.update(done, { detail });
  }

  /** A line above the bars (or on stderr when there are none). */
  log(line: string): void {
    if (this.bars) this.bars.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  stop(): void {
    this.bars?.stop();
    for (const restore of this.restoreConsole.splice(0)) restore();
  }

  private shardBar(shardId: string): SingleBar | undefined {
    if (!this.bars) return undefined;
    let bar = this.shardBars.get(shardId);
    if (!bar) {
      bar = this.bars.create(0, 0, { label: shardId.padEnd(20), detail: '' });
      this.shardBars.set(shardId, bar);
    }
    return bar;
  }
}
