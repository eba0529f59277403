/**
 * Helpers for the CLI tests: run `wal` as a subprocess (same WAL_NATIVE as the test run), build
 * WALs and LevelDB logs with the library, corrupt copies, and hash files to prove read-only.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import type { Entry } from '../../src/etcd/codec';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { encodeWriteBatch, type WriteBatchOp } from '../../src/leveldb/write-batch';
import { tempDir } from './tmp';

const ROOT = path.join(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'src', 'cli', 'main.ts');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from source; no TTY (pipes), colours off unless `env` says otherwise. */
export function wal(args: readonly string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}): CliResult {
  const env: Record<string, string | undefined> = { ...process.env, FORCE_COLOR: undefined, NO_COLOR: undefined, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: env as NodeJS.ProcessEnv,
    encoding: 'utf8',
    input: opts.input ?? '',
    maxBuffer: 64 << 20,
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Parses --json output: every non-empty line must be one JSON object. */
export function jsonLines(stdout: string): Record<string, any>[] {
  return stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const v = JSON.parse(l) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`not an object: ${l}`);
      return v as Record<string, any>;
    });
}

/** sha256 of every file under `p` (a file or a directory), keyed by name. */
export function hashTree(p: string): Record<string, string> {
  const out: Record<string, string> = {};
  const st = fs.statSync(p);
  const files = st.isDirectory() ? fs.readdirSync(p).map((n) => path.join(p, n)) : [p];
  for (const f of files) {
    if (fs.statSync(f).isFile()) out[path.basename(f)] = createHash('sha256').update(fs.readFileSync(f)).digest('hex');
  }
  return out;
}

export const enc = new TextEncoder();

/** Payload of entry i in `makeEtcdWal`. */
export function entryData(i: number): Uint8Array {
  return enc.encode(`entry-${i}:${'x'.repeat(i % 50)}`);
}

/** raftpb.ConfChange{ID: 7, Type: AddNode, NodeID: 2} as gogoproto marshals it. */
export const CONF_CHANGE_ADD_2 = new Uint8Array([0x08, 0x07, 0x10, 0x00, 0x18, 0x02]);

/**
 * An etcd WAL made by the library: metadata "cli-test", `count` entries (entry 5 a conf change),
 * a HardState after each save, a snapshot record at index 10, small segments so there are several.
 */
export async function makeEtcdWal(dir: string, count = 60, segmentSizeBytes = 1024): Promise<void> {
  const w = await WAL.create(dir, enc.encode('cli-test'), { segmentSizeBytes });
  for (let i = 1; i <= count; i++) {
    const e: Entry =
      i === 5
        ? { term: 2n, index: 5n, type: 1, data: CONF_CHANGE_ADD_2 }
        : { term: i < 5 ? 1n : 2n, index: BigInt(i), type: 0, data: entryData(i) };
    await w.save({ term: e.term, vote: 1n, commit: BigInt(i - 1) }, [e]);
    if (i === 10) await w.saveSnapshot({ index: 10n, term: 2n });
  }
  await w.close();
}

/** Batch i of `makeLevelDBLog`: a put of key "k<i>" plus a delete; some values span blocks. */
export function batchOps(i: number): WriteBatchOp[] {
  const value = i % 7 === 3 ? new Uint8Array(40_000).fill(0x61 + (i % 26)) : enc.encode(`value ${i}\n\x00end`);
  return [
    { type: 'put', key: enc.encode(`k${i}`), value },
    { type: 'delete', key: Uint8Array.of(0x00, 0xff, i & 0xff) },
  ];
}

/** A LevelDB log of `count` WriteBatches (sequence 1, 3, 5, ...) written by the library. */
export async function makeLevelDBLog(file: string, count = 20): Promise<void> {
  const w = await LevelDBLogWriter.open(file);
  for (let i = 0; i < count; i++) await w.addRecord(encodeWriteBatch({ sequence: BigInt(2 * i + 1), ops: batchOps(i) }));
  await w.close();
}

/** `makeEtcdWal(count)` in `<fresh temp dir>/wal`: a test's usual start. */
export async function freshEtcdWal(count: number): Promise<{ root: string; dir: string }> {
  const root = tempDir();
  const dir = path.join(root, 'wal');
  await makeEtcdWal(dir, count);
  return { root, dir };
}

/** `makeLevelDBLog(count)` as `<fresh temp dir>/<name>`. */
export async function freshLevelDBLog(name: string, count: number): Promise<{ root: string; file: string }> {
  const root = tempDir();
  const file = path.join(root, name);
  await makeLevelDBLog(file, count);
  return { root, file };
}

/** The .wal segment files of an etcd WAL directory, in order. */
export function etcdSegments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => path.join(dir, n));
}

/** XORs one byte of `file` at `offset`. */
export function flipByte(file: string, offset: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, offset);
    b[0] = b[0]! ^ 0x20;
    fs.writeSync(fd, b, 0, 1, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Copies a WAL directory (or file) to `dest`. */
export function copy(src: string, dest: string): string {
  fs.cpSync(src, dest, { recursive: true });
  return dest;
}

/** Frame starts of an etcd segment file, walked from the length words (independent of the library). */
export function etcdFrames(file: string): { offset: number; length: number; recordBytes: number }[] {
  return etcdFramesIn(fs.readFileSync(file));
}

/** `etcdFrames` of segment bytes already read: the walk stops at the first zero length word. */
export function etcdFramesIn(buf: Buffer): { offset: number; length: number; recordBytes: number }[] {
  const out: { offset: number; length: number; recordBytes: number }[] = [];
  for (let pos = 0; pos + 8 <= buf.length;) {
    const lo = buf.readUInt32LE(pos);
    const hi = buf.readUInt32LE(pos + 4);
    if (lo === 0 && hi === 0) break;
    const n = lo + (hi & 0xffffff) * 2 ** 32;
    const pad = hi & 0x80000000 ? (hi >>> 24) & 7 : 0;
    out.push({ offset: pos, length: 8 + n + pad, recordBytes: n });
    pos += 8 + n + pad;
  }
  return out;
}

/** Physical records of a LevelDB log (offset, payload length, type), walked from the headers. */
export function levelDBFragments(file: string): { offset: number; length: number; type: number }[] {
  const buf = fs.readFileSync(file);
  const out: { offset: number; length: number; type: number }[] = [];
  for (let pos = 0; pos < buf.length;) {
    const left = 32768 - (pos % 32768);
    if (left < 7) {
      pos += left;
      continue;
    }
    if (pos + 7 > buf.length) break;
    const length = buf.readUInt16LE(pos + 4);
    out.push({ offset: pos, length, type: buf[pos + 6]! });
    pos += 7 + length;
  }
  return out;
}
