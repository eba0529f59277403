/**
 * What a RocksDB log adds to LevelDB's for the reader: recyclable records (types 5-8 and the
 * recyclable metadata types, 11-byte header with the log number), metadata records it skips, and
 * the CRCs of a block's records batched into one io call when the block is first parsed (RocksDB
 * logs do not take the FULL-record fast path, whose scan batches them for LevelDB logs).
 */
import * as path from 'node:path';
import { sliceCrcs } from '../crc32c-combine';
import type { IoBackend } from '../io/types';
import { BLOCK_SIZE, HEADER_SIZE, RECYCLABLE_HEADER_SIZE, RecordType } from './format';

/** A recyclable record: its header carries the low 32 bits of the log number after the usual 7 bytes. */
export function isRecyclable(type: number): boolean {
  return (
    (type >= RecordType.RECYCLABLE_FULL && type <= RecordType.RECYCLABLE_LAST) ||
    type === RecordType.RECYCLABLE_USER_DEFINED_TIMESTAMP_SIZE ||
    type === RecordType.RECYCLABLE_PREDECESSOR_WAL_INFO
  );
}

/**
 * How the reader treats a RocksDB record type: 'recyclable' (types 5-8: FULL..LAST with the
 * longer header), 'compressed' (type 9: refused), 'metadata' (types 10, 11 and any type with bit
 * 7 set: skipped) or 'plain' (anything else: as LevelDB reads it).
 */
export function rocksdbTypeKind(type: number): 'recyclable' | 'compressed' | 'metadata' | 'plain' {
  if (type >= RecordType.RECYCLABLE_FULL && type <= RecordType.RECYCLABLE_LAST) return 'recyclable';
  if (type === RecordType.SET_COMPRESSION) return 'compressed';
  if (
    type === RecordType.USER_DEFINED_TIMESTAMP_SIZE ||
    type === RecordType.RECYCLABLE_USER_DEFINED_TIMESTAMP_SIZE ||
    (type & 0x80) !== 0
  ) {
    return 'metadata';
  }
  return 'plain';
}

/** RocksDB names its logs `NNNNNN.log` after their log number. */
export function logNumberFromName(file: string): number | undefined {
  const m = /^(\d+)\.log$/.exec(path.basename(file));
  return m ? Number(m[1]) : undefined;
}

/** A block holds at most this many physical records (7-byte headers, empty payloads). */
const MAX_RECORDS_PER_BLOCK = Math.ceil(BLOCK_SIZE / HEADER_SIZE);
const EMPTY_CRCS = new Uint32Array(0);

/**
 * The CRCs of one block's records, computed with one io call when the block is first parsed and
 * handed out as the reader walks the same records. Anything the walk does not expect just stops
 * the scan; those records get their CRC computed one by one.
 */
export class BlockCrcs {
  private positions = new Int32Array(0);
  private bounds = new Uint32Array(0);
  private count = 0;
  private values: Uint32Array = EMPTY_CRCS;
  private next = 0;
  /** False until `scan` runs for the current block; the reader clears it for each new block. */
  scanned = false;

  constructor(private readonly io: IoBackend) {}

  /** Sizes the arrays for a file of `size` bytes (at most one block's worth). */
  sizeFor(size: number): void {
    const records = Math.min(MAX_RECORDS_PER_BLOCK, Math.ceil(size / HEADER_SIZE) + 1);
    this.positions = new Int32Array(records);
    this.bounds = new Uint32Array(2 * records);
  }

  /** Finds the records of `b[from, to)` the way the reader will walk them and computes their CRCs. */
  scan(b: Uint8Array, from: number, to: number): void {
    this.scanned = true;
    const positions = this.positions;
    const bounds = this.bounds;
    let count = 0;
    let h = from;
    // The arrays were sized to the file when it was opened: in a file that has grown since, records
    // beyond their capacity get their CRC computed one by one (crcAt).
    while (to - h >= HEADER_SIZE && count < positions.length) {
      const length = b[h + 4]! | (b[h + 5]! << 8);
      const type = b[h + 6]!;
      const headerSize = isRecyclable(type) ? RECYCLABLE_HEADER_SIZE : HEADER_SIZE;
      if (headerSize + length > to - h || (type === RecordType.ZERO && length === 0)) break;
      positions[count] = h;
      bounds[2 * count] = h + 6;
      bounds[2 * count + 1] = h + headerSize + length;
      count++;
      h += headerSize + length;
    }
    this.count = count;
    this.next = 0;
    this.values = count > 0 ? sliceCrcs(this.io, b, bounds.subarray(0, 2 * count)) : EMPTY_CRCS;
  }

  /** The CRC of the record whose header is at `b[h]`, from the scan when it covered it. */
  crcAt(b: Uint8Array, h: number, headerSize: number, length: number): number {
    while (this.next < this.count && this.positions[this.next]! < h) this.next++;
    if (this.next < this.count && this.positions[this.next] === h) return this.values[this.next++]!;
    return this.io.crc32c(b.subarray(h + 6, h + headerSize + length));
  }
}
