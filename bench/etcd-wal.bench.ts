/**
 * etcd WAL throughput: our WAL on the native backend and on the pure-TS fallback, against etcd
 * 3.4.23's own wal package (the Go interop harness, timed inside its process), in one run.
 *  - save: 1 KiB entries, 100 per Save, with fdatasync (MustSync) and with unsafeNoFsync;
 *    default 64,000,000-byte segments, so cuts and preallocation are included.
 *  - readAll: openForRead + readAll of a large WAL (ETCD_BENCH_READ_MB, default 256 MB), page cache warm.
 * Before timing, the directory each save run produced is checked byte-identical to etcd's.
 * Prints a markdown table of medians (BENCH_RUNS, default 3). ETCD_BENCH_WORK=sync,nosync,readAll picks rows.
 *
 *   npm run bench etcd
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createFallbackBackend } from '../src/io/fallback';
import { loadNativeBackend } from '../src/io/native';
import type { IoBackend } from '../src/io/types';
import { WAL } from '../src/etcd/wal';
import type { Entry } from '../src/etcd/codec';
import { runGo } from '../test/interop/etcd/harness';
import { dumpDir, genBytes } from '../test/interop/etcd/script';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const READ_MB = Number(process.env['ETCD_BENCH_READ_MB'] ?? 256);
/** Which rows to run: any of sync,nosync,readAll (default all). */
const WORK = new Set((process.env['ETCD_BENCH_WORK'] ?? 'sync,nosync,readAll').split(','));
const ENTRY = 1024;
const BATCH = 100;
/** One 1 KiB entry frame is 1056 bytes (length word, record header, entry header, padding) for these indexes. */
const FRAME_BYTES = 1056;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-bench-etcd-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));

