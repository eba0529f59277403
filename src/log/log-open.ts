/**
 * Opening a writable Log: the directory lease, the first segment of a new log, the scan and tail
 * repair of an existing one, and the tail made ready to append (zeros after the last record, the
 * segment lock, the writer and the next segment's preparer).
 */
import * as path from 'node:path';
import { checkWritableDir, readWalNames, walName } from '../etcd/segments';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { directorySpot } from '../lock/directory';
import { Lease } from '../lock/lease';
import { encodeSegmentHeader } from './frames';
import type { ResolvedLogOptions } from './options';
import { scanLog } from './recovery';
import type { SegmentInfo } from './segment-index';
import { SegmentPreparer, openTailPreparation, prepareRange } from './segment-preparer';
import { TailWriter } from './tail-writer';

/** What `openTail` hands the Log: its segments, the tail's writer, and what the scan found. */
export interface OpenedTail {
  segments: SegmentInfo[];
  writer: TailWriter;
  preparer: SegmentPreparer;
  scan: Awaited<ReturnType<typeof scanLog>>;
  repaired: string | null;
}

/** Runs `body` holding the directory lease (created unless `mustExist`); a failed body abandons it. */
export async function withLease<T>(dir: string, opts: ResolvedLogOptions, body: (lease: Lease) => Promise<T>): Promise<T> {
  const io = opts.io;
  if (!opts.mustExist) await io.mkdir(dir, 0o700);
  else if (!(await io.stat(dir).catch(() => null))?.isDirectory) {
    throw new WalError(WalErrorCodes.FILE_NOT_FOUND, 'no log in directory', { file: dir }); // and nothing created
  }
  // The lease first: nothing in the directory is looked at, cleaned or created before it is held.
  const lease = await Lease.acquire(directorySpot(dir), { ...opts.lock, io, what: 'the log' });
  try {
    return await body(lease);
  } catch (err) {
    await lease.abandon();
    throw err;
  }
}

/**
 * Scans the log (creating its first segment if there is none), locks and prepares the tail, and
 * runs `body` with it; a failure of either closes the tail file.
 */
export async function openTail<T>(dir: string, opts: ResolvedLogOptions, body: (t: OpenedTail) => Promise<T>): Promise<T> {
  const io = opts.io;
  let names = await readWalNames(io, dir);
  const created = names.length === 0;
  if (created) {
    if (opts.mustExist) throw new WalError(WalErrorCodes.FILE_NOT_FOUND, 'no log in directory', { file: dir });
    await createFirstSegment(io, dir, opts);
    names = await readWalNames(io, dir);
  }
  const tailPath = path.join(dir, names[names.length - 1]!);
  const tailFile = await io.open(tailPath, { read: true, write: true, direct: opts.direct });
  try {
    await tailFile.lock({ wait: false });
  } catch (err) {
    await tailFile.close();
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
      throw new WalError(WalErrorCodes.LOCKED, 'the log is locked by another writer', { file: tailPath, cause: err });
    }
    throw err;
  }
  try {
    await checkWritableDir(dir);
    const scan = await scanLog(io, dir, names, opts.readBufferBytes);
    for (const name of await io.readdir(dir)) {
      // Our prepared-but-unused next segments (a crash may leave one): the preparer recreates them.
      if (/^[01]\.tmp$/.test(name)) await io.unlink(path.join(dir, name));
    }
    const tailSeg = scan.segments[scan.segments.length - 1]!;
    // Zeros after the last record (etcd ZeroToEnd): fallocated under 'auto', so that an open costs
    // about what opening the files does; the preparer zero-fills the segments after it.
    // (A segment this open created holds nothing after its header: it was prepared before its rename.)
    if (!created) await zeroToEnd(io, tailPath, tailSeg.end, Math.max(await tailFile.size(), opts.segmentSize), opts);
    const tail = await TailWriter.attach(io, tailFile, tailSeg.end, scan.tailCrc, opts.syncThread === 'dedicated');
    // Started by Log.start once the open's own small fsyncs are done (see there).
    const preparer = new SegmentPreparer(io, dir, opts.segmentSize, opts.preallocation);
    return await body({ segments: scan.segments, writer: tail, preparer, scan, repaired: scan.repaired });
  } catch (err) {
    await tailFile.close();
    throw err;
  }
}

/** [end, zeroEnd) of the tail made zeros, durably. */
async function zeroToEnd(io: IoBackend, tailPath: string, end: number, zeroEnd: number, opts: ResolvedLogOptions): Promise<void> {
  const plain = await io.open(tailPath, { read: false, write: true });
  try {
    // Cut first: fallocate keeps existing bytes, and frames left beyond a hole of lost writes
    // must never become readable again after an append (etcd's ZeroToEnd truncates too).
    await plain.truncate(end);
    await prepareRange(plain, end, zeroEnd, openTailPreparation(opts.preallocation));
  } finally {
    await plain.close();
  }
}

/**
 * Creates the first segment as etcd's Create does (crc, metadata, snapshot {0,0}), its zero tail
 * prepared before the rename, so that a full disk leaves the directory as it was.
 */
async function createFirstSegment(io: IoBackend, dir: string, opts: ResolvedLogOptions): Promise<void> {
  const tmp = path.join(dir, '0.tmp');
  const header = encodeSegmentHeader(io, 0, true);
  const f = await io.open(tmp, { read: false, write: true, create: true, truncate: true });
  try {
    await prepareRange(f, 0, opts.segmentSize, openTailPreparation(opts.preallocation), false);
    await f.write([header.bytes], 0, { datasync: true });
  } catch (err) {
    // A full disk: leave no partial 0.tmp holding the space.
    await f.close().catch(() => undefined);
    await io.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await f.close();
  await io.rename(tmp, path.join(dir, walName(0n, 0n)));
  await io.fsyncDir(dir);
  await io.fsyncDir(path.dirname(path.resolve(dir)));
}
