/**
 * Prepares the next segment in the background as `<dir>/<n>.tmp` (etcd's `wal/file_pipeline.go`
 * names; etcd ignores them), so a cut only writes the header and renames. The one preparer of
 * both writers: WAL (through FilePipeline: fallocate, file kept open and locked, as etcd) and Log.
 * The tmp file is opened with O_TRUNC (unlike etcd, spec §15), so stale bytes of an old `N.tmp`
 * left by a crash can never follow a new segment's header.
 *
 * 'zero-fill' writes explicit zeros over the whole file and fdatasyncs it once: on ext4 an
 * fdatasync after overwriting written blocks skips the journal commit that fallocate'd
 * (unwritten) extents or a growing file cost (bench/log-sync-cost.bench.ts; docs/log.md). But it
 * writes every segment twice, which costs more than it saves once the log itself keeps the disk
 * busy: 'auto' zero-fills only while the last segment filled slower than AUTO_FALLOCATE_ABOVE.
 * 'fallocate' does what etcd does. Either way the file reads as zeros, as etcd's preallocated tail.
 */
import * as path from 'node:path';
import type { IoBackend, WalFile } from '../io/types';

/** How a segment is preallocated (the Log's `preallocation` option; WAL always fallocates). */
export type Preallocation = 'auto' | 'zero-fill' | 'fallocate';

/** How the prepared file is handed over. */
export interface PreparerOptions {
  /** Keep the file open and locked (`takeFile`), as etcd's pipeline does. Default: closed, by path. */
  keepOpen?: boolean;
  /** fdatasync the prepared range (the Log: so its first syncs find the extents durable). Default true. */
  sync?: boolean;
  /** File mode of the tmp file. Default: the backend's. */
  mode?: number;
  /** Milliseconds, monotonic; a test can pass its own clock. */
  now?: () => number;
}

/** A prepared segment: its path, and the open, locked file with `keepOpen`. */
export interface PreparedFile {
  path: string;
  file: WalFile | null;
}

/** Zero-fill chunk: large enough for sequential throughput, small enough to share the disk. */
const ZERO_CHUNK = 1024 * 1024;
let zeros: Uint8Array | null = null;

/**
 * Dirty bytes allowed before an intermediate fdatasync: writing back 64 MB at once would queue
 * behind (and delay) the log's own small syncs on the same disk.
 */
const SYNC_EVERY = 8 * 1024 * 1024;

/**
 * Fill rate of the last segment above which 'auto' fallocates the next one instead of zero-filling
 * it: zero-fill writes every byte twice, which pays while the disk has bandwidth to spare.
 * Measured here (bench/log-ingest.bench.ts, 256 producers; a 100 B record is ~136 bytes framed):
 * 100 B records fill segments at ~110 MB/s and zero-fill is the faster preparation (800 k vs
 * 659 k records/s); 1 KiB records at ~290 MB/s with zero-fill and ~480 MB/s with fallocate, which
 * wins (459 k vs 276 k records/s, p99 1.3 ms vs 7.2 ms). 128 MiB/s sat too close to the first.
 */
export const AUTO_FALLOCATE_ABOVE = 200 * 1024 * 1024; // bytes per second

/** The preparation 'auto' starts with for the next segments, before any segment's fill rate is known. */
export function initialPreparation(how: Preallocation): Exclude<Preallocation, 'auto'> {
  return how === 'auto' ? 'zero-fill' : how;
}

/**
 * How the tail found at open is prepared past its last record: 'auto' fallocates it, because a
 * synchronous zero-fill of up to a whole segment is most of what an open costs (~130-180 ms for
 * 64 MB here) while the cheaper syncs it buys last only until the first cut, after which the
 * preparer's zero-filled segments take over (bench/README.md "Open and close").
 */
export function openTailPreparation(how: Preallocation): Exclude<Preallocation, 'auto'> {
  return how === 'auto' ? 'fallocate' : how;
}

/** Thrown inside a preparation that `close()` stopped; never reaches a caller. */
class PreparationCancelled extends Error {}

/**
 * Writes zeros over [from, to) of `file` in chunks, fdatasyncing every SYNC_EVERY bytes. Stops
 * between chunks once `cancelled()` says so (PreparationCancelled): a close must not wait for the
 * rest of a 64 MB fill it is about to delete.
 */
