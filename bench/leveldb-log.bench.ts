/**
 * LevelDB log throughput: our writer and reader on the native backend and on the pure-TS fallback,
 * against LevelDB 1.23's own log::Writer / log::Reader (Debian libleveldb.a, through the interop
 * harness, timed inside its process). 100 B and 4 KiB records, no fsync (pure format + write cost).
 * Before timing, the file each writer produced is checked byte-identical to LevelDB's.
 * Prints a markdown table of medians (BENCH_RUNS, default 5).
 *
 *   npm run bench leveldb
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createFallbackBackend } from '../src/io/fallback';
import { loadNativeBackend } from '../src/io/native';
import type { IoBackend } from '../src/io/types';
import { LevelDBLogWriter } from '../src/leveldb/writer';
import { readLevelDBLog } from '../src/leveldb/reader';
import { levelDBBenchRead, levelDBBenchWrite } from '../test/interop/leveldb/harness';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-bench-ldb-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

const loaded = loadNativeBackend();
const backends: [string, IoBackend][] = [['fallback', createFallbackBackend('bench')]];
if (loaded.backend) backends.unshift(['native', loaded.backend]);
else console.log(`(native addon unavailable: ${loaded.error})`);

/** The same record contents as harness.cc's bench-write. */
function record(size: number): Uint8Array {
  const r = new Uint8Array(size);
  for (let i = 0; i < size; i++) r[i] = (i * 131 + 7) & 0xff;
  return r;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function timeIt(fn: () => Promise<void> | void): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start);
}

async function ourWrite(io: IoBackend, file: string, rec: Uint8Array, count: number, batch: number): Promise<void> {
  fs.rmSync(file, { force: true });
  const writer = await LevelDBLogWriter.open(file, { io });
  if (batch === 0) {
    for (let i = 0; i < count; i++) writer.addRecordSync(rec);
  } else if (batch === 1) {
    for (let i = 0; i < count; i++) await writer.addRecord(rec);
  } else {
    const records = new Array<Uint8Array>(batch).fill(rec);
    for (let i = 0; i < count; i += batch) await writer.addRecords(i + batch <= count ? records : records.slice(0, count - i));
  }
  await writer.close();
}

async function ourRead(io: IoBackend, file: string, batched: boolean): Promise<number> {
  let n = 0;
  const reader = readLevelDBLog(file, { io });
  if (batched) {
    for await (const records of reader.batches()) for (const { data } of records) n += data.length;
  } else {
    for await (const { data } of reader) n += data.length;
  }
  return n;
}

type Row = { what: string; size: number; count: number; results: Record<string, number> }; // ns per run

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const [size, count] of [
    [100, 200_000],
    [4096, 20_000],
  ] as const) {
    const rec = record(size);
    const theirs = path.join(dir, `leveldb-${size}.log`);
    const ours = path.join(dir, `ours-${size}.log`);
    const write: Record<string, number[]> = { LevelDB: [] };
    const read: Record<string, number[]> = { LevelDB: [] };
    for (let run = 0; run < RUNS; run++) {
      write['LevelDB']!.push(levelDBBenchWrite(theirs, size, count));
      for (const [name, io] of backends) {
        for (const batch of [0, 1, 1000]) {
          const label = `${name}, ${batch === 0 ? 'addRecordSync each' : batch === 1 ? 'await addRecord each' : 'addRecords x1000'}`;
          (write[label] ??= []).push(await timeIt(() => ourWrite(io, ours, rec, count, batch)));
          if (run === 0) assert.ok(fs.readFileSync(ours).equals(fs.readFileSync(theirs)), `${label}: bytes differ from LevelDB's`);
        }
      }
      const leveldbRead = levelDBBenchRead(theirs);
      assert.equal(leveldbRead.records, count);
      read['LevelDB']!.push(leveldbRead.ns);
      for (const [name, io] of backends) {
        for (const batched of [false, true]) {
          let bytes = 0;
          const label = `${name}, ${batched ? 'batches()' : 'for await each record'}`;
          (read[label] ??= []).push(await timeIt(async () => void (bytes = await ourRead(io, theirs, batched))));
          assert.equal(bytes, size * count);
        }
      }
    }
    for (const [what, runs] of [
      ['write', write],
      ['read', read],
    ] as const) {
      const results: Record<string, number> = {};
      for (const [label, ns] of Object.entries(runs)) results[label] = median(ns);
      rows.push({ what, size, count, results });
    }
  }

  // Durable commits: every record must be on disk before its producer continues.
  const SYNC_COUNT = Number(process.env['BENCH_SYNC_RECORDS'] ?? 2000);
  const PRODUCERS = 64;
  const rec = record(100);
  const durable: Record<string, number[]> = { 'LevelDB, Sync() after each AddRecord': [] };
  for (let run = 0; run < RUNS; run++) {
    durable['LevelDB, Sync() after each AddRecord']!.push(levelDBBenchWrite(path.join(dir, 'sync.theirs'), 100, SYNC_COUNT, true));
    for (const [name, io] of backends) {
      const file = path.join(dir, `sync-${name}.log`);
      for (const producers of [1, PRODUCERS]) {
        const label = `${name}, ${producers === 1 ? 'await addRecord(r, {sync}) each' : `${PRODUCERS} concurrent producers (group commit)`}`;
        fs.rmSync(file, { force: true });
        const writer = await LevelDBLogWriter.open(file, { io });
        (durable[label] ??= []).push(
          await timeIt(() =>
            Promise.all(
              Array.from({ length: producers }, async (_, p) => {
                for (let i = p; i < SYNC_COUNT; i += producers) await writer.addRecord(rec, { sync: true });
              }),
            ).then(() => undefined),
          ),
        );
        await writer.close();
        assert.equal(fs.statSync(file).size, fs.statSync(path.join(dir, 'sync.theirs')).size);
      }
    }
  }

  console.log(`${os.cpus()[0]?.model} x${os.cpus().length}, Node ${process.version}, ${new Date().toISOString()}, files in ${os.tmpdir()}`);
  console.log(`median of ${RUNS} runs; MB/s = 10^6 payload bytes per second; k rec/s = thousands of records per second\n`);
  console.log('| operation | record | implementation | MB/s | k rec/s | vs LevelDB |');
  console.log('|---|---:|---|---:|---:|---:|');
  for (const row of rows) {
    const base = row.results['LevelDB']!;
    for (const [label, ns] of Object.entries(row.results)) {
      const mbs = (row.size * row.count * 1e3) / ns;
      const krs = (row.count * 1e6) / ns;
      console.log(`| ${row.what} | ${row.size} B | ${label} | ${mbs.toFixed(0)} | ${krs.toFixed(0)} | ${(base / ns).toFixed(2)}x |`);
    }
  }
  console.log(`\nDurable: ${SYNC_COUNT} records of 100 B, each acknowledged only after fdatasync\n`);
  console.log('| implementation | commits/s | vs LevelDB |');
  console.log('|---|---:|---:|');
  const syncBase = median(durable['LevelDB, Sync() after each AddRecord']!);
  for (const [label, ns] of Object.entries(durable)) {
    console.log(`| ${label} | ${((SYNC_COUNT * 1e9) / median(ns)).toFixed(0)} | ${(syncBase / median(ns)).toFixed(2)}x |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
