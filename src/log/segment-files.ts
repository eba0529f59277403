/**
 * Read handles on a Log's segment files, kept open between reads so `get()` and `entries()` do not
 * pay an open, fstat and close per call. Bounded: at most `capacity` idle handles stay open, the
 * least recently used closed first. Reference counted: a handle in use (an iteration, a get in
 * flight) is never closed under its reader; `forget` and `close` only mark it, and it closes when
 * its last reader releases it.
 *
 * The cache knows paths, not contents: whoever unlinks, renames over or replaces a segment file
 * calls `forget(path)` first, so a later read never gets a descriptor on the old inode. How far a
 * reader may read is not the file's size but the end the Log knows (SegmentInfo.end).
 */
import type { IoBackend, WalFile } from '../io/types';

/**
 * Read handles kept open at most (more only while lent). 32 segments of the default 64 MB are 2 GB
 * of log (10 M records of 100 B are 20 segments): random gets on such a log never open a file.
 */
export const DEFAULT_CACHED_SEGMENT_FILES = 32;

/** A read handle lent by `SegmentFiles.acquire`; give it back with `release()` exactly once. */
export interface SegmentFileLease {
  readonly file: WalFile;
  release(): void;
}

interface Entry {
  readonly path: string;
  readonly file: WalFile;
  users: number;
  /** Forgotten or the cache closed: close at the last release, never lend again. */
  retired: boolean;
}

/** A class, not a closure per lease: a get() takes one, and a closure per call showed in its profile. */
class Lease implements SegmentFileLease {
  private released = false;
  constructor(
    private readonly owner: SegmentFiles,
    private readonly entry: Entry,
  ) {}

  get file(): WalFile {
    return this.entry.file;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.returned(this.entry);
  }
}

export class SegmentFiles {
  /** Open handles by path, in least-recently-used order (Map keeps insertion order). */
  private readonly open = new Map<string, Entry>();
  /** Opens in flight by path, so concurrent readers of one segment share one descriptor. */
  private readonly opening = new Map<string, Promise<Entry>>();
  /** Closes started and not finished: `close()` waits for them. */
  private readonly closing = new Set<Promise<void>>();
  private closed = false;
  /** The entry last in `open` (most recently used), to skip re-inserting it. */
  private last: Entry | null = null;
  /** Each `forget` of a path bumps it, so an open racing the forget is not kept. */
  private generation = 0;

  constructor(
    private readonly io: IoBackend,
    private readonly capacity = DEFAULT_CACHED_SEGMENT_FILES,
  ) {}

  /** Handles currently open (lent or idle): for tests and stats. */
  get openCount(): number {
    return this.open.size;
  }

  /** The open handle on `path` if there is one (no await on the hot path), else null: then `acquire`. */
  tryAcquire(path: string): SegmentFileLease | null {
    const cached = this.open.get(path);
    if (cached === undefined || cached.retired) return null;
    // Most recently used goes last (Map order), unless it already is.
    if (this.last !== cached) {
      this.open.delete(path);
      this.open.set(path, cached);
      this.last = cached;
    }
    return this.lend(cached);
  }

  /** A read handle on `path`, opened or reused. */
  async acquire(path: string): Promise<SegmentFileLease> {
    const cached = this.tryAcquire(path);
    if (cached !== null) return cached;
    let pending = this.opening.get(path);
    if (pending === undefined) {
      const p = this.openEntry(path);
      this.opening.set(path, p);
      const clear = (): void => {
        if (this.opening.get(path) === p) this.opening.delete(path);
      };
      p.then(clear, clear);
      pending = p;
    }
    return this.lend(await pending);
  }

  /** The file at `path` is about to be unlinked or replaced: never lend its handle again. */
  forget(path: string): void {
    this.generation++;
    this.opening.delete(path);
    const e = this.open.get(path);
    if (e === undefined) return;
    this.open.delete(path);
    this.retire(e);
  }

  /** Any file may have been unlinked or replaced (a read-only open adopting a truncateBack): forget them all. */
  forgetAll(): void {
    this.generation++;
    this.opening.clear();
    for (const e of [...this.open.values()]) this.retire(e);
    this.open.clear();
    this.last = null;
  }

  /** Closes every idle handle now and every lent one at its release; resolves when all are closed. */
  async close(): Promise<void> {
    this.closed = true;
    for (const e of [...this.open.values()]) this.retire(e);
    this.open.clear();
    while (this.closing.size > 0 || this.opening.size > 0) {
      await Promise.allSettled([...this.closing, ...this.opening.values()]);
    }
  }

  /** Resolves when every handle retired so far, lent ones included, is closed. */
  async settled(): Promise<void> {
    while (this.closing.size > 0) await Promise.allSettled([...this.closing]);
  }

  private async openEntry(path: string): Promise<Entry> {
    const generation = this.generation;
    const file = await this.io.open(path, { read: true });
    const e: Entry = { path, file, users: 0, retired: false };
    // Forgotten or closed while opening: lend it to the readers that asked, keep it for no one else.
    if (this.closed || generation !== this.generation || this.open.has(path)) e.retired = true;
    // Trimmed at its release, not now: it is about to be lent.
    else {
      this.open.set(path, e);
      this.last = e;
    }
    return e;
  }

  private lend(e: Entry): SegmentFileLease {
    e.users++;
    return new Lease(this, e);
  }

  /** A lease on `e` ended (once per lease). */
  returned(e: Entry): void {
    e.users--;
    if (e.users === 0 && e.retired) this.closeFile(e);
    else if (e.users === 0) this.trim();
  }

  /** Closes idle handles, least recently used first, while more than `capacity` are open. */
  private trim(): void {
    if (this.open.size <= this.capacity) return;
    for (const e of [...this.open.values()]) {
      if (this.open.size <= this.capacity) return;
      if (e.users > 0) continue;
      this.open.delete(e.path);
      this.retire(e);
    }
  }

  private retire(e: Entry): void {
    if (e.retired && e.users > 0) return;
    e.retired = true;
    if (e.users === 0) this.closeFile(e);
  }

  private closeFile(e: Entry): void {
    if (e.file.closed) return;
    const p = e.file.close().catch(() => undefined);
    this.closing.add(p);
    void p.then(() => this.closing.delete(p));
  }
}
