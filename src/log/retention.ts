/**
 * Automatic retention (`retention: { maxBytes, maxAge, policy }`): drops whole closed segments from
 * the front, through truncateFront, so the consumer guard and the etcd-compatible snapshot record
 * apply unchanged.
 * - maxAge (ms): a closed segment whose last write is older goes — only once every consumer has
 *   committed it (age never drops uncommitted records).
 * - maxBytes: while the segments hold more record bytes than this, the oldest closed segments go.
 *   If that would drop records a consumer has not committed, `policy` decides: 'block' (default)
 *   drops only what is committed and holds producers (appends wait, as for a full queue) until
 *   consumers commit enough; 'drop-oldest' drops them anyway and the consumers get a
 *   ConsumerGapError naming the exact range (also listed in the 'retention' event).
 * Runs after every segment cut, after in-process commits, every `checkMs`, and every 50 ms while
 * producers are held (commits from other processes are only seen by reading the consumer journals).
 */
import * as fs from 'node:fs';
import { WalError, WalErrorCodes } from '../errors';
import type { ConsumerHost } from './consumer-host';
import type { SegmentInfo } from './segment-index';

export interface RetentionOptions {
  /** Upper bound of record bytes kept in the segments; at least twice segmentSize. */
  maxBytes?: number;
  /** Closed segments whose last write is older than this many ms are dropped once committed. */
  maxAge?: number;
  /** When maxBytes would drop uncommitted records: 'block' producers (default) or 'drop-oldest'. */
  policy?: 'block' | 'drop-oldest';
  /** How often age is checked, in ms. Default 1000. */
  checkMs?: number;
}

export interface ResolvedRetention {
  maxBytes: number;
  maxAge: number;
  policy: 'block' | 'drop-oldest';
  checkMs: number;
}

/** Payload of the Log's 'retention' event. */
export interface RetentionEvent {
  reason: 'maxBytes' | 'maxAge';
  /** The log's first index after the run. */
  firstIndex: bigint;
  removedSegments: number;
  removedBytes: number;
  /** Uncommitted records dropped under policy 'drop-oldest', per consumer. */
  gaps: { consumer: string; from: bigint; to: bigint }[];
}

/** Counters for stats().retention. */
export interface RetentionStats {
  runs: number;
  removedSegments: number;
  removedBytes: number;
  droppedRecords: number;
  /** Producers are held because maxBytes is reached and consumers have not committed. */
  holding: boolean;
}

export function resolveRetention(r: unknown, segmentSize: number, invalid: (m: string) => Error): ResolvedRetention | null {
  if (r === undefined || r === null) return null;
  if (typeof r !== 'object') throw invalid(`option 'retention' must be an object`);
  const o = r as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['maxBytes', 'maxAge', 'policy', 'checkMs'].includes(k)) throw invalid(`unknown retention option '${k}'`);
  }
  const num = (k: string, min: number): number => {
    const v = o[k];
    if (v === undefined) return Infinity;
    if (typeof v !== 'number' || !(v >= min)) throw invalid(`option 'retention.${k}' must be a number >= ${min}, got ${String(v)}`);
    return v;
  };
  const policy = o['policy'] ?? 'block';
  if (policy !== 'block' && policy !== 'drop-oldest')
    throw invalid(`option 'retention.policy' must be 'block' or 'drop-oldest', got ${String(policy)}`);
  const checkMs = o['checkMs'] === undefined ? 1000 : num('checkMs', 1);
  return { maxBytes: num('maxBytes', 2 * segmentSize), maxAge: num('maxAge', 0), policy, checkMs };
}

/** What retention needs from the Log. */
export interface RetainedLog {
  readonly dir: string;
  segments(): readonly SegmentInfo[];
  lastIndex(): number;
  firstIndex(): number;
  consumers(): ConsumerHost;
  truncateFront(index: bigint, opts: { force: boolean }): Promise<void>;
  setHold(on: boolean): void;
  emit(ev: RetentionEvent): void;
  isOpen(): boolean;
}

export class Retention {
  private readonly closedAt = new Map<number, number>();
  private running: Promise<void> | null = null;
  private again = false;
  private readonly ageTimer: NodeJS.Timeout | null = null;
  private holdTimer: NodeJS.Timeout | null = null;
  readonly stats: RetentionStats = { runs: 0, removedSegments: 0, removedBytes: 0, droppedRecords: 0, holding: false };

  constructor(
    private readonly log: RetainedLog,
    private readonly opts: ResolvedRetention,
  ) {
    if (Number.isFinite(opts.maxAge)) {
      this.ageTimer = setInterval(() => this.schedule(), Math.min(opts.checkMs, Math.max(1, opts.maxAge)));
      this.ageTimer.unref();
    }
  }

  /** Whether the last run kept segments only because consumers had not committed them. */
  private waitingForCommits = false;

  /** A consumer committed in this process: worth a run only if the last one waited for commits. */
  committed(): void {
    if (this.waitingForCommits) this.schedule();
  }

