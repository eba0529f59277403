/**
 * The etcd-compatible write-ahead log (etcd 3.4.23 `wal/wal.go`): same API shape, same bytes, same
 * segment boundaries, same fsyncs. Deliberate differences are listed in docs/etcd-compatibility.md.
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import { indexToBigint, type IndexArg } from '../index-arg';
import type { IoBackend, WalFile } from '../io/types';
import { Lease } from '../lock/lease';
import { type Entry, type HardState, type Snapshot, RecordType, encodeHardState, encodeSnapshot, isEmptyHardState } from './codec';
import { Decoder, type DecoderSource } from './decoder';
import { Encoder } from './encoder';
import { FilePipeline } from './file-pipeline';
import { checkRegularSegment, checkWritableDir, exist, parseWalName, selectWalFiles, walName } from './segments';
import { repair } from './repair';
import { validSnapshotEntries, verify } from './verify';
import { type DecodedLog, decodeAll } from './wal-read-all';
import {
  type ReadAllResult,
  type SnapshotPosition,
  type WalErrorWithResult,
  type WalOptions,
  acquireLease,
  checkOptions,
  checkSnap,
  ioError,
  isLockedError,
  walError,
} from './wal-options';

export {
  DEFAULT_SEGMENT_SIZE_BYTES,
  type ReadAllResult,
  type SnapshotPosition,
  type WalErrorWithResult,
  type WalOptions,
} from './wal-options';

interface Segment {
  path: string;
  file: WalFile;
}

/**
 * An etcd WAL. Create with `WAL.create`, or open with `WAL.open` (write mode: locks the segments)
 * / `WAL.openForRead` (never modifies a file), then `readAll()` once before appending.
 * Operations are serialised; a failed write or fsync makes the WAL refuse further writes
 * (ERR_WAL_FAILED) until it is closed and reopened.
 */
export class WAL {
  private readonly io: IoBackend;
  private readonly segmentSize: number;
  private readonly unsafeNoFsync: boolean;
  private readonly chunkSize: number;

