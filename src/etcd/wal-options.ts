/**
 * The options of `WAL.create`/`open`/`openForRead`, their checks, and the small error and lease
 * helpers every `WAL` entry point shares.
 */
import { WalError, WalErrorCodes, type WalErrorCode } from '../errors';
import { indexToBigint, type IndexArg } from '../index-arg';
import { defaultBackend } from '../io/backend';
import type { IoBackend } from '../io/types';
import { directorySpot } from '../lock/directory';
import { Lease } from '../lock/lease';
import { resolveLockOptions, type LockOptions, type ResolvedLockOptions } from '../lock/options';
import { type Entry, type HardState, checkSnapshot } from './codec';

/** etcd `SegmentSizeBytes`: a segment is cut once its flushed size reaches this (64,000,000, not 64 MiB). */
export const DEFAULT_SEGMENT_SIZE_BYTES = 64 * 1000 * 1000;

/** Options of `WAL.create`, `WAL.open` and `WAL.openForRead`. */
export interface WalOptions {
  /** The I/O backend (tests inject a recording one). Default: the package's backend. */
  io?: IoBackend;
  /** etcd `SegmentSizeBytes`: preallocation size and cut threshold. Default 64,000,000. */
  segmentSizeBytes?: number;
  /** etcd `SetUnsafeNoFsync`: skip fdatasync of segments (directory fsyncs still happen, as in etcd). */
  unsafeNoFsync?: boolean;
  /** Read chunk size for `readAll`. Default 1 MiB. */
  readChunkSize?: number;
  /** The directory lease's timings (docs/durability.md "One writer per directory"). Default { renewMs: 1000, staleMs: 10000 }. */
  lock?: LockOptions;
}

/** What `readAll` returns (etcd's `metadata, state, ents`). */
export interface ReadAllResult {
  metadata: Uint8Array | null;
  state: HardState;
  entries: Entry[];
}

/** A WalError that carries what was read, e.g. ERR_WAL_SNAPSHOT_NOT_FOUND (etcd returns the data too). */
export interface WalErrorWithResult extends WalError {
  result: ReadAllResult;
}

export function walError(code: WalErrorCode, message: string, file?: string, cause?: unknown): WalError {
  return new WalError(code, message, { file, cause });
}

/** WalOptions with every default filled in. */
export type CheckedWalOptions = Required<Omit<WalOptions, 'io' | 'lock'>> & { io: IoBackend; lock: ResolvedLockOptions };

export function checkOptions(opts: WalOptions): CheckedWalOptions {
  const known = new Set(['io', 'segmentSizeBytes', 'unsafeNoFsync', 'readChunkSize', 'lock']);
  for (const k of Object.keys(opts)) {
    if (!known.has(k)) throw walError(WalErrorCodes.INVALID_OPTION, `unknown WAL option '${k}'`);
  }
  const segmentSizeBytes = opts.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE_BYTES;
  if (!Number.isSafeInteger(segmentSizeBytes) || segmentSizeBytes < 0) {
    throw walError(WalErrorCodes.INVALID_OPTION, 'segmentSizeBytes must be a non-negative integer');
  }
  return {
    io: opts.io ?? defaultBackend,
    segmentSizeBytes,
    unsafeNoFsync: opts.unsafeNoFsync ?? false,
    readChunkSize: opts.readChunkSize ?? 1 << 20,
    lock: resolveLockOptions(opts.lock, 'WAL'),
  };
}

/** Where to open a WAL: etcd's `walpb.Snapshot` {index, term}; numbers are accepted for either. */
export interface SnapshotPosition {
  index: IndexArg;
  term: IndexArg;
}

export function checkSnap(snap: SnapshotPosition): { index: bigint; term: bigint } {
  if (snap === null || typeof snap !== 'object') throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'snapshot must be an object');
  const s = { index: indexToBigint('snap.index', snap.index), term: indexToBigint('snap.term', snap.term) };
  checkSnapshot(s);
  return s;
}

/** The lease of a WAL directory; taken before anything in it is read or written. */
export function acquireLease(dir: string, o: CheckedWalOptions): Promise<Lease> {
  return Lease.acquire(directorySpot(dir), { ...o.lock, io: o.io, what: 'the WAL' });
}

export function isLockedError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EACCES';
}

export function ioError(what: string, file: string, err: unknown): WalError {
  if (err instanceof WalError) return err;
  return walError(WalErrorCodes.IO, `${what}: ${(err as Error)?.message ?? String(err)}`, file, err);
}
