/**
 * The JSON call scripts shared by the Go harness and our implementation, and a runner that
 * executes a script through our `WAL`, producing results in the harness's shape.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL, type WalOptions } from '../../../src/etcd/wal';
import type { Entry } from '../../../src/etcd/codec';
import { WalError } from '../../../src/errors';

/** null = absent; b64 literal bytes; gen = [seed, length] bytes from `genBytes`. */
export type DataSpec = null | { b64: string } | { gen: [number, number] };

export interface EntrySpec {
  term: string;
  index: string;
  type: number;
  data: DataSpec;
}

export interface StateSpec {
  term: string;
  vote: string;
  commit: string;
}

export type Op =
  | { op: 'create'; dir: string; metadata: DataSpec; segmentSize?: number; noSync?: boolean }
  | { op: 'open' | 'openForRead'; dir: string; index: string; term: string; segmentSize?: number; noSync?: boolean }
  | { op: 'readAll'; fullData?: boolean }
  | { op: 'save'; state: StateSpec; entries: EntrySpec[] }
  | { op: 'saveSnapshot'; index: string; term: string }
  | { op: 'sync' | 'close' | 'waitStdin' }
  | { op: 'releaseLockTo'; index: string }
  | { op: 'repair' | 'validSnapshotEntries' | 'dump'; dir: string }
  | { op: 'verify'; dir: string; index: string; term: string }
  | { op: 'benchSave'; dir: string; entrySize: number; batch: number; saves: number; noSync?: boolean; segmentSize?: number }
  | { op: 'benchReadAll'; dir: string };

export interface EntryResult {
  term: string;
  index: string;
  type: number;
  dataLen: number | null;
  sha?: string;
  b64?: string;
}

export interface FileResult {
  name: string;
  size: number;
  sha: string;
}

/** One op's outcome; `error` is etcd's text (Go) or our WalError code (TS) — compare with `goCode`. */
export interface OpResult {
  op: string;
  error?: string | null;
  ok?: boolean;
  state?: StateSpec;
  count?: number;
  entries?: EntryResult[];
  metadata?: string | null;
  snapshots?: { index: string; term: string }[];
  files?: FileResult[];
  ns?: number;
  cpuNs?: number;
  bytes?: number;
}

