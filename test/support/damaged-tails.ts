/**
 * Damage of every kind applied to a directory the Log wrote, shared by the unit test (Log.open,
 * WAL.open, WAL.repair and the `wal` CLI agree) and the interop test (etcd's own Repair and
 * Open agree with them). Each case says what etcd's rules decide (spec §7.2-§8): 'cut' — a torn
 * or truncated last record of the last segment, which Repair cuts; 'clean' — the data ends
 * where a zero length word is (etcd's end mark), nothing to repair; otherwise the WalError code
 * that makes etcd refuse. The interop suite checks every expectation against etcd 3.4.23.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseWalName } from '../../src/etcd/segments';
import { WalError } from '../../src/errors';
import { Log } from '../../src/log/log';
import { genBytes } from '../interop/etcd/script';
import { etcdFrames, etcdSegments } from './cli-helpers';

export type Decision = 'cut' | 'clean' | string;

/** One frame of a segment: offset of its length word and its whole length. */
export interface Frame {
  offset: number;
  length: number;
}

export interface DamageCase {
  name: string;
  /** What Log.open, `wal repair` and `wal verify` decide for these bytes (etcd's rules unless `etcd` says otherwise). */
  expect: Decision;
  /** Where etcd (and WAL, its mirror) decides otherwise, deliberately: what it decides. */
  etcd?: Decision;
  /** Last entry index a reader sees afterwards (for 'cut' and 'clean'). */
  lastIndex?: number;
  damage(dir: string): void;
}

export const RECORDS = 40;
export const SEGMENT_SIZE = 16 * 1024;
/** Record i's payload: 700 bytes, so records cross 512-byte sectors. */
export const payload = (i: number): Buffer => Buffer.alloc(700, `record ${i};`);

/** A closed Log directory with RECORDS entries over several segments. */
export async function writeLogDir(dir: string): Promise<void> {
  const log = await Log.open(dir, { segmentSize: SEGMENT_SIZE });
  for (let i = 1; i <= RECORDS; i++) await log.append(payload(i));
  await log.close();
}

/** The segment files of `dir`, in order (cli-helpers' etcdSegments, under this file's name). */
export const walFiles = etcdSegments;

/** The frames of a segment (offset and whole length), walked from the length words. */
export const frames = (file: string): Frame[] => etcdFrames(file);

/** Deterministic bytes that are not a frame. */
export const garbage = (n: number, seed: number): Buffer => Buffer.from(genBytes(seed, n));

function edit(file: string, fn: (b: Buffer) => void): void {
  const b = fs.readFileSync(file);
  fn(b);
  fs.writeFileSync(file, b);
}

const tail = (dir: string): string => walFiles(dir).at(-1)!;
const lastFrame = (file: string): Frame => frames(file).at(-1)!;
/** Edits the tail segment of a writeLogDir directory, whose entries start at 24 (lastIndex 23 when it is lost). */
function editTailHeader(dir: string, fn: (b: Buffer) => void): void {
  const f = tail(dir);
  assert.equal(parseWalName(path.basename(f))?.index, 24n, 'writeLogDir put entries 24.. in the tail');
  edit(f, fn);
}
/** Entries in the segments before the tail plus the tail's own, minus `lost` at the end. */
const keptBefore = (lost: number): number => RECORDS - lost;