  /** A segment was closed by a cut (its last write is now). */
  segmentClosed(seq: number): void {
    this.closedAt.set(seq, Date.now());
    this.schedule();
  }

  /** Re-evaluates soon (after a cut, a commit, on the timers); runs never overlap. */
  schedule(): void {
    if (!this.log.isOpen()) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.run();
        } while (this.again && this.log.isOpen());
      } catch (err) {
        // A refused or failed run is retried at the next trigger; a closed log ends it.
        if (!(err instanceof WalError && (err.code === WalErrorCodes.CLOSED || err.code === WalErrorCodes.CONSUMER_UNCOMMITTED))) {
          this.lastError = err;
        }
      } finally {
        this.running = null;
      }
    })();
  }

  /** The last unexpected failure of a run (exposed for tests and stats). */
  lastError: unknown = null;

  /** Waits for a run in progress (tests, close). */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  private async run(): Promise<void> {
    const segs = this.log.segments();
    if (segs.length < 2) return this.setHold(false);
    const commits = await this.log.consumers().durableCommits();
    const minCommitted = commits.length === 0 ? Infinity : Math.min(...commits.map((c) => c.committed));
    const total = segs.reduce((n, s) => n + s.end, 0);
    const now = Date.now();
    // Walk the closed segments oldest first: k = how many may go.
    let kSize = 0;
    let bytes = total;
    while (kSize < segs.length - 1 && bytes > this.opts.maxBytes) bytes -= segs[kSize++]!.end;
    let kAge = 0;
    if (Number.isFinite(this.opts.maxAge)) {
      while (kAge < segs.length - 1 && (await this.closedTime(segs[kAge]!)) < now - this.opts.maxAge) kAge++;
    }
    // Dropping segments 0..k-1 is truncateFront(first of k, + 1): etcd keeps the segment holding snapshot index.
    const pointFor = (k: number): number => (k === 0 ? 0 : Math.min(segs[k]!.first + 1, this.log.lastIndex() + 1));
    const committedK = (k: number): boolean => k === 0 || pointFor(k) - 1 <= minCommitted;
    let k = 0;
    let reason: RetentionEvent['reason'] = 'maxAge';
    let force = false;
    // Age and size both drop only committed segments ...
    for (let j = Math.max(kAge, kSize); j > 0; j--) {
      if (committedK(j)) {
        k = j;
        reason = j <= kAge ? 'maxAge' : 'maxBytes';
        break;
      }
    }
    // ... except that maxBytes with 'drop-oldest' takes what it needs regardless.
    if (kSize > k && this.opts.policy === 'drop-oldest') {
      k = kSize;
      reason = 'maxBytes';
      force = !committedK(kSize);
    }
    this.waitingForCommits = k < Math.max(kAge, kSize);
    const removedBytes = segs.slice(0, k).reduce((n, s) => n + s.end, 0);
    if (k > 0 && pointFor(k) > this.log.firstIndex()) {
      const point = pointFor(k);
      const gaps = commits
        .filter((c) => c.committed + 1 < point)
        .map((c) => ({ consumer: c.name, from: BigInt(Math.max(c.committed + 1, this.log.firstIndex())), to: BigInt(point - 1) }));
      const before = segs.length;
      await this.log.truncateFront(BigInt(point), { force });
      const removed = before - this.log.segments().length;
      this.stats.runs++;
      this.stats.removedSegments += removed;
      this.stats.removedBytes += removedBytes;
      for (const g of gaps) this.stats.droppedRecords += Number(g.to - g.from + 1n);
      this.log.emit({ reason, firstIndex: BigInt(this.log.firstIndex()), removedSegments: removed, removedBytes, gaps });
    }
    // Hold producers only while uncommitted records are what keeps the log over maxBytes: the
    // tail (and the segment etcd's rules keep before it) may overshoot, but appending is what
    // cuts them, so holding then would never end.
    this.setHold(this.opts.policy === 'block' && kSize > k);
  }

  private async closedTime(seg: SegmentInfo): Promise<number> {
    let t = this.closedAt.get(seg.seq);
    if (t === undefined) {
      // Closed before this open: the file's modification time is its last write.
      t = await fs.promises.stat(seg.path).then(
        (s) => s.mtimeMs,
        () => Date.now(),
      );
      this.closedAt.set(seg.seq, t);
    }
    return t;
  }

  private setHold(on: boolean): void {
    if (this.stats.holding === on) return;
    this.stats.holding = on;
    this.log.setHold(on);
    if (on) {
      this.holdTimer = setInterval(() => this.schedule(), 50);
      this.holdTimer.unref();
    } else if (this.holdTimer !== null) {
      clearInterval(this.holdTimer);
      this.holdTimer = null;
    }
  }

  async close(): Promise<void> {
    if (this.ageTimer !== null) clearInterval(this.ageTimer);
    if (this.holdTimer !== null) clearInterval(this.holdTimer);
    this.holdTimer = null;
    await this.idle().catch(() => undefined);
  }
}
