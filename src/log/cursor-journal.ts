/**
 * The consumers' journal (docs/format.md "Consumer journal"): fixed-size CRC32C-checked records
 * {consumer, seq, position, commit time, epoch}, appended by one host each, so one fdatasync makes
 * every commit of a batch durable (commit-journal.ts groups them). The writable Log appends to
 * `consumers.journal.tmp`; a read-only open (or the CLI) to a side journal
 * `consumers.journal.<k>.tmp` it holds by lease. Every name ends in `.tmp`, which etcd's
 * readWALNames skips silently.
 *
 * A consumer's state is its valid record with the highest `seq`, over every journal and the
 * cursor file of earlier versions (cursor-file.ts): order in a file does not matter, so a torn or
 * damaged record is simply skipped and the consumer falls back to its previous record. Every
 * record was written by a commit that was asked for, so no damage can move a position ahead of a
 * commit; seq only grows (the holder of a name writes seq + 1 over the merged state), so a durable
 * commit is never undone. Records whose loss would lose a consumer or bring a deleted one back
 * (creation, deletion, checkpoint copies) are written twice.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import * as path from 'node:path';
import { consumerNames, cursorPath, readCursorFile, type CursorState } from './cursor-file';

export const RECORD_BYTES = 160;
export const MAIN_JOURNAL = 'consumers.journal.tmp';
const MAGIC = 0x524a574e; // 'NWJR' little-endian
const CRC_AT = 156;
const NAME_AT = 56;
const NAME_MAX = 100;

export type RecordKind = 'position' | 'deleted';

/** One journal record: a consumer's state after its `seq`-th write, or its deletion. */
export interface JournalRecord extends CursorState {
  kind: RecordKind;
  name: string;
  /** The file's checkpoint generation (0 until the first checkpoint). */
  epoch: number;
}

export function sideJournalName(k: number): string {
  return `consumers.journal.${k}.tmp`;
}

/** The journal files in a directory listing: the main one and the side journals. */
export function journalNames(listing: readonly string[]): string[] {
  return listing.filter((n) => n === MAIN_JOURNAL || /^consumers\.journal\.\d{1,6}\.tmp$/.test(n)).sort();
}

export function encodeRecord(io: IoBackend, r: JournalRecord, into?: Buffer, at = 0): Buffer {
  const b = into ?? Buffer.alloc(RECORD_BYTES);
  b.fill(0, at, at + RECORD_BYTES);
  b.writeUInt32LE(MAGIC, at);
  b[at + 4] = r.kind === 'position' ? 1 : 2;
  const nameLen = b.write(r.name, at + NAME_AT, NAME_MAX, 'latin1');
  b[at + 5] = nameLen;
  b.writeUInt32LE(r.epoch, at + 8);
  b.writeUInt32LE(r.truncations, at + 12);
  b.writeBigUInt64LE(r.seq, at + 16);
  b.writeBigUInt64LE(r.committed, at + 24);
  b.writeDoubleLE(r.lastCommitAt, at + 32);
  Buffer.from(r.logId, 'hex').copy(b, at + 40);
  b.writeUInt32LE(io.crc32c(b.subarray(at, at + CRC_AT)) >>> 0, at + CRC_AT);
  return b;
}

/** A record, or null when these bytes are not a valid one (torn, zeroed, flipped). */
export function decodeRecord(io: IoBackend, b: Buffer, at: number): JournalRecord | null {
  if (at + RECORD_BYTES > b.length || b.readUInt32LE(at) !== MAGIC) return null;
  if (io.crc32c(b.subarray(at, at + CRC_AT)) >>> 0 !== b.readUInt32LE(at + CRC_AT)) return null;
  const kind = b[at + 4];
  const nameLen = b[at + 5]!;
  if ((kind !== 1 && kind !== 2) || nameLen < 1 || nameLen > NAME_MAX || b.readUInt16LE(at + 6) !== 0) return null;
  const lastCommitAt = b.readDoubleLE(at + 32);
  if (!Number.isFinite(lastCommitAt) || lastCommitAt < 0) return null;
  return {
    kind: kind === 1 ? 'position' : 'deleted',
    name: b.toString('latin1', at + NAME_AT, at + NAME_AT + nameLen),
    epoch: b.readUInt32LE(at + 8),
    truncations: b.readUInt32LE(at + 12),
    seq: b.readBigUInt64LE(at + 16),
    committed: b.readBigUInt64LE(at + 24),
    lastCommitAt,
    logId: b.toString('hex', at + 40, at + 56),
  };
}

