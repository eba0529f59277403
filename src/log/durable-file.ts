/**
 * How the writer tells read-only opens (other threads or processes) how far the log is durable:
 * `durable.tmp`, one 40-byte record rewritten in place after every fdatasync that moves the durable
 * index. It needs no fsync of its own: it only names records that were already fdatasync'd, so
 * whatever version of it survives a power loss names durable records. truncateBack is the one
 * step that makes a durable index go down; the cut is first made durable in truncations.tmp and
 * published here (with the new cut count) before any segment byte changes, and a reader checks the
 * count again after reading (a sequence lock), so it never hands out bytes being rewritten.
 * Layout: docs/format.md "Durable-index file".
 */
import * as path from 'node:path';
import type { IoBackend, WalFile } from '../io/types';

export const DURABLE_FILE = 'durable.tmp';
const BYTES = 40;
const MAGIC = Buffer.from('NWDURAB1', 'latin1');

/** What the writer published. */
export interface DurableMark {
  seq: bigint;
  /** Last durable index. */
  durable: number;
  /** First index still in the log (moves with truncateFront and retention). */
  first: number;
  /** truncateBack calls so far (entries of truncations.tmp). */
  cuts: number;
}

export function encodeMark(io: IoBackend, m: DurableMark): Buffer {
  const b = Buffer.alloc(BYTES);
  MAGIC.copy(b, 0);
  b.writeBigUInt64LE(m.seq, 8);
  b.writeBigUInt64LE(BigInt(m.durable), 16);
  b.writeBigUInt64LE(BigInt(m.first), 24);
  b.writeUInt32LE(m.cuts, 32);
  b.writeUInt32LE(io.crc32c(b.subarray(0, 36)) >>> 0, 36);
  return b;
}

export function decodeMark(io: IoBackend, b: Uint8Array): DurableMark | null {
  if (b.length < BYTES) return null;
  const v = Buffer.from(b.buffer, b.byteOffset, BYTES);
  if (!v.subarray(0, 8).equals(MAGIC) || io.crc32c(v.subarray(0, 36)) >>> 0 !== v.readUInt32LE(36)) return null;
  const durable = v.readBigUInt64LE(16);
  const first = v.readBigUInt64LE(24);
  if (durable > BigInt(Number.MAX_SAFE_INTEGER) || first > durable + 1n) return null;
  return { seq: v.readBigUInt64LE(8), durable: Number(durable), first: Number(first), cuts: v.readUInt32LE(32) };
}

/** At most one rewrite per this many ms (readers poll every few ms anyway); cuts are written at once. */
const PUBLISH_EVERY_MS = 1;

/**
 * The writer's side: rewrites the record in place, synchronously (a page-cache copy of 40 bytes),
 * at most once a millisecond — a later value is written by a timer, so a reader's delay grows by at
 * most that and the writer pays one syscall per millisecond rather than one per batch.
 */
export class DurablePublisher {
  private seq = 0n;
  private last: DurableMark | null = null;
  private pending: { durable: number; first: number; cuts: number } | null = null;
  private lastWrite = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly io: IoBackend,
    private readonly file: WalFile,
  ) {}

  static async open(io: IoBackend, dir: string): Promise<DurablePublisher> {
    const file = await io.open(path.join(dir, DURABLE_FILE), { read: true, write: true, create: true });
    const p = new DurablePublisher(io, file);
    const buf = new Uint8Array(BYTES);
    const prev = decodeMark(io, buf.subarray(0, await file.read(buf, 0)));
    if (prev !== null) p.seq = prev.seq;
    return p;
  }

  /** Publishes soon (within PUBLISH_EVERY_MS); `now` writes before returning (truncateBack's cut). */
  publish(durable: number, first: number, cuts: number, now = false): void {
    if (this.closed) return;
    const l = this.last;
    if (l !== null && l.durable === durable && l.first === first && l.cuts === cuts) {
      this.pending = null;
      return;
    }
    this.pending = { durable, first, cuts };
    const t = performance.now();
    if (now || t - this.lastWrite >= PUBLISH_EVERY_MS) this.flush(t);
    else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush(performance.now());
      }, PUBLISH_EVERY_MS);
      this.timer.unref();
    }
  }

  private flush(t: number): void {
    const p = this.pending;
    if (p === null || this.closed) return;
    this.pending = null;
    this.seq++;
    const m: DurableMark = { seq: this.seq, durable: p.durable, first: Math.min(p.first, p.durable + 1), cuts: p.cuts };
    this.file.writeSync([encodeMark(this.io, m)], 0);
    this.last = m;
    this.lastWrite = t;
  }

  /** Writes what is pending, then closes. */
  close(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.flush(performance.now());
    this.closed = true;
    return this.file.close();
  }
}

/** A reader's side: reads the current record (null when absent or unreadable mid-write; retry). */
export function readMarkSync(io: IoBackend, file: WalFile): DurableMark | null {
  const buf = new Uint8Array(BYTES);
  const n = file.readSync(buf, 0);
  return decodeMark(io, buf.subarray(0, n));
}
