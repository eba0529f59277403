/**
 * The cursor file of earlier versions, still read (cursor-journal.ts merges it; positions are now
 * written to the consumer journal): `consumer.<name>.tmp` in the log directory (etcd skips `*.tmp`
 * silently). Two 64-byte slots, 4 KiB apart so that no sector or page holds both; each commit
 * writes the slot the previous commit did not (sequence number parity) and fdatasyncs it. A torn or
 * lost write damages only the slot being written, whose CRC then fails, and the reader falls back
 * to the other slot — the previous commit, never a later position. Layout: docs/format.md "Cursor file".
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';

export const SLOT_BYTES = 64;
export const SLOT_STRIDE = 4096;
export const CURSOR_FILE_BYTES = 2 * SLOT_STRIDE;
const MAGIC = Buffer.from('NWCURSR1', 'latin1');
const CRC_AT = 56;

/** What a slot holds. */
export interface CursorState {
  /** Sequence number of the write (1 for the state written at creation). */
  seq: bigint;
  /** Last committed index (0: nothing committed; the first record to deliver is committed + 1). */
  committed: bigint;
  /** Milliseconds since the epoch of the last commit, 0 for none. */
  lastCommitAt: number;
  /** How many truncateBack calls of the log this position has been checked against. */
  truncations: number;
  /** The log's id, so a cursor copied from another log is refused. */
  logId: string;
}

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/;

/** Throws ERR_WAL_INVALID_ARGUMENT unless `name` is 1-100 of [A-Za-z0-9_.-], not starting with '.'. */
export function checkConsumerName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name) || name.endsWith('.new') || name.endsWith('.lock')) {
    throw new WalError(
      WalErrorCodes.INVALID_ARGUMENT,
      `consumer name must be 1-100 of [A-Za-z0-9_.-], not starting with '.', got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

export function cursorPath(dir: string, name: string): string {
  return path.join(dir, `consumer.${name}.tmp`);
}

/** The consumer names whose cursor files are in `names` (a directory listing). */
export function consumerNames(names: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of names) {
    if (n.includes('.nodewal-lock')) continue; // a cursor's lease or its draft (src/log/consumer-lock.ts), not a cursor
    const m = /^consumer\.(.+)\.tmp$/.exec(n);
    if (m !== null && NAME.test(m[1]!) && !m[1]!.endsWith('.new') && !m[1]!.endsWith('.lock')) out.push(m[1]!);
  }
  return out.sort();
}

export function encodeSlot(io: IoBackend, s: CursorState): Uint8Array {
  const b = Buffer.alloc(SLOT_BYTES);
  MAGIC.copy(b, 0);
  b.writeBigUInt64LE(s.seq, 8);
  b.writeBigUInt64LE(s.committed, 16);
  b.writeDoubleLE(s.lastCommitAt, 24);
  b.writeUInt32LE(s.truncations, 32);
  b.writeUInt32LE(0, 36);
  Buffer.from(s.logId, 'hex').copy(b, 40);
  b.writeUInt32LE(io.crc32c(b.subarray(0, CRC_AT)) >>> 0, CRC_AT);
  return b;
}

/** A slot's state, or null when it is not a valid slot (torn, zeroed, flipped). */
export function decodeSlot(io: IoBackend, bytes: Uint8Array): CursorState | null {
  if (bytes.length < SLOT_BYTES) return null;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, SLOT_BYTES);
  if (!b.subarray(0, 8).equals(MAGIC)) return null;
  if (io.crc32c(b.subarray(0, CRC_AT)) >>> 0 !== b.readUInt32LE(CRC_AT)) return null;
  // The padding after the CRC is written as zeros: anything else is damage too.
  if (b.readUInt32LE(CRC_AT + 4) !== 0) return null;
  const lastCommitAt = b.readDoubleLE(24);
  if (!Number.isFinite(lastCommitAt) || lastCommitAt < 0) return null;
  return {
    seq: b.readBigUInt64LE(8),
    committed: b.readBigUInt64LE(16),
    lastCommitAt,
    truncations: b.readUInt32LE(32),
    logId: b.subarray(40, 56).toString('hex'),
  };
}

/** The newest valid slot of the file's bytes; ERR_WAL_CONSUMER_CORRUPT when neither is valid. */
export function decodeCursor(io: IoBackend, bytes: Uint8Array, file: string, logId: string | null): CursorState {
  const a = decodeSlot(io, bytes.subarray(0, SLOT_BYTES));
  const b = bytes.length >= SLOT_STRIDE + SLOT_BYTES ? decodeSlot(io, bytes.subarray(SLOT_STRIDE, SLOT_STRIDE + SLOT_BYTES)) : null;
  // A slot is only trusted in the place its sequence number's parity puts it.
  const okA = a !== null && (a.seq & 1n) === 0n ? a : null;
  const okB = b !== null && (b.seq & 1n) === 1n ? b : null;
  const best = okA === null ? okB : okB === null ? okA : okA.seq > okB.seq ? okA : okB;
  if (best === null) {
    throw new WalError(WalErrorCodes.CONSUMER_CORRUPT, 'consumer cursor file has no valid slot (reset or delete the consumer)', {
      file,
      offset: 0,
    });
  }
  if (logId !== null && best.logId !== logId) {
    throw new WalError(WalErrorCodes.CONSUMER_CORRUPT, `consumer cursor belongs to log ${best.logId}, not ${logId}`, {
      file,
      offset: best.seq & 1n ? SLOT_STRIDE : 0,
    });
  }
  return best;
}

/** Reads and decodes a cursor file; with `sync`, fdatasyncs it first so what is read is durable. */
export async function readCursorFile(io: IoBackend, file: string, logId: string | null, sync = false): Promise<CursorState> {
  const f = await io.open(file, { read: true });
  try {
    if (sync) await f.datasync();
    return await readCursor(io, f, logId);
  } finally {
    await f.close();
  }
}

export async function readCursor(io: IoBackend, f: WalFile, logId: string | null): Promise<CursorState> {
  const buf = new Uint8Array(CURSOR_FILE_BYTES);
  const n = await f.read(buf, 0);
  return decodeCursor(io, buf.subarray(0, n), f.path, logId);
}

/** Writes `s` into its slot and fdatasyncs: resolves once the position is durable. */
export async function writeCursor(io: IoBackend, f: WalFile, s: CursorState): Promise<void> {
  await f.write([encodeSlot(io, s)], (s.seq & 1n) === 1n ? SLOT_STRIDE : 0, { datasync: true });
}

/**
 * Creates a cursor file holding `s` (seq 1) atomically: written and synced under a temporary name,
 * renamed into place, directory fsynced. Replaces an existing file (callers hold the registry lock).
 */
export async function createCursorFile(io: IoBackend, dir: string, name: string, s: CursorState): Promise<void> {
  const tmp = path.join(dir, `consumer.${name}.new.tmp`);
  const f = await io.open(tmp, { read: false, write: true, create: true, truncate: true });
  try {
    const bytes = new Uint8Array(CURSOR_FILE_BYTES);
    bytes.set(encodeSlot(io, s), (s.seq & 1n) === 1n ? SLOT_STRIDE : 0);
    await f.write([bytes], 0, { datasync: true });
  } finally {
    await f.close();
  }
  await io.rename(tmp, cursorPath(dir, name));
  await io.fsyncDir(dir);
}