const loaded = loadNativeBackend();
const backends: [string, IoBackend][] = [['fallback', createFallbackBackend('bench')]];
if (loaded.backend) backends.unshift(['native', loaded.backend]);
else console.log(`(native addon unavailable: ${loaded.error})`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The same batches as the harness's benchSave: data genBytes(1, 1024), state {1, 1, s*batch+1}. */
function batches(saves: number): Entry[][] {
  const data = genBytes(1, ENTRY);
  let index = 0n;
  return Array.from({ length: saves }, () => Array.from({ length: BATCH }, () => ({ term: 1n, index: ++index, type: 0, data })));
}

/** Wall-clock and CPU time (all threads of the process: user + system) of one timed run, in ns. */
interface Timing {
  ns: number;
  cpu: number;
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

async function ourSave(io: IoBackend, dir: string, saves: number, noSync: boolean): Promise<Timing> {
  fs.rmSync(dir, { recursive: true, force: true });
  const bs = batches(saves);
  const w = await WAL.create(dir, new TextEncoder().encode('bench'), { io, unsafeNoFsync: noSync });
  const c0 = cpuNow();
  const start = process.hrtime.bigint();
  for (let s = 0; s < bs.length; s++) await w.save({ term: 1n, vote: 1n, commit: BigInt(s * BATCH + 1) }, bs[s]!);
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = cpuNow() - c0;
  await w.close();
  return { ns, cpu };
}

function goSave(dir: string, saves: number, noSync: boolean): Timing {
  fs.rmSync(dir, { recursive: true, force: true });
  const [r] = runGo([{ op: 'benchSave', dir, entrySize: ENTRY, batch: BATCH, saves, noSync }], 600_000);
  return { ns: r!.ns!, cpu: r!.cpuNs! };
}

async function ourReadAll(io: IoBackend, dir: string): Promise<Timing & { count: number }> {
  const c0 = cpuNow();
  const start = process.hrtime.bigint();
  const w = await WAL.openForRead(dir, { index: 0n, term: 0n }, { io });
  const res = await w.readAll();
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = cpuNow() - c0;
  await w.close();
  return { ns, cpu, count: res.entries.length };
}

const comparable = (d: string) => dumpDir(d).filter((f) => !f.name.endsWith('.lock') && !f.name.endsWith('.tmp'));

async function main(): Promise<void> {
  const rows: string[] = [];
  const impls = [...backends.map(([n]) => n), 'etcd (Go)'];
  rows.push(
    `| work | ${impls.join(' | ')} | ${impls
      .slice(0, -1)
      .map((n) => `${n} / etcd`)
      .join(' | ')} |`,
  );
  rows.push(
    `|---|${impls.map(() => '---:').join('|')}|${impls
      .slice(0, -1)
      .map(() => '---:')
      .join('|')}|`,
  );
  /** One table row: throughput from the median wall time, and CPU ms (median) in brackets. */
  const row = (label: string, bytes: number, results: Record<string, Timing[]>): string => {
    const med = Object.fromEntries(impls.map((n) => [n, median(results[n]!.map((t) => t.ns))]));
    const cpu = Object.fromEntries(impls.map((n) => [n, median(results[n]!.map((t) => t.cpu))]));
    const mbps = (ns: number): number => bytes / 1e6 / (ns / 1e9);
    const cells = impls.map(
      (n) => `${mbps(med[n]!).toFixed(0)} MB/s (${(med[n]! / 1e6).toFixed(0)} ms; CPU ${(cpu[n]! / 1e6).toFixed(0)} ms)`,
    );
    const ratios = impls
      .slice(0, -1)
      .map((n) => `${(mbps(med[n]!) / mbps(med['etcd (Go)']!)).toFixed(2)}x (CPU ${(cpu['etcd (Go)']! / cpu[n]!).toFixed(2)}x)`);
    return `| ${label} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`;
  };

  for (const [label, saves, noSync] of [
    ['save, 1 KiB x 100 per Save, fdatasync', 300, false],
    ['save, 1 KiB x 100 per Save, unsafeNoFsync', 1500, true],
  ] as const) {
    if (!WORK.has(noSync ? 'nosync' : 'sync')) continue;
    const goDir = path.join(root, 'go-save', 'wal');
    goSave(goDir, Math.min(saves, 50), noSync);
    const reference = comparable(goDir);
    const results: Record<string, Timing[]> = {};
    for (const [name, io] of backends) {
      const d = path.join(root, `${name}-save`, 'wal');
      await ourSave(io, d, Math.min(saves, 50), noSync);
      assert.deepEqual(comparable(d), reference, `${name}: bytes differ from etcd's`);
    }
    for (let run = 0; run < RUNS; run++) {
      for (const [name, io] of backends)
        (results[name] ??= []).push(await ourSave(io, path.join(root, `${name}-save`, 'wal'), saves, noSync));
      (results['etcd (Go)'] ??= []).push(goSave(goDir, saves, noSync));
    }
    rows.push(row(`${label} (${saves * BATCH} entries, payload MB/s)`, saves * BATCH * ENTRY, results));
  }

  // readAll of a large WAL written by etcd itself (no fsync, to build it quickly).
  if (!WORK.has('readAll')) {
    console.log(
      `etcd WAL, medians of ${RUNS} runs, ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${os.cpus().length} CPUs, ${root}\n`,
    );
    console.log(rows.join('\n'));
    return;
  }
  const big = path.join(root, 'big', 'wal');
  const saves = Math.ceil((READ_MB * 1e6) / (ENTRY * BATCH));
  goSave(big, saves, true);
  const onDisk = fs.readdirSync(big).reduce((s, n) => s + fs.statSync(path.join(big, n)).size, 0);
  const results: Record<string, Timing[]> = {};
  let count = 0;
  for (let run = 0; run <= RUNS; run++) {
    for (const [name, io] of backends) {
      const r = await ourReadAll(io, big);
      count = r.count;
      if (run > 0) (results[name] ??= []).push(r); // run 0 warms the page cache and the JIT
    }
    const [g] = runGo([{ op: 'benchReadAll', dir: big }], 600_000);
    assert.equal(g!.count, count);
    if (run > 0) (results['etcd (Go)'] ??= []).push({ ns: g!.ns!, cpu: g!.cpuNs! });
  }
  // Throughput counts the WAL's content (frames), not the preallocated zero tail.
  rows.push(
    row(
      `readAll, ${((count * FRAME_BYTES) / 1e6).toFixed(0)} MB of frames, ${(onDisk / 1e6).toFixed(0)} MB on disk (${count} entries of 1 KiB)`,
      count * FRAME_BYTES,
      results,
    ),
  );

  console.log(
    `etcd WAL, medians of ${RUNS} runs, ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${os.cpus().length} CPUs, ${root}\n`,
  );
  console.log(rows.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
