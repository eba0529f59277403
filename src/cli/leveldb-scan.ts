/**
 * One read-only pass over a LevelDB log for dump, verify, stat and repair. Records and corruption
 * reports come from the library's LevelDB-1.23-exact reader in strict mode (so what LevelDB drops
 * silently — torn tails, zero-filled blocks — is reported too); each record's physical extent is
 * recomputed from the writer's fragmentation rule so repair knows exactly where to cut.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import { BLOCK_SIZE, HEADER_SIZE } from '../leveldb/format';
import { readLevelDBLog } from '../leveldb/reader';
import { type WriteBatch, decodeWriteBatch } from '../leveldb/write-batch';
import type { Problem } from './etcd-scan';

/** One complete logical record. */
export interface LevelDBRecordInfo {
  file: string;
  offset: number;
  /** Offset just past its last fragment. */
  end: number;
  size: number;
  /** 'full', or 'first' + middles + 'last' for a fragmented record. */
  fragments: number;
  data: Uint8Array;
  batch?: WriteBatch;
  problem?: Problem;
}

/** Reports that mean an unclean end (torn final write) rather than damage in the middle. */
const TAIL_REASONS = new Set(['partial record at end of file', 'truncated header at end of file', 'truncated record at end of file']);

export interface LevelDBScanResult {
  file: string;
  size: number;
  records: number;
  puts: number;
  deletes: number;
  firstSequence: bigint | null;
  lastSequence: bigint | null;
  payloadBytes: number;
  /** End of the last complete record, as the reader reports it. */
  endOfLastRecord: number;
  /** End of the last complete record that starts before the first problem: where repair cuts. */
  cutOffset: number;
  /** Records that begin after the first problem (lost if cut there). */
  recordsAfterProblem: number;
  problems: Problem[];
}

export interface LevelDBScanOptions {
  /** Decode payloads as WriteBatches (true for NNNNNN.log files). */
  batches: boolean;
  onRecord?: (rec: LevelDBRecordInfo) => void;
  onProblem?: (p: Problem) => void;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Whether a LevelDB log file's payloads are WriteBatches: yes for a database's NNNNNN.log, no for
 * a MANIFEST (VersionEdits); for any other name (a backup, a file read with --format leveldb),
 * yes when its first record decodes as a WriteBatch, so other payloads are shown as bytes rather
 * than reported as damage.
 */
export async function holdsWriteBatches(file: string): Promise<boolean> {
  const base = path.basename(file);
  if (/^\d+\.log$/.test(base)) return true;
  if (/^MANIFEST-\d+$/.test(base)) return false;
  const reader = readLevelDBLog(file, { onCorruption: () => undefined });
  try {
    const first = await reader.next();
    if (first.done === true) return false;
    decodeWriteBatch(first.value.data);
    return true;
  } catch {
    return false;
  } finally {
    await reader.return();
  }
}

/** Offset just past a record of `size` bytes that starts at `offset`, laid out as log::Writer does. */
export function recordEnd(offset: number, size: number): { end: number; fragments: number } {
  let pos = offset;
  let left = size;
  let fragments = 0;
  do {
    const inBlock = BLOCK_SIZE - (pos % BLOCK_SIZE);
    if (inBlock < HEADER_SIZE) {
      pos += inBlock; // trailer: zero padding
      continue;
    }
    const frag = Math.min(left, inBlock - HEADER_SIZE);
    pos += HEADER_SIZE + frag;
    left -= frag;
    fragments++;
  } while (left > 0);
  return { end: pos, fragments };
}

/** Scans one log file; damage is returned in `problems`, never thrown. */
export async function scanLevelDB(file: string, opts: LevelDBScanOptions): Promise<LevelDBScanResult> {
  const size = fs.statSync(file).size;
  const result: LevelDBScanResult = {
    file,
    size,
    records: 0,
    puts: 0,
    deletes: 0,
    firstSequence: null,
    lastSequence: null,
    payloadBytes: 0,
    endOfLastRecord: 0,
    cutOffset: 0,
    recordsAfterProblem: 0,
    problems: [],
  };
  const firstProblemOffset = (): number => (result.problems.length === 0 ? Infinity : (result.problems[0]!.offset ?? 0));
  const reader = readLevelDBLog(file, {
    strict: true,
    onCorruption: (r) => {
      const tail = TAIL_REASONS.has(r.reason);
      const p: Problem = {
        code: tail ? WalErrorCodes.UNEXPECTED_EOF : WalErrorCodes.LEVELDB_CORRUPTION,
        message: `${r.reason} (${r.bytes} bytes dropped)`,
        file,
        offset: r.offset,
        repairable: tail,
      };
      result.problems.push(p);
      opts.onProblem?.(p);
    },
  });
  for await (const rec of reader) {
    const { end, fragments } = recordEnd(rec.offset, rec.data.length);
    const info: LevelDBRecordInfo = { file, offset: rec.offset, end, size: rec.data.length, fragments, data: rec.data };
    result.records++;
    result.payloadBytes += rec.data.length;
    if (rec.offset < firstProblemOffset()) result.cutOffset = end;
    else result.recordsAfterProblem++;
    if (opts.batches) {
      try {
        const batch = decodeWriteBatch(rec.data);
        info.batch = batch;
        if (result.firstSequence === null) result.firstSequence = batch.sequence;
        if (batch.ops.length > 0) result.lastSequence = batch.sequence + BigInt(batch.ops.length - 1);
        for (const op of batch.ops) {
          if (op.type === 'put') result.puts++;
          else result.deletes++;
        }
      } catch (err) {
        const e = err instanceof WalError ? err : new WalError(WalErrorCodes.BAD_WRITE_BATCH, String(err));
        info.problem = {
          code: e.code,
          message: `WriteBatch does not decode: ${e.message.replace(/ \(.*\)$/, '')}${e.offset !== undefined ? ` (byte ${e.offset} of the record)` : ''}`,
          file,
          offset: rec.offset,
          repairable: false,
        };
        result.problems.push(info.problem);
      }
    }
    opts.onRecord?.(info);
    opts.onProgress?.(end, size);
  }
  result.endOfLastRecord = reader.endOfLastRecord;
  // Problems arrive while reading; keep them in file order for "the first problem".
  result.problems.sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0));
  if (result.problems.length > 0) {
    const first = result.problems[0]!.offset ?? 0;
    result.recordsAfterProblem = 0;
    result.cutOffset = 0;
    // Recount against the sorted first problem (a WriteBatch problem may precede an earlier report).
    await rescanBounds(file, first, result);
  }
  return result;
}

/** Recomputes cutOffset / recordsAfterProblem against `first` with a plain (non-strict) pass. */
async function rescanBounds(file: string, first: number, result: LevelDBScanResult): Promise<void> {
  const reader = readLevelDBLog(file, { onCorruption: () => undefined });
  for await (const rec of reader) {
    if (rec.offset < first) {
      const { end } = recordEnd(rec.offset, rec.data.length);
      if (end <= first) result.cutOffset = end;
      else result.recordsAfterProblem++; // the problem is inside this record (a WriteBatch one): it goes too
    } else result.recordsAfterProblem++;
  }
}
