/**
 * Tells an etcd segment from a LevelDB log by its first bytes, for files whose name says neither
 * (`backup.log`, `wal.bin`): `wal verify backup.log` should not need `--format`.
 *
 * etcd: an 8-byte little-endian frame length, then a walpb.Record whose first field is type = 4
 * (crcType: every segment starts with the CRC carried from the previous one): bytes `08 04`.
 * LevelDB: a 7-byte header (masked CRC-32C, length, type FULL or FIRST; RocksDB's recyclable
 * records have 11 bytes with the log number) whose CRC matches the first fragment.
 */
import * as fs from 'node:fs';
import { crc32c } from '../crc32c';
import { BLOCK_SIZE, HEADER_SIZE, RECYCLABLE_HEADER_SIZE, RecordType, maskCrc } from '../leveldb/format';

export function sniffFormat(file: string): 'etcd' | 'leveldb' | null {
  let head: Buffer;
  let size: number;
  const fd = fs.openSync(file, 'r');
  try {
    size = fs.fstatSync(fd).size;
    head = Buffer.alloc(Math.min(size, BLOCK_SIZE));
    fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (looksLikeEtcd(head, size)) return 'etcd';
  if (looksLikeLevelDB(head)) return 'leveldb';
  return null;
}

function looksLikeEtcd(b: Buffer, size: number): boolean {
  if (b.length < 10) return false;
  const len = b.readUInt32LE(0) + (b.readUInt32LE(4) & 0x00ffffff) * 2 ** 32;
  return len >= 2 && 8 + len <= size && b[8] === 0x08 && b[9] === 0x04;
}

function looksLikeLevelDB(b: Buffer): boolean {
  if (b.length < HEADER_SIZE) return false;
  const type: number = b[6]!;
  const recyclable = type === RecordType.RECYCLABLE_FULL || type === RecordType.RECYCLABLE_FIRST;
  if (type !== RecordType.FULL && type !== RecordType.FIRST && !recyclable) return false;
  const header = recyclable ? RECYCLABLE_HEADER_SIZE : HEADER_SIZE;
  const len = b.readUInt16LE(4);
  if (header + len > b.length) return false;
  // The CRC covers the type byte (and the log number of recyclable records) and the fragment.
  return maskCrc(crc32c(b.subarray(6, header + len))) === b.readUInt32LE(0);
}