/** xorshift32 byte stream, identical to genBytes in harness/main.go. */
export function genBytes(seed: number, n: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function dataOf(d: DataSpec): Uint8Array | null {
  if (d === null) return null;
  if ('b64' in d) return new Uint8Array(Buffer.from(d.b64, 'base64'));
  return genBytes(d.gen[0], d.gen[1]);
}

/** Maps etcd 3.4's error texts onto our WalError codes. */
export function goCode(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  const table: [RegExp, string][] = [
    [/^wal: file not found/, 'ERR_WAL_FILE_NOT_FOUND'],
    [/^wal: snapshot not found/, 'ERR_WAL_SNAPSHOT_NOT_FOUND'],
    [/^wal: snapshot mismatch/, 'ERR_WAL_SNAPSHOT_MISMATCH'],
    [/^wal: crc mismatch/, 'ERR_WAL_CHAIN_MISMATCH'],
    [/^walpb: crc mismatch/, 'ERR_WAL_CRC_MISMATCH'],
    [/^wal: conflicting metadata found/, 'ERR_WAL_METADATA_CONFLICT'],
    [/^wal: slice bounds out of range/, 'ERR_WAL_SLICE_OUT_OF_RANGE'],
    [/^wal: max entry size limit exceeded/, 'ERR_WAL_RECORD_TOO_LARGE'],
    [/^wal: decoder not found/, 'ERR_WAL_DECODER_NOT_FOUND'],
    [/^unexpected EOF/, 'ERR_WAL_UNEXPECTED_EOF'],
    [/^fileutil: file already locked/, 'ERR_WAL_LOCKED'],
    [/file already exists/, 'ERR_WAL_EXISTS'],
    [/^unexpected block type/, 'ERR_WAL_UNEXPECTED_RECORD_TYPE'],
    [/^proto:/, 'ERR_WAL_CORRUPT_RECORD'],
    [/^harness: no open WAL/, 'harness: no open WAL'],
  ];
  for (const [re, code] of table) if (re.test(text)) return code;
  return `OTHER: ${text}`;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export function entriesResult(entries: readonly Entry[], full = false): EntryResult[] {
  return entries.map((e) => {
    const r: EntryResult = {
      term: e.term.toString(),
      index: e.index.toString(),
      type: e.type,
      dataLen: e.data === null ? null : e.data.length,
    };
    if (e.data !== null) {
      r.sha = sha(e.data);
      if (full) r.b64 = Buffer.from(e.data).toString('base64');
    }
    return r;
  });
}

/** Names, sizes and SHA-256 of every file in `dir`, sorted by name. */
export function dumpDir(dir: string): FileResult[] {
  return fs
    .readdirSync(dir)
    .sort()
    .map((name) => {
      const b = fs.readFileSync(path.join(dir, name));
      return { name, size: b.length, sha: sha(b) };
    });
}

function stateOf(s: StateSpec): { term: bigint; vote: bigint; commit: bigint } {
  return { term: BigInt(s.term), vote: BigInt(s.vote), commit: BigInt(s.commit) };
}

function codeOf(err: unknown): string {
  if (err instanceof WalError) return err.code;
  throw err;
}

/** Runs a script through our WAL; results shaped like the harness's (errors as WalError codes). */
export async function runTs(ops: readonly Op[], base: WalOptions = {}): Promise<OpResult[]> {
  const results: OpResult[] = [];
  let w: WAL | null = null;
  let segmentSize: number | undefined;
  let noSync = false;
  const opts = (): WalOptions => ({ ...base, segmentSizeBytes: segmentSize, unsafeNoFsync: noSync });
  for (const op of ops) {
    if (w === null && ['readAll', 'save', 'saveSnapshot', 'sync', 'releaseLockTo', 'close'].includes(op.op)) {
      results.push({ op: op.op, error: 'harness: no open WAL' });
      continue;
    }
    if ('segmentSize' in op && op.segmentSize !== undefined && op.segmentSize > 0) segmentSize = op.segmentSize;
    try {
      switch (op.op) {
        case 'create':
          noSync = op.noSync ?? false;
          w = null;
          w = await WAL.create(op.dir, dataOf(op.metadata), opts());
          results.push({ op: op.op, error: null });
          break;
        case 'open':
        case 'openForRead':
          noSync = op.noSync ?? false;
          w = null;
          w = await (op.op === 'open' ? WAL.open : WAL.openForRead)(op.dir, { index: BigInt(op.index), term: BigInt(op.term) }, opts());
          results.push({ op: op.op, error: null });
          break;
        case 'readAll': {
          let res;
          let error: string | null = null;
          try {
            res = await w!.readAll();
          } catch (err) {
            error = codeOf(err);
            res = (err as { result?: Awaited<ReturnType<WAL['readAll']>> }).result;
          }
          results.push({
            op: op.op,
            error,
            state: res
              ? { term: res.state.term.toString(), vote: res.state.vote.toString(), commit: res.state.commit.toString() }
              : undefined,
            count: res ? res.entries.length : 0,
            entries: res ? entriesResult(res.entries, op.fullData) : [],
            metadata: res && res.metadata !== null ? Buffer.from(res.metadata).toString('base64') : null,
          });
          break;
        }
        case 'save':
          await w!.save(
            stateOf(op.state),
            op.entries.map((e) => ({ term: BigInt(e.term), index: BigInt(e.index), type: e.type, data: dataOf(e.data) })),
          );
          results.push({ op: op.op, error: null });
          break;
        case 'saveSnapshot':
          await w!.saveSnapshot({ index: BigInt(op.index), term: BigInt(op.term) });
          results.push({ op: op.op, error: null });
          break;
        case 'sync':
          await w!.sync();
          results.push({ op: op.op, error: null });
          break;
        case 'releaseLockTo':
          await w!.releaseLockTo(BigInt(op.index));
          results.push({ op: op.op, error: null });
          break;
        case 'close':
          await w!.close();
          w = null;
          results.push({ op: op.op, error: null });
          break;
        case 'repair':
          results.push({ op: op.op, ok: await WAL.repair(op.dir, base) });
          break;
        case 'verify':
          await WAL.verify(op.dir, { index: BigInt(op.index), term: BigInt(op.term) }, base);
          results.push({ op: op.op, error: null });
          break;
        case 'validSnapshotEntries': {
          const snaps = await WAL.validSnapshotEntries(op.dir, base);
          results.push({ op: op.op, error: null, snapshots: snaps.map((s) => ({ index: s.index.toString(), term: s.term.toString() })) });
          break;
        }
        case 'dump':
          results.push({ op: op.op, files: dumpDir(op.dir) });
          break;
        default:
          throw new Error(`op ${op.op} is not supported by runTs`);
      }
    } catch (err) {
      results.push({ op: op.op, error: codeOf(err) });
    }
  }
  if (w !== null) await w.close().catch(() => undefined);
  return results;
}