export const DAMAGE_CASES: DamageCase[] = [
  {
    name: 'torn write: the last record ends in a zeroed sector',
    expect: 'cut',
    lastIndex: keptBefore(1),
    damage(dir) {
      const f = tail(dir);
      const fr = lastFrame(f);
      // etcd's isTornEntry: a piece of the record, split at 512-byte file offsets, that is all zeros
      const end = fr.offset + fr.length;
      const from = Math.max(fr.offset + 8, Math.floor((end - 1) / 512) * 512);
      edit(f, (b) => b.fill(0, from, end));
    },
  },
  {
    name: 'torn write: the file ends inside the last record',
    expect: 'cut',
    lastIndex: keptBefore(1),
    damage(dir) {
      const f = tail(dir);
      fs.truncateSync(f, lastFrame(f).offset + 100);
    },
  },
  {
    name: 'a length word below the limit that runs past the end of the file',
    expect: 'cut',
    lastIndex: keptBefore(1),
    damage(dir) {
      const f = tail(dir);
      edit(f, (b) => b.writeBigUInt64LE(5n << 20n, lastFrame(f).offset));
    },
  },
  {
    name: 'garbage (8 KiB of random bytes) over the last record',
    expect: 'ERR_WAL_RECORD_TOO_LARGE',
    damage(dir) {
      const f = tail(dir);
      const at = lastFrame(f).offset;
      edit(f, (b) => garbage(Math.min(8192, b.length - at), 7).copy(b, at));
    },
  },
  {
    name: 'garbage over the whole start of the tail segment (its first record)',
    expect: 'ERR_WAL_RECORD_TOO_LARGE',
    damage(dir) {
      edit(tail(dir), (b) => garbage(8192, 11).copy(b, 0));
    },
  },
  {
    name: 'a bit flip inside the last record',
    expect: 'ERR_WAL_CRC_MISMATCH',
    damage(dir) {
      const f = tail(dir);
      const fr = lastFrame(f);
      edit(f, (b) => (b[fr.offset + fr.length - 40]! ^= 0x10));
    },
  },
  {
    name: 'a huge length word (2^55) at the last record',
    expect: 'ERR_WAL_RECORD_TOO_LARGE',
    damage(dir) {
      const f = tail(dir);
      edit(f, (b) => b.writeBigUInt64LE(1n << 55n, lastFrame(f).offset));
    },
  },
  {
    name: "the last record's length word zeroed (etcd's end-of-data mark)",
    expect: 'clean',
    lastIndex: keptBefore(1),
    damage(dir) {
      const f = tail(dir);
      edit(f, (b) => b.fill(0, lastFrame(f).offset, lastFrame(f).offset + 8));
    },
  },
  {
    // The segment's own header: what a disk error, not a crash, does to a segment (the header is
    // synced before the segment is renamed into place). etcd reads the tail as empty and its Open
    // zeroes the records after the header; Log.open and `wal repair` refuse, keeping them.
    name: "the tail segment's first length word zeroed (its header)",
    expect: 'ERR_WAL_CHAIN_MISMATCH',
    etcd: 'clean',
    lastIndex: 23,
    damage: (dir) => editTailHeader(dir, (b) => b.fill(0, 0, 8)),
  },
  {
    // The header torn (a length word below the limit running past the end of the file): etcd's
    // Repair cuts the whole segment to 0 bytes; Log.open and `wal repair` refuse it, as above.
    name: "the tail segment's first frame runs past the end of the file (its header torn)",
    expect: 'ERR_WAL_CHAIN_MISMATCH',
    etcd: 'cut',
    lastIndex: 23,
    damage: (dir) => editTailHeader(dir, (b) => void b.writeBigUInt64LE(5n << 20n, 0)),
  },
  {
    name: 'a bit flip in a segment before the tail',
    expect: 'ERR_WAL_CRC_MISMATCH',
    damage(dir) {
      const f = walFiles(dir)[0]!;
      const fr = frames(f).at(-1)!;
      edit(f, (b) => (b[fr.offset + fr.length - 40]! ^= 0x01));
    },
  },
  {
    name: 'a huge length word (2^55) mid-log, in a segment before the tail',
    expect: 'ERR_WAL_RECORD_TOO_LARGE',
    damage(dir) {
      const f = walFiles(dir)[0]!;
      edit(f, (b) => b.writeBigUInt64LE(1n << 55n, frames(f).at(-1)!.offset));
    },
  },
];

/** sha256 of every file in `dir` but the fallback's lock files (an open creates one, close removes it). */
export function treeBytes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of fs.readdirSync(dir).sort()) {
    const f = path.join(dir, n);
    if (n.endsWith('.lock') || fs.statSync(f, { throwIfNoEntry: false })?.isFile() !== true) continue;
    out[n] = createHash('sha256').update(fs.readFileSync(f)).digest('hex');
  }
  return out;
}

/** Log.open's decision on `dir`: 'cut' (it repaired the tail), 'clean', or the code it refused with; and the entries it then holds. */
export async function logDecision(dir: string): Promise<{ decision: Decision; entries?: Buffer[] }> {
  let log: Log;
  try {
    log = await Log.open(dir, { segmentSize: SEGMENT_SIZE, mustExist: true });
  } catch (err) {
    if (!(err instanceof WalError)) throw err;
    assert.ok(err.file !== undefined && err.offset !== undefined, `${err.code} names a file and an offset: ${err.message}`);
    return { decision: err.code };
  }
  try {
    const entries: Buffer[] = [];
    for await (const e of log.entries()) entries.push(Buffer.from(e.data));
    return { decision: log.stats().repaired === null ? 'clean' : 'cut', entries };
  } finally {
    await log.close();
  }
}

/** The entries a reader must see after a 'cut' or 'clean' case. */
export const expectedEntries = (c: DamageCase): Buffer[] => Array.from({ length: c.lastIndex! }, (_, k) => payload(k + 1));
