/**
 * Group commit for consumer positions: the records asked for while a journal write + fdatasync is
 * in flight go out together in the next one (one pwrite, one fdatasync), whichever consumers they
 * belong to; each caller's promise resolves after the fdatasync that covers it. A consumer's
 * record is made when its round starts (`make`), so several commits of one consumer in one round
 * cost one record. Every so many records the journal is checkpointed: its live state is written
 * to a new file, which is renamed over it, so the file stays bounded. Format: cursor-journal.ts.
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';
import { fileSpot } from '../lock/directory';
import { Lease } from '../lock/lease';
import { DEFAULT_LOCK_OPTIONS } from '../lock/options';
import {
  MAIN_JOURNAL,
  RECORD_BYTES,
  encodeRecord,
  newer,
  readStoredCursors,
  scanJournal,
  sideJournalName,
  type JournalRecord,
} from './cursor-journal';

/** One consumer's pending write: `make` builds the record at the start of its round, `durable` sees it synced. */
export interface JournalEntry {
  make(): JournalRecord;
  durable(r: JournalRecord): void;
  /** Written twice (creation, deletion): a single damaged copy can neither lose nor resurrect the consumer. */
  twice?: boolean;
}

interface Pending {
  entry: JournalEntry;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * When a journal is checkpointed: once this many records were appended since the last checkpoint
 * (and at least 4 x the names it holds). A setting, not a constant, so crash tests can make
 * checkpoints frequent.
 */
export const journalTuning = { checkpointRecords: 4096 };
/** The most side journals a directory may have (read-only hosts and CLI runs at once). */
const MAX_SIDE_JOURNALS = 1000;

export class CommitJournal {
  private pending = new Map<string, Pending[]>();
  private flushing: Promise<void> | null = null;
  private failure: WalError | null = null;
  private closed = false;
  /** This journal's own latest record per name (what a checkpoint keeps). */
  private readonly own: Map<string, JournalRecord>;
  private sinceCheckpoint: number;
  /** fdatasyncs this journal has issued (tests count them). */
  syncs = 0;

  private constructor(
    private readonly io: IoBackend,
    readonly path: string,
    private file: WalFile,
    private end: number,
    own: Map<string, JournalRecord>,
    private epoch: number,
    private readonly lease: Lease | null,
  ) {
    this.own = own;
    this.sinceCheckpoint = Math.floor(end / RECORD_BYTES);
  }

  /** The writable Log's journal (the writer's directory lease makes it the only appender). */
  static openMain(io: IoBackend, dir: string, logId: string | null): Promise<CommitJournal> {
    return CommitJournal.openAt(io, path.join(dir, MAIN_JOURNAL), logId, null);
  }

  /** A side journal for a read-only host or the CLI: the first one whose lease is free (created if none is). */
  static async openSide(io: IoBackend, dir: string, logId: string | null): Promise<CommitJournal> {
    for (let k = 1; k <= MAX_SIDE_JOURNALS; k++) {
      const p = path.join(dir, sideJournalName(k));
      let lease: Lease;
      try {
        lease = await Lease.acquire(fileSpot(p), { ...DEFAULT_LOCK_OPTIONS, io, what: 'a consumer journal' });
      } catch (err) {
        if (err instanceof WalError && err.code === WalErrorCodes.LOCKED) continue;
        throw err;
      }
      try {
        return await CommitJournal.openAt(io, p, logId, lease);
      } catch (err) {
        await lease.release();
        throw err;
      }
    }
    throw new WalError(WalErrorCodes.LOCKED, `all ${MAX_SIDE_JOURNALS} side consumer journals are held`, { file: dir });
  }

  private static async openAt(io: IoBackend, p: string, logId: string | null, lease: Lease | null): Promise<CommitJournal> {
    const f = await io.open(p, { read: true, write: true, create: true });
    try {
      const size = await f.size();
      const buf = Buffer.alloc(size);
      const n = size === 0 ? 0 : await f.read(buf, 0);
      const own = scanJournal(io, buf.subarray(0, n), p, logId);
      let epoch = 0;
      for (const r of own.values()) epoch = Math.max(epoch, r.epoch);
      // Append after whatever is there (a torn record included): records are found by seq, not by place.
      const end = Math.ceil(size / RECORD_BYTES) * RECORD_BYTES;
      if (size === 0) await io.fsyncDir(path.dirname(p)); // the new file's name is durable before any commit relies on it
      return new CommitJournal(io, p, f, end, own, epoch, lease);
    } catch (err) {
      await f.close();
      throw err;
    }
  }

