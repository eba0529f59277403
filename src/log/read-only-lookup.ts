/**
 * A read-only open's `get()` fast path: one pread on a cached descriptor from the checkpoint before
 * the entry, then the walk of entry-lookup.ts, as the writer's own `get()` does. Before it, every
 * get listed the directory, opened its segment, read 64 KiB through the threadpool and decoded
 * (~0.8 ms; bench/README.md, "get() on a read-only open").
 *
 * It knows only what this open's reads have seen: the directory listing of the last decode and
 * the checkpoints of the segments decoded (read-only.ts's `seen`). Anything else (no checkpoint
 * before the entry, a segment not listed yet, a span that does not check) returns null and the
 * caller decodes, which also lists the directory again. The caller's sequence lock (a truncateBack
 * published meanwhile means read again) covers these bytes as it covers the decoder's; adopting a
 * cut forgets every descriptor, since a later segment may be unlinked and its name reused.
 */
import * as path from 'node:path';
import type { EntrySpan } from '../etcd/codec';
import { parseWalName } from '../etcd/segments';
import type { IoBackend } from '../io/types';
import { findEntryInSpan } from './entry-lookup';
import { SegmentFiles } from './segment-files';
import { type Checkpoints, checkpointRange, lastAtOrBelow } from './segment-index';

/** Most bytes one lookup reads: entries whose span is larger are the decoder's. */
const LOOKUP_BYTES = 64 * 1024;

export class ReadOnlyLookup {
  private readonly files: SegmentFiles;
  private names: readonly string[] = [];
  /** The first index each of `names` was created for (its name's index), ascending. */
  private firsts: number[] = [];
  private buf: Uint8Array | null = null;
  private readonly span: EntrySpan = { type: 0, index: 0, dataStart: 0, dataEnd: 0 };

  constructor(
    private readonly io: IoBackend,
    private readonly dir: string,
    private readonly seen: ReadonlyMap<string, Checkpoints>,
  ) {
    this.files = new SegmentFiles(io);
  }

  /** The directory listing a decode just read: the segments lookups may use. */
  learnNames(names: readonly string[]): void {
    if (names.length === this.names.length && names.every((n, i) => n === this.names[i])) return;
    const now = new Set(names);
    for (const old of this.names) if (!now.has(old)) this.files.forget(path.join(this.dir, old));
    this.names = names;
    this.firsts = names.map((n) => Number(parseWalName(n)!.index));
  }

  /**
   * The writer moved its first index (truncateFront, retention): let go of the descriptors of
   * segments wholly before it, whose files are unlinked (an open descriptor would keep their
   * disk space from being freed).
   */
  dropBefore(first: number): void {
    let k = 0;
    while (k + 1 < this.firsts.length && this.firsts[k + 1]! <= first) k++;
    if (k === 0) return;
    for (const name of this.names.slice(0, k)) this.files.forget(path.join(this.dir, name));
    this.names = this.names.slice(k);
    this.firsts = this.firsts.slice(k);
  }

  /** A truncateBack was adopted: any segment file may be gone or replaced. */
  reset(): void {
    this.files.forgetAll();
    this.names = [];
    this.firsts = [];
  }

  /** Entry `index`'s data (a copy), or null when the decoder must find it. */
  async get(index: number): Promise<Uint8Array | null> {
    // The listed segment whose name's index is the last at or below `index`.
    const k = lastAtOrBelow(this.firsts, index);
    if (k < 0) return null;
    const name = this.names[k]!;
    const cps = this.seen.get(name);
    const at = cps === undefined ? null : checkpointRange(cps, index, LOOKUP_BYTES);
    if (at === null) return null;
    const file = path.join(this.dir, name);
    const lease = this.files.tryAcquire(file) ?? (await this.files.acquire(file).catch(() => null));
    if (lease === null) return null;
    try {
      const buf = (this.buf ??= new Uint8Array(LOOKUP_BYTES));
      let got: number;
      try {
        got = lease.file.readSync(buf.subarray(0, at.end - at.offset), at.offset);
      } catch {
        return null;
      }
      const span = this.span;
      if (!findEntryInSpan(this.io, buf, got, index, at.crc, span)) return null;
      return buf.slice(span.dataStart, span.dataEnd);
    } finally {
      lease.release();
    }
  }

  close(): Promise<void> {
    return this.files.close();
  }
}