/** Of two records of one name, the one that rules: higher seq; on a tie (never written so) the lower position. */
export function newer<T extends CursorState>(a: T | undefined, b: T): T {
  if (a === undefined || b.seq > a.seq) return b;
  if (b.seq === a.seq && b.committed < a.committed) return b;
  return a;
}

/** The latest record per name in one journal's bytes (invalid records skipped). */
export function scanJournal(io: IoBackend, bytes: Uint8Array, file: string, logId: string | null): Map<string, JournalRecord> {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, JournalRecord>();
  for (let at = 0; at + RECORD_BYTES <= b.length; at += RECORD_BYTES) {
    const r = decodeRecord(io, b, at);
    if (r === null) continue;
    if (logId !== null && r.logId !== logId) {
      throw new WalError(WalErrorCodes.CONSUMER_CORRUPT, `consumer journal record belongs to log ${r.logId}, not ${logId}`, {
        file,
        offset: at,
      });
    }
    out.set(r.name, newer(out.get(r.name), r));
  }
  return out;
}

/** Reads a whole journal file; with `sync`, fdatasyncs it first so what is read is durable. */
export async function readJournal(io: IoBackend, file: string, logId: string | null, sync = false): Promise<Map<string, JournalRecord>> {
  let f;
  try {
    f = await io.open(file, { read: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map(); // checkpointed or never made
    throw err;
  }
  try {
    if (sync) await f.datasync();
    const size = await f.size();
    const buf = Buffer.alloc(size);
    const n = size === 0 ? 0 : await f.read(buf, 0);
    return scanJournal(io, buf.subarray(0, n), file, logId);
  } finally {
    await f.close();
  }
}

/** A consumer's stored state: its ruling record (a cursor file of an earlier version counts as a position). */
export type StoredCursor = JournalRecord;

/**
 * Every consumer's ruling record over all journals and legacy cursor files of `dir`, deleted ones
 * included (callers filter `kind`). With `sync`, each file is fdatasynced before it is read;
 * `exclude` names a journal to leave out (a checkpoint asking about the other files).
 * A legacy cursor file with no valid slot is reported as `corrupt` (its name cannot be trusted to be gone).
 */
export async function readStoredCursors(
  io: IoBackend,
  dir: string,
  logId: string | null,
  sync = false,
  exclude?: string,
): Promise<{ cursors: Map<string, StoredCursor>; corrupt: Map<string, WalError> }> {
  const listing = (await io.readdir(dir)).filter((n) => n !== exclude);
  const cursors = new Map<string, StoredCursor>();
  const corrupt = new Map<string, WalError>();
  for (const j of journalNames(listing)) {
    for (const r of (await readJournal(io, path.join(dir, j), logId, sync)).values()) cursors.set(r.name, newer(cursors.get(r.name), r));
  }
  for (const name of consumerNames(listing)) {
    let s: CursorState;
    try {
      s = await readCursorFile(io, cursorPath(dir, name), logId, sync);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      if (!(err instanceof WalError && err.code === WalErrorCodes.CONSUMER_CORRUPT)) throw err;
      // Superseded by a journal record: the damaged old file no longer matters.
      if (!cursors.has(name)) corrupt.set(name, err);
      continue;
    }
    cursors.set(name, newer(cursors.get(name), { ...s, kind: 'position', name, epoch: 0 }));
  }
  return { cursors, corrupt };
}