  /** The record this journal holds for `name`, if any. */
  ownRecord(name: string): JournalRecord | undefined {
    return this.own.get(name);
  }

  /**
   * Queues `entry` under `key` (a consumer name); resolves once its record is durable. A later
   * write of the same key before its round starts replaces the entry (one record for both).
   */
  write(key: string, entry: JournalEntry): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new WalError(WalErrorCodes.CLOSED, 'the consumer journal is closed', { file: this.path }));
    return new Promise<void>((resolve, reject) => {
      const list = this.pending.get(key);
      const p: Pending = { entry, resolve, reject };
      if (list === undefined) this.pending.set(key, [p]);
      else list.push(p);
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    // Let commits issued in the same turn (a Promise.all over consumers) join this round; later
    // ones join the next round while this one's fdatasync runs.
    await Promise.resolve();
    let round: Pending[][] = [];
    try {
      while (this.pending.size > 0) {
        if (this.sinceCheckpoint >= Math.max(journalTuning.checkpointRecords, 4 * this.own.size)) await this.checkpoint();
        round = [...this.pending.values()];
        this.pending = new Map();
        const records = round.map((ps) => ps[ps.length - 1]!.entry);
        const made = records.map((e) => e.make());
        const copies = records.reduce((n, e) => n + (e.twice === true ? 2 : 1), 0);
        const buf = Buffer.alloc(copies * RECORD_BYTES);
        let at = 0;
        made.forEach((r, i) => {
          for (let c = records[i]!.twice === true ? 2 : 1; c > 0; c--, at += RECORD_BYTES)
            encodeRecord(this.io, { ...r, epoch: this.epoch }, buf, at);
        });
        await this.file.write([buf], this.end, { datasync: true });
        this.syncs++;
        this.end += buf.length;
        this.sinceCheckpoint += copies;
        made.forEach((r, i) => {
          this.own.set(r.name, newer(this.own.get(r.name), r));
          records[i]!.durable(r);
        });
        for (const ps of round) for (const p of ps) p.resolve();
        round = [];
      }
    } catch (err) {
      // A failed fdatasync leaves the page cache untrustworthy: refuse every later write.
      this.failure = new WalError(WalErrorCodes.FAILED, `consumer journal write failed: ${(err as Error)?.message ?? String(err)}`, {
        file: this.path,
        cause: err,
      });
      const all = [...round, ...this.pending.values()];
      this.pending = new Map();
      for (const ps of all) for (const p of ps) p.reject(this.failure);
    } finally {
      this.flushing = null;
    }
  }

  /**
   * Rewrites the journal as its live state (every record twice) under a new epoch: written and
   * synced as `<name>.new.tmp`, renamed over the journal, directory fsynced. A deletion record is
   * kept only while another file still holds a record of that name it must outrank.
   */
  private async checkpoint(): Promise<void> {
    const dir = path.dirname(this.path);
    const others = await readStoredCursors(this.io, dir, null, false, path.basename(this.path));
    const keep = [...this.own.values()].filter((r) => r.kind === 'position' || others.cursors.has(r.name) || others.corrupt.has(r.name));
    const epoch = this.epoch + 1;
    const buf = Buffer.alloc(2 * keep.length * RECORD_BYTES);
    keep.forEach((r, i) => {
      encodeRecord(this.io, { ...r, epoch }, buf, 2 * i * RECORD_BYTES);
      encodeRecord(this.io, { ...r, epoch }, buf, (2 * i + 1) * RECORD_BYTES);
    });
    const draft = this.path.replace(/\.tmp$/, '.new.tmp');
    const f = await this.io.open(draft, { read: true, write: true, create: true, truncate: true });
    try {
      if (buf.length > 0) await f.write([buf], 0, { datasync: true });
      else await f.datasync();
    } catch (err) {
      await f.close();
      throw err;
    }
    await this.io.rename(draft, this.path);
    await this.io.fsyncDir(dir);
    await this.file.close();
    this.file = f;
    this.epoch = epoch;
    this.end = buf.length;
    this.sinceCheckpoint = 0;
    this.own.clear();
    for (const r of keep) this.own.set(r.name, r);
  }

  /** Waits for the writes in flight, then closes the file (and releases a side journal's lease). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing !== null) await this.flushing;
    try {
      await this.file.close();
    } finally {
      await this.lease?.release();
    }
  }
}
