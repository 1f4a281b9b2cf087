/**
 * Cuts a byte stream into lines. A line may arrive in many chunks and a chunk may
 * hold many lines; a trailing partial line is kept until its newline comes or it is
 * flushed (stderr free text without a newline, flushed at the end of each invocation).
 */
export class LineSplitter {
  private partial = '';
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const text = this.partial + this.decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let newline = text.indexOf('\n', start); newline >= 0; newline = text.indexOf('\n', start)) {
      const end = newline > start && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      this.onLine(text.slice(start, end));
      start = newline + 1;
    }
    this.partial = text.slice(start);
  }

  /** Hands over a partial line, if any (the stream ended, or the invocation did). */
  flush(): void {
    const rest = this.partial + this.decoder.decode();
    this.partial = '';
    if (rest.length > 0) this.onLine(rest);
  }
}
