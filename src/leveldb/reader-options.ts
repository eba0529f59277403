/** The public shapes of the LevelDB reader (reader.ts): its records, corruption reports and options. */
import type { IoBackend } from '../io/types';

/** One logical record and the file offset of its first physical record (LevelDB `LastRecordOffset`). */
export interface LevelDBRecord {
  offset: number;
  /**
   * The record's bytes (a Uint8Array), never overwritten by later reads. A record that fits in one
   * block is a view into that block's own 32 KiB buffer, which the reader never reuses (as
   * LevelDB's Slice points into its block, but safe to keep): keeping it keeps that block's
   * buffer alive — copy it (`Buffer.from(data)`) to keep a small record for long. A record joined
   * from fragments is a copy, sharing a 64 KiB allocation when 1-16 KiB.
   */
  data: Uint8Array;
}

/** A corruption report: what LevelDB passes to `Reporter::Corruption`, plus where the dropped bytes start. */
export interface LevelDBCorruption {
  /** Bytes dropped, as LevelDB counts them (an approximation: LevelDB's own accounting). */
  bytes: number;
  /** LevelDB's reason text, e.g. 'checksum mismatch', 'bad record length'. */
  reason: string;
  /** File offset where the dropped bytes begin. */
  offset: number;
}

/** Options for `readLevelDBLog`. */
export interface LevelDBReadOptions {
  /** Verify CRCs. Default true (LevelDB always verifies during recovery). */
  checksum?: boolean;
  /**
   * Receives every corruption report; reading continues after it, as in LevelDB. Throw from it to
   * stop. When omitted, the first report is thrown as a `WalError` with code
   * `ERR_WAL_LEVELDB_CORRUPTION` (like LevelDB's `paranoid_checks`).
   */
  onCorruption?: (report: LevelDBCorruption) => void;
  /**
   * Start at the first record whose physical start is at or after this offset (LevelDB
   * `initial_offset`). Default 0.
   */
  initialOffset?: number;
  /**
   * Report what LevelDB drops silently: torn tails, a partial record at the end, zero-filled block
   * remainders, non-zero trailers and (in 'leveldb-1.23' compat) records of type 5 and 6.
   * The records returned do not change. Default false.
   */
  strict?: boolean;
  /**
   * 'leveldb-1.23' (default): reproduce LevelDB 1.23 exactly, including its quirks: a CRC-valid
   * record of type 5 ends the log and one of type 6 is skipped silently (they collide with its
   * internal codes), and resynchronisation after `initialOffset` ends at the first record that
   * started before the offset. 'clean': types 5 and 6 are unknown types like any other, and
   * resynchronisation skips every fragment of a record that started before `initialOffset`.
   * Ignored for format 'rocksdb'.
   */
  compat?: 'leveldb-1.23' | 'clean';
  /**
   * 'leveldb' (default) or 'rocksdb': RocksDB logs may also hold recyclable records (types 5-8,
   * 11-byte header with the log number; one from another log number ends the log) and metadata
   * records (types 10, 11, 130, 131 and any type with bit 7 set), which are skipped. Compressed logs
   * (type 9) are refused.
   */
  format?: 'leveldb' | 'rocksdb';
  /** RocksDB log number (low 32 bits are compared). Default: parsed from a `NNNNNN.log` file name. */
  logNumber?: number;
  /** I/O backend; default the package's `defaultBackend`. */
  io?: IoBackend;
}