  /** Held segments, tail last (etcd `locks`); empty in read mode. */
  private locks: Segment[] = [];
  /** Read-mode files, closed at the end of readAll (etcd `readClose`). */
  private readFiles: DecoderSource[] = [];
  private decoder: Decoder | null = null;
  private encoder: Encoder | null = null;
  private fp: FilePipeline | null = null;
  private start: { index: bigint; term: bigint } = { index: 0n, term: 0n };
  private metadata: Uint8Array | null = null;
  /** etcd `w.state`: the last HardState saved by this process (NOT restored by readAll). */
  private state: HardState = { term: 0n, vote: 0n, commit: 0n };
  /** etcd `w.enti`: index of the last entry saved or read. */
  private enti = 0n;
  private failed: WalError | null = null;
  /** The tail and the end of its last synced record: where a failed write is cut back to. */
  private synced: { file: WalFile; offset: number } | null = null;
  private closed = false;
  /** The directory lease (write mode). */
  private lease: Lease | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    opts: ReturnType<typeof checkOptions>,
    private readonly readOnly: boolean,
  ) {
    this.io = opts.io;
    this.segmentSize = opts.segmentSizeBytes;
    this.unsafeNoFsync = opts.unsafeNoFsync;
    this.chunkSize = opts.readChunkSize;
  }

  // -------------------------------------------------------------------------------------------
  // Creating and opening

  /**
   * etcd `Create`: builds the WAL in `<dir>.tmp` (crc record, metadata, snapshot {0,0}; fdatasync),
   * fsyncs that directory, replaces `dir` with it by rename and fsyncs the parent. Fails with
   * ERR_WAL_EXISTS when `dir` already holds a `.wal` file. The result is ready to append.
   */
  static async create(dir: string, metadata: Uint8Array | null, opts: WalOptions = {}): Promise<WAL> {
    const o = checkOptions(opts);
    if (metadata !== null && !(metadata instanceof Uint8Array)) {
      throw walError(WalErrorCodes.INVALID_ARGUMENT, 'metadata must be a Uint8Array or null');
    }
    const io = o.io;
    // The lease lives in `dir`, so `dir` exists from here on (etcd's Create replaces it anyway).
    let lease: Lease;
    try {
      await io.mkdir(dir, 0o700);
      lease = await acquireLease(dir, o);
    } catch (err) {
      throw ioError('wal: create failed', dir, err);
    }
    let exists: boolean;
    try {
      exists = await exist(io, dir);
    } catch (err) {
      await lease.abandon();
      throw ioError('wal: create failed', dir, err);
    }
    if (exists) {
      await lease.abandon();
      throw walError(WalErrorCodes.EXISTS, 'file already exists', dir);
    }
    const clean = path.normalize(dir).replace(/(.)\/+$/, '$1');
    const tmp = `${clean}.tmp`;
    const w = new WAL(dir, o, false);
    w.lease = lease;
    let first: WalFile | null = null;
    try {
      await io.rm(tmp);
      await io.mkdir(tmp, 0o700);
      if ((await io.readdir(tmp)).length !== 0) throw walError(WalErrorCodes.IO, `${tmp} is not empty`, tmp);
      const name = walName(0n, 0n);
      first = await io.open(path.join(tmp, name), { read: false, write: true, create: true, mode: 0o600 });
      if (o.segmentSizeBytes > 0) await first.allocate(0, o.segmentSizeBytes);
      w.metadata = metadata;
      w.encoder = new Encoder(io, first, 0, 0);
      w.encoder.encode([
        { type: RecordType.Crc, data: null },
        { type: RecordType.Metadata, data: metadata },
        { type: RecordType.Snapshot, data: encodeSnapshot({ index: 0n, term: 0n }) },
      ]);
      await w.encoder.flush(!o.unsafeNoFsync);
      // Not in etcd: make the new directory's entries durable before it is renamed into place.
      await io.fsyncDir(tmp);
      await first.close();
      first = null;
      // The lease moves with the directory: linked into tmp before the old `dir` goes.
      await lease.moveWith(tmp, async () => {
        await io.rm(dir);
        await io.rename(tmp, dir);
      });
      // Lock under the final path (the lock belongs to the file, taken before anyone can see it
      // as `dir` in etcd; here right after the rename).
      const finalPath = path.join(dir, name);
      const file = await io.open(finalPath, { read: false, write: true });
      w.locks.push({ path: finalPath, file });
      await file.lock({ wait: true });
      w.encoder = new Encoder(io, file, w.encoder.crc, w.encoder.pw.offset);
      w.fp = new FilePipeline(io, dir, o.segmentSizeBytes);
    } catch (err) {
      if (first !== null) await first.close().catch(() => undefined);
      await w.closeFiles();
      await lease.abandon();
      throw ioError('wal: create failed', dir, err);
    }
    try {
      await io.fsyncDir(path.dirname(path.resolve(dir)));
    } catch (err) {
      // etcd cleanupWAL: close and move the directory aside.
      await w.close().catch(() => undefined);
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '.').replace('Z', '');
      await io.rename(dir, `${dir}.broken.${stamp}`).catch(() => undefined);
      throw ioError('wal: cannot fsync the parent directory', dir, err);
    }
    return w;
  }

  /**
   * etcd `Open`: write mode. Selects the segments that can hold `snap` onward, opens them
   * read-write and locks them without waiting (ERR_WAL_LOCKED if another process — etcd
   * included, with the native backend — holds one). Call `readAll()` before appending.
   */
  static async open(dir: string, snap: SnapshotPosition, opts: WalOptions = {}): Promise<WAL> {
    return WAL.openAtIndex(dir, snap, checkOptions(opts), true);
  }

  /** etcd `OpenForRead`: like `open` but no locks, no preallocation, never modifies a file. */
  static async openForRead(dir: string, snap: SnapshotPosition, opts: WalOptions = {}): Promise<WAL> {
    return WAL.openAtIndex(dir, snap, checkOptions(opts), false);
  }

  private static async openAtIndex(
    dir: string,
    position: SnapshotPosition,
    o: ReturnType<typeof checkOptions>,
    write: boolean,
  ): Promise<WAL> {
    const snap = checkSnap(position);
    const io = o.io;
    // Write mode: the lease first, then anything in the directory is read.
    let lease: Lease | null = null;
    let names: string[];
    try {
      if (write) lease = await acquireLease(dir, o);
      names = await selectWalFiles(io, dir, snap.index);
      if (write) await checkWritableDir(dir);
    } catch (err) {
      await lease?.abandon();
      if (err instanceof WalError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw walError(WalErrorCodes.FILE_NOT_FOUND, `wal: file not found: cannot list ${dir}`, dir, err); // as etcd
      }
      throw ioError('wal: open failed', dir, err);
    }
    const w = new WAL(dir, o, !write);
    w.lease = lease;
    w.start = { index: snap.index, term: snap.term };
    const sources: DecoderSource[] = [];
    try {
      for (const name of names) {
        const p = path.join(dir, name);
        await checkRegularSegment(io, p);
        const file = await io.open(p, write ? { read: true, write: true } : { read: true });
        const source = { path: p, file, size: 0 };
        sources.push(source);
        if (write) {
          w.locks.push({ path: p, file });
          try {
            await file.lock({ wait: false });
          } catch (err) {
            if (isLockedError(err)) throw walError(WalErrorCodes.LOCKED, 'fileutil: file already locked', p, err);
            throw err;
          }
        }
        source.size = await file.size();
      }
    } catch (err) {
      for (const s of sources) await s.file.close().catch(() => undefined);
      await lease?.abandon();
      throw ioError('wal: open failed', dir, err);
    }
    if (!write) w.readFiles = sources;
    w.decoder = new Decoder(io, sources, { chunkSize: o.readChunkSize });
    if (write) w.fp = new FilePipeline(io, dir, o.segmentSizeBytes);
    return w;
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /**
   * etcd `ReadAll`: replays the WAL from the snapshot given to open. Entries with an index at or
   * below the snapshot are skipped; a later entry with an earlier index truncates the list (raft
   * overwrite). Callable once. Write mode then zeroes the unused tail (and fsyncs it) and is ready
   * to append. Throws ERR_WAL_SNAPSHOT_NOT_FOUND (with `result`) when no snapshot record matches —
   * in write mode too, unlike etcd; the WAL is usable for appending nonetheless.
   */
  readAll(): Promise<ReadAllResult> {
    return this.serialize(() => this.readAllLocked());
  }

  private async readAllLocked(): Promise<ReadAllResult> {
    this.checkOpen();
    const decoder = this.decoder;
    if (decoder === null) throw walError(WalErrorCodes.DECODER_NOT_FOUND, 'wal: decoder not found', this.dir);
    const start = this.start;
    let decoded: DecodedLog;
    try {
      decoded = await decodeAll(decoder, start, this.readOnly);
      if (decoded.lastEntryIndex !== null) this.enti = decoded.lastEntryIndex;
      const tail = this.tail();
      if (tail !== null) {
        // ZeroToEnd: wipe anything after the last valid frame so later appends cannot resurrect it.
        const off = decoder.lastValidOffset;
        const size = await tail.file.size();
        await tail.file.truncate(off);
        if (size > 0) await tail.file.allocate(0, size);
        // Not in etcd: make the zeroing durable before anything is appended after it.
        if (!this.unsafeNoFsync) await tail.file.datasync();
      }
    } finally {
      if (this.readFiles.length > 0) {
        const files = this.readFiles;
        this.readFiles = [];
        await Promise.all(files.map((s) => s.file.close().catch(() => undefined)));
      }
    }
    const { metadata, state, entries, match } = decoded;
    this.start = { index: 0n, term: 0n };
    this.metadata = metadata;
    const tail = this.tail();
    if (tail !== null) {
      this.encoder = new Encoder(this.io, tail.file, decoder.crc, decoder.lastValidOffset);
      this.synced = { file: tail.file, offset: decoder.lastValidOffset };
    }
    this.decoder = null;
    const result: ReadAllResult = { metadata, state, entries };
    if (!match) {
      const err = new WalError(WalErrorCodes.SNAPSHOT_NOT_FOUND, 'wal: snapshot not found', { file: this.dir }) as WalErrorWithResult;
      err.result = result;
      throw err;
    }
    return result;
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /**
   * etcd `Save`: appends `entries` then `state` (when non-empty). fdatasyncs when etcd's MustSync
   * says so (entries present, or term/vote changed); cuts a new segment once the flushed size
   * reaches `segmentSizeBytes`. Refuses a record etcd could not read back (ERR_WAL_RECORD_TOO_LARGE)
   * before writing anything.
   */
  save(state: HardState, entries: readonly Entry[]): Promise<void> {
    return this.serialize(() => this.saveLocked(state, entries));
  }

  private async saveLocked(st: HardState, entries: readonly Entry[]): Promise<void> {
    const encoder = this.writable();
    if (!Array.isArray(entries)) throw walError(WalErrorCodes.INVALID_ARGUMENT, 'entries must be an array');
    const stateBytes = encodeHardState(st); // validates
    if (isEmptyHardState(st) && entries.length === 0) return;
    const mustSync = entries.length !== 0 || st.vote !== this.state.vote || st.term !== this.state.term;
    // Encode everything before touching the page writer, so a refused record writes nothing; the
    // state record goes into the entries' buffer, so the Save is one contiguous write.
    const stateRecord = isEmptyHardState(st) ? [] : [{ type: RecordType.State, data: stateBytes }];
    encoder.encodeEntries(entries, stateRecord);
    if (entries.length > 0) this.enti = entries[entries.length - 1]!.index;
    if (stateRecord.length > 0) this.state = { term: st.term, vote: st.vote, commit: st.commit };
    await this.guard(async () => {
      if (encoder.pw.offset < this.segmentSize) {
        if (mustSync) await this.syncLocked();
        else await encoder.commit();
        return;
      }
      await this.cut();
    });
  }

  /** etcd `SaveSnapshot`: appends a snapshot record (with conf_state when given) and always syncs. */
  saveSnapshot(snap: Snapshot): Promise<void> {
    return this.serialize(async () => {
      const encoder = this.writable();
      const bytes = encodeSnapshot(snap);
      encoder.encode([{ type: RecordType.Snapshot, data: bytes }]);
      if (this.enti < snap.index) this.enti = snap.index;
      await this.guard(() => this.syncLocked());
    });
  }

  /** etcd `Sync`: flushes buffered records and fdatasyncs the tail (unless unsafeNoFsync). */
  sync(): Promise<void> {
    return this.serialize(async () => {
      this.writable();
      await this.guard(() => this.syncLocked());
    });
  }

  private async syncLocked(): Promise<void> {
    await this.encoder!.flush(!this.unsafeNoFsync);
    this.synced = { file: this.tail()!.file, offset: this.encoder!.pw.offset };
  }

  /**
   * After a failed write or sync: cut the tail back to the end of its last synced record and keep
   * its preallocated length (what etcd's ReadAll does at the next open, ZeroToEnd). A write that
   * stopped part-way through a frame would otherwise leave bytes that read as corruption when the
   * cut falls inside a sector (etcd calls only whole zeroed sectors torn). Only unsynced records
   * go, as a crash would take them; best effort, the WAL stays failed either way.
   */
  private async dropUnsynced(): Promise<void> {
    const at = this.synced;
    const tail = this.tail();
    if (at === null || tail === null || tail.file !== at.file) return;
    try {
      const size = await tail.file.size();
      if (size <= at.offset) return;
      await tail.file.truncate(at.offset);
      await tail.file.allocate(0, size).catch(() => undefined); // the length is not what matters
      await tail.file.datasync();
    } catch {
      // The disk refuses even this: the next open sees what a crash would have left.
    }
  }

  /** etcd `cut`: closes the tail at its flushed size and starts the next segment (spec §6.6). */
  private async cut(): Promise<void> {
    let encoder = this.encoder!;
    const tail = this.tail()!;
    await encoder.commit();
    const off = encoder.pw.offset;
    await tail.file.truncate(off);
    await this.syncLocked();

    const parsed = parseWalName(path.basename(tail.path))!;
    const fpath = path.join(this.dir, walName(parsed.seq + 1n, this.enti + 1n));
    const newTail = await this.fp!.open();
    this.locks.push(newTail);
    const prevCrc = encoder.crc;
    encoder = this.encoder = new Encoder(this.io, newTail.file, prevCrc, 0);
    const headers = [
      { type: RecordType.Crc, data: null },
      { type: RecordType.Metadata, data: this.metadata },
    ];
    if (!isEmptyHardState(this.state)) headers.push({ type: RecordType.State, data: encodeHardState(this.state) });
    encoder.encode(headers);
    await this.syncLocked();
    const newOff = encoder.pw.offset;

    await this.io.rename(newTail.path, fpath);
    await this.io.fsyncDir(this.dir); // etcd does this even with unsafeNoFsync
    await newTail.file.close();
    const file = await this.io.open(fpath, { read: false, write: true });
    this.locks[this.locks.length - 1] = { path: fpath, file };
    await file.lock({ wait: true });
    this.encoder = new Encoder(this.io, file, encoder.crc, newOff);
  }

  /**
   * etcd `ReleaseLockTo`: releases the locks of segments whose start index is below `index`,
   * except the last such one (it may hold entries >= index). The files stay on disk.
   */
  releaseLockTo(indexArg: IndexArg): Promise<void> {
    return this.serialize(async () => {
      this.checkOpen();
      const index = indexToBigint('index', indexArg);
      if (this.locks.length === 0) return;
      let smaller = this.locks.length - 1;
      for (let i = 0; i < this.locks.length; i++) {
        const parsed = parseWalName(path.basename(this.locks[i]!.path));
        if (parsed !== null && parsed.index >= index) {
          smaller = i - 1;
          break;
        }
      }
      if (smaller <= 0) return;
      const released = this.locks.slice(0, smaller);
      this.locks = this.locks.slice(smaller);
      for (const s of released) await s.file.close();
    });
  }

  /** `await using wal = await WAL.open(...)`: closes the WAL when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** etcd `Close`: stops the pipeline (removing its tmp file), syncs the tail, releases every lock. */
  close(): Promise<void> {
    return this.serialize(async () => {
      if (this.closed) return;
      this.closed = true;
      let syncError: unknown = null;
      try {
        if (this.fp !== null) await this.fp.close();
        this.fp = null;
        if (this.encoder !== null && this.tail() !== null && this.failed === null) await this.syncLocked();
      } catch (err) {
        syncError = err;
      }
      await this.closeFiles();
      await this.lease?.release();
      if (syncError !== null) throw ioError('wal: close failed', this.dir, syncError);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Static helpers

  /** etcd `Repair`: fixes a torn last record of the last segment (keeping a `.broken` copy). */
  static async repair(dir: string, opts: WalOptions = {}): Promise<boolean> {
    const o = checkOptions(opts);
    // A live writer's tail is never cut: ERR_WAL_LOCKED while another writer holds the directory.
    let lease: Lease;
    try {
      lease = await acquireLease(dir, o);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // no directory: nothing to repair
      throw err;
    }
    try {
      return await repair(o.io, dir, o.readChunkSize);
    } finally {
      await lease.abandon(); // leaves the lease files as they were: a repair that cut nothing changes nothing
    }
  }

  /** etcd 3.5 `Verify`: checks the WAL from `snap` on without modifying it; returns the last HardState. */
  static verify(dir: string, position: SnapshotPosition, opts: WalOptions = {}): Promise<HardState> {
    const snap = checkSnap(position);
    const o = checkOptions(opts);
    return verify(o.io, dir, snap, o.readChunkSize);
  }

  /** etcd `ValidSnapshotEntries`: every snapshot record with index <= the last committed index. */
  static validSnapshotEntries(dir: string, opts: WalOptions = {}): Promise<Snapshot[]> {
    const o = checkOptions(opts);
    return validSnapshotEntries(o.io, dir, o.readChunkSize);
  }

  /** etcd `Exist`: whether `dir` holds any `*.wal` file. */
  static exist(dir: string, opts: WalOptions = {}): Promise<boolean> {
    return exist(checkOptions(opts).io, dir);
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  private tail(): Segment | null {
    return this.locks.length > 0 ? this.locks[this.locks.length - 1]! : null;
  }

  private checkOpen(): void {
    if (this.closed) throw walError(WalErrorCodes.CLOSED, 'wal: closed', this.dir);
  }

  private writable(): Encoder {
    this.checkOpen();
    if (this.readOnly) throw walError(WalErrorCodes.READ_ONLY, 'wal: opened for reading only', this.dir);
    this.lease?.assertHeld(); // a clock compare; after a lost lease every write is refused
    if (this.failed !== null) {
      throw new WalError(WalErrorCodes.FAILED, 'wal: an earlier write failed; close and reopen', { file: this.dir, cause: this.failed });
    }
    if (this.encoder === null) {
      throw walError(WalErrorCodes.INVALID_ARGUMENT, 'wal: readAll must be called before appending', this.dir);
    }
    return this.encoder;
  }

  /** Runs an I/O step; a failure poisons the WAL (the on-disk state is unknown). */
  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const e = ioError('wal: write failed', this.tail()?.path ?? this.dir, err);
      this.failed = e;
      await this.dropUnsynced();
      throw e;
    }
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async closeFiles(): Promise<void> {
    const all = [...this.locks.map((s) => s.file), ...this.readFiles.map((s) => s.file)];
    this.locks = [];
    this.readFiles = [];
    for (const f of all) await f.close().catch(() => undefined);
    if (this.fp !== null) {
      await this.fp.close().catch(() => undefined);
      this.fp = null;
    }
  }
}