export async function writeZeros(file: WalFile, from: number, to: number, cancelled: () => boolean = () => false): Promise<void> {
  zeros ??= new Uint8Array(ZERO_CHUNK);
  let dirty = 0;
  for (let at = from; at < to; at += ZERO_CHUNK) {
    if (cancelled()) throw new PreparationCancelled('segment preparation cancelled');
    const len = Math.min(ZERO_CHUNK, to - at);
    await file.write([zeros.subarray(0, len)], at, { datasync: (dirty += len) >= SYNC_EVERY });
    if (dirty >= SYNC_EVERY) dirty = 0;
  }
}

/** Makes [from, size) of an open file read as zeros, allocated by the chosen method, and fdatasyncs it (unless `sync` is false). */
export async function prepareRange(
  file: WalFile,
  from: number,
  size: number,
  how: Exclude<Preallocation, 'auto'>,
  sync = true,
  cancelled?: () => boolean,
): Promise<void> {
  if (how === 'zero-fill') await writeZeros(file, from, size, cancelled);
  // Nothing to allocate when the tail already reaches `size` (a segment left full by a crash mid-cut);
  // the native fallocate rejects a zero length.
  else if (size > from) await file.allocate(from, size - from);
  if (sync) await file.datasync();
}

/** Background preparation of the next segment file. */
export class SegmentPreparer {
  private count = 0;
  private pending: Promise<PreparedFile> | null = null;
  private closed = false;
  /** How the file under way (or the next one) is prepared; 'auto' updates it at every take(). */
  private method: Exclude<Preallocation, 'auto'>;
  /**
   * When the segment now being written was started by take(); null until the first take (the tail
   * found at open may have been partly full, so its fill rate is not known).
   */
  private segmentStart: number | null = null;

  private readonly now: () => number;

  constructor(
    private readonly io: IoBackend,
    private readonly dir: string,
    private readonly size: number,
    private readonly how: Preallocation,
    /** A clock (milliseconds, monotonic) for the Log's tests, or the handover options. */
    options: PreparerOptions | (() => number) = {},
  ) {
    const o = typeof options === 'function' ? { now: options } : options;
    this.opts = o;
    this.now = o.now ?? (() => performance.now());
    this.method = initialPreparation(how);
  }

  private readonly opts: PreparerOptions;

  /** The preparation method in use ('auto' switches it by fill rate). */
  get preparation(): Exclude<Preallocation, 'auto'> {
    return this.method;
  }

  /** Starts preparing a file if none is under way. */
  start(): void {
    if (this.closed || this.pending !== null) return;
    this.pending = this.prepare(path.join(this.dir, `${this.count++ % 2}.tmp`));
    // A failure surfaces in take(); keep it from being an unhandled rejection meanwhile.
    this.pending.catch(() => undefined);
  }

  /**
   * The path of a prepared file (now owned by the caller), taken when the current segment is full;
   * starts preparing the next one, for 'auto' by the rate at which the full segment filled.
   */
  async take(): Promise<string> {
    return (await this.takeFile()).path;
  }

  /** `take()` for `keepOpen`: the prepared file, open and locked, now owned by the caller. */
  async takeFile(): Promise<PreparedFile> {
    this.start();
    const ready = this.pending!;
    this.pending = null;
    const file = await ready;
    const now = this.now();
    if (this.how === 'auto' && this.segmentStart !== null) {
      const bytesPerSecond = (this.size * 1000) / Math.max(now - this.segmentStart, 1e-3);
      this.method = bytesPerSecond > AUTO_FALLOCATE_ABOVE ? 'fallocate' : 'zero-fill';
    }
    this.segmentStart = now;
    this.start();
    return file;
  }

  /** Stops the file under way (after its current chunk; a fallocate runs to its end) and removes it. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = this.pending;
    this.pending = null;
    if (pending === null) return;
    const ready = await pending.catch(() => null);
    if (ready === null) return;
    if (ready.file !== null) await ready.file.close();
    await this.io.unlink(ready.path).catch(() => undefined);
  }

  private async prepare(file: string): Promise<PreparedFile> {
    const mode = this.opts.mode;
    const f = await this.io.open(file, { read: false, write: true, create: true, truncate: true, ...(mode === undefined ? {} : { mode }) });
    try {
      if (this.opts.keepOpen) await f.lock({ wait: true });
      await prepareRange(f, 0, this.size, this.method, this.opts.sync ?? true, () => this.closed);
    } catch (err) {
      // A full disk or a close: do not leave a partial file holding the space until the next open.
      await f.close().catch(() => undefined);
      await this.io.unlink(file).catch(() => undefined);
      throw err;
    }
    if (this.opts.keepOpen) return { path: file, file: f };
    await f.close();
    return { path: file, file: null };
  }
}
