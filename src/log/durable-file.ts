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
  if (!v.subarray(0, 8).equals(MAGIC) || (io.crc32c(v.subarray(0, 36)) >>> 0) !== v.readUInt32LE(36)) return null;
  const durable = v.readBigUInt64LE(16);
  const first = v.readBigUInt64LE(24);
  if (durable > BigInt(Number.MAX_SAFE_INTEGER) || first > durable + 1n) return null;
  return { seq: v.readBigUInt64LE(8), durable: Number(durable), first: Number(first), cuts: v.readUInt32LE(32) };
}

/** The writer's side: rewrites the record in place, synchronously (a page-cache copy of 40 bytes). */
export class DurablePublisher {
  private seq = 0n;
  private last: DurableMark | null = null;

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

  publish(durable: number, first: number, cuts: number): void {
    const l = this.last;
    if (l !== null && l.durable === durable && l.first === first && l.cuts === cuts) return;
    this.seq++;
    const m: DurableMark = { seq: this.seq, durable, first: Math.min(first, durable + 1), cuts };
    this.file.writeSync([encodeMark(this.io, m)], 0);
    this.last = m;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** A reader's side: reads the current record (null when absent or unreadable mid-write; retry). */
export function readMarkSync(io: IoBackend, file: WalFile): DurableMark | null {
  const buf = new Uint8Array(BYTES);
  const n = file.readSync(buf, 0);
  return decodeMark(io, buf.subarray(0, n));
}
