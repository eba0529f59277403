/**
 * Builds (once, cached by source hash) and drives harness.cc: LevelDB 1.23's own log::Writer,
 * log::Reader and DB from Debian's static libleveldb.a (package libleveldb-dev).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SOURCE = path.join(__dirname, 'harness.cc');
const CACHE = path.join(__dirname, '..', '.cache', 'leveldb');
const LIBDIR = '/usr/lib/x86_64-linux-gnu';

/** Path of the compiled harness; compiles it when the source changed. Throws if libleveldb-dev is missing. */
export function harnessPath(): string {
  const source = fs.readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const binary = path.join(CACHE, `harness-${hash}`);
  if (fs.existsSync(binary)) return binary;
  const lib = path.join(LIBDIR, 'libleveldb.a');
  if (!fs.existsSync(lib)) {
    throw new Error(`${lib} not found: install Debian libleveldb-dev (scripts/install-system-deps.sh)`);
  }
  fs.mkdirSync(CACHE, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  execFileSync('g++', ['-O2', '-std=c++17', '-o', tmp, SOURCE, lib, path.join(LIBDIR, 'libsnappy.so.1'), '-lpthread'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  fs.renameSync(tmp, binary);
  return binary;
}

function run(args: string[], input: Uint8Array | string = ''): string {
  const result = spawnSync(harnessPath(), args, { input: typeof input === 'string' ? Buffer.from(input) : input, maxBuffer: 1 << 30 });
  if (result.status !== 0) {
    throw new Error(`harness ${args.join(' ')} exited ${result.status}: ${result.stderr?.toString()}`);
  }
  return result.stdout.toString('latin1');
}

function lengthPrefixed(records: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(r.length);
    parts.push(len, Buffer.from(r.buffer, r.byteOffset, r.byteLength));
  }
  return Buffer.concat(parts);
}

/** Writes `records` with LevelDB's log::Writer: a new file, or appended at the file's size. */
export function levelDBWrite(file: string, records: readonly Uint8Array[], mode: 'new' | 'append'): void {
  run(['write', file, mode], lengthPrefixed(records));
}

/** What LevelDB's log::Reader returned for one file. */
export interface LevelDBReadResult {
  records: { offset: number; length: number; hash: string }[];
  reports: { bytes: number; reason: string }[];
}

/** Reads many files with LevelDB's log::Reader in one process. */
export function levelDBReadMany(jobs: readonly { file: string; checksum: boolean; initialOffset: number }[]): LevelDBReadResult[] {
  const input = jobs.map((j) => `${j.file} ${j.checksum ? 1 : 0} ${j.initialOffset}\n`).join('');
  const results: LevelDBReadResult[] = [];
  let current: LevelDBReadResult | null = null;
  for (const line of run(['readmany'], input).split('\n')) {
    if (line === 'F') current = { records: [], reports: [] };
    else if (line === 'E') results.push(current!);
    else if (line.startsWith('R ')) {
      const [, offset, length, hash] = line.split(' ');
      current!.records.push({ offset: Number(offset), length: Number(length), hash: hash! });
    } else if (line.startsWith('C ')) {
      const m = /^C (\d+) Corruption: (.*)$/.exec(line);
      if (!m) throw new Error(`unexpected report line: ${line}`);
      current!.reports.push({ bytes: Number(m[1]), reason: m[2]! });
    }
  }
  if (results.length !== jobs.length) throw new Error(`harness answered ${results.length} of ${jobs.length} files`);
  return results;
}

/** One WriteBatch for `levelDBPut`. */
export type BatchOps = ({ type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'delete'; key: Uint8Array })[];

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Opens (creating) a real LevelDB database at `dir` and applies each batch with DB::Write. */
export function levelDBPut(dir: string, batches: readonly BatchOps[]): void {
  const lines = batches.map(
    (ops) => ops.map((op) => (op.type === 'put' ? `p:${hex(op.key)}:${hex(op.value)}` : `d:${hex(op.key)}`)).join(' ') + '\n',
  );
  run(['dbput', dir], lines.join(''));
}

/** Opens the database with DB::Open (recovering its log) and returns every key/value and the status. */
export function levelDBDump(dir: string, paranoid: boolean): { entries: [string, string][]; status: string } {
  const entries: [string, string][] = [];
  let status = '';
  for (const line of run(['dbdump', dir, paranoid ? '1' : '0']).split('\n')) {
    if (line.startsWith('K ')) {
      const [, k, v] = line.split(' ');
      entries.push([k!, v ?? '']);
    } else if (line.startsWith('S ')) status = line.slice(2);
  }
  return { entries, status };
}

/** LevelDB's own writer/reader throughput, measured inside the harness process. */
export function levelDBBenchWrite(file: string, size: number, count: number, sync = false): number {
  return Number(run(['bench-write', file, String(size), String(count), sync ? '1' : '0']).trim());
}

export function levelDBBenchRead(file: string): { records: number; bytes: number; ns: number } {
  const [records, bytes, ns] = run(['bench-read', file]).trim().split(' ').map(Number);
  return { records: records!, bytes: bytes!, ns: ns! };
}

/** FNV-1a 64 of `data`, as the harness prints it (16 hex digits); 32-bit halves for speed. */
export function fnv64(data: Uint8Array): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < data.length; i++) {
    lo ^= data[i]!;
    // h * (2^40 + 0x1b3) mod 2^64
    const l = (lo >>> 0) * 0x1b3;
    const carry = Math.floor(l / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + ((lo << 8) >>> 0) + carry) >>> 0;
    lo = l >>> 0;
  }
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}
