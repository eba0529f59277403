/**
 * A one-line progress bar on stderr, shown only when stderr is a terminal and the command is not
 * in --json mode, redrawn at most every 100 ms so it never costs measurable time.
 */

export class Progress {
  private readonly enabled: boolean;
  private lastDraw = 0;
  private drawn = false;
  /** Short operations never show a bar: the first draw waits this long. */
  private readonly firstDrawAt = Date.now() + 300;

  constructor(
    private readonly label: string,
    private total: number,
    opts: { json: boolean; stream?: NodeJS.WriteStream },
    private readonly stream: NodeJS.WriteStream = opts.stream ?? process.stderr,
  ) {
    this.enabled = !opts.json && this.stream.isTTY === true && process.env['WAL_NO_PROGRESS'] === undefined;
  }

  /** Whether anything will be drawn (a terminal, not --json). */
  get visible(): boolean {
    return this.enabled;
  }

  /** Reports `done` units of `total`; draws when enough time has passed. */
  update(done: number, total = this.total): void {
    if (!this.enabled) return;
    this.total = total;
    const now = Date.now();
    if (now < this.firstDrawAt || now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - this.label.length - 20));
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const full = Math.round(frac * width);
    const bar = '#'.repeat(full) + '-'.repeat(width - full);
    this.stream.write(`\r${this.label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}%`);
    this.drawn = true;
  }

  /** Erases the bar so the next output starts on a clean line. */
  done(): void {
    if (!this.enabled || !this.drawn) return;
    this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
