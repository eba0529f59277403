/**
 * Durable ingestion: P concurrent producers, each awaiting its append before the next, with records
 * of S bytes. Every contender runs in a fresh child process (fallback: WAL_NATIVE=0):
 *   log-native    Log with its defaults (syncPolicy 'always', preallocation 'auto'), addon backend
 *   log-native-zero-fill  the same with preallocation 'zero-fill' (every segment zero-filled)
 *   log-native-fallocate  the same with preallocation 'fallocate' (etcd's way)
 *   log-native-threadpool the same with syncThread 'threadpool': batches on libuv's threadpool instead
 *                 of the tail file's own I/O thread (the default before 2026-11-22)
 *   log-native-direct     the same with direct: true (O_DIRECT tail)
 *   log-fallback  Log, syncPolicy 'always', node:fs backend
 *   raw-fs        the floor: the same coalescing by hand — all appends pending when the loop turns
 *                 are concatenated, written with one writevSync into a zero-filled file and
 *                 fdatasyncSync'd; no framing, no CRC, no index (blocks the event loop)
 *   raw-fs-async  the same floor with fs.writev + fs.fdatasync on the threadpool, as Log does
 *   raw-fs-append the raw-fs floor (blocking) appending to a fresh file instead of overwriting a
 *                 zero-filled one in a circle: every byte in new space, as a log that keeps its data
 *   sqlite        better-sqlite3, WAL mode, synchronous=FULL, one transaction per append
 *   level         classic-level, put with { sync: true } (LevelDB's own writer queue coalesces)
 * Reports records/s, per-append latency p50/p99 (µs) and the mean records per sync where known:
 * the median of `repeats` runs per cell, the contenders of a cell taking turns (round-robin), so
 * that disk contention from other jobs on a shared machine hits them alike.
 *
 *   node --import tsx bench/log-ingest.bench.ts [seconds=1] [contenders=all] [sizes=100,1024] [producers=1,16,256] [repeats=3]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { Log } from '../src/log/log';

/** The slice of better-sqlite3's API used here (the package ships no types; @types is not installed). */
interface SqliteDatabase {
  pragma(source: string): unknown;
  exec(source: string): void;
  prepare(source: string): { run(...params: unknown[]): unknown };
  close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Database = require('better-sqlite3') as new (file: string) => SqliteDatabase;

interface CellResult {
  contender: string;
  size: number;
  producers: number;
  recordsPerSec: number;
  p50: number;
  p99: number;
  perSync: number | null;
  note?: string;
}

const CONTENDERS = [
  'log-native',
  'log-native-zero-fill',
  'log-native-fallocate',
  'log-native-threadpool',
  'log-native-direct',
  'log-fallback',
  'raw-fs',
  'raw-fs-async',
  'raw-fs-append',
  'sqlite',
  'level',
] as const;
type Contender = (typeof CONTENDERS)[number];

/** Runs `producers` loops of `append` for `seconds` (after a short warm-up); returns throughput and latencies. */
async function drive(
  append: (data: Buffer) => Promise<unknown>,
  size: number,
  producers: number,
  seconds: number,
): Promise<{ recordsPerSec: number; p50: number; p99: number; count: number }> {
  const data = Buffer.alloc(size, 0x61);
  let lat = new Float64Array(1 << 20);
  let n = 0;
  let measuring = false;
  let stop = false;
  const loop = async (): Promise<void> => {
    while (!stop) {
      const t0 = performance.now();
      await append(data);
      if (measuring) {
        if (n === lat.length) {
          const bigger = new Float64Array(lat.length * 2);
          bigger.set(lat);
          lat = bigger;
        }
        lat[n++] = (performance.now() - t0) * 1000;
      }
    }
  };
  const loops = Array.from({ length: producers }, loop);
  await new Promise((r) => setTimeout(r, 200));
  measuring = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - start) / 1000;
  stop = true;
  await Promise.all(loops);
  const sorted = lat.subarray(0, n).sort();
  const q = (p: number): number => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(p * n))]!);
  return { recordsPerSec: n / elapsed, p50: q(0.5), p99: q(0.99), count: n };
}

async function runLog(
  dir: string,
  size: number,
  producers: number,
  seconds: number,
  preallocation: 'auto' | 'zero-fill' | 'fallocate',
  syncThread: 'dedicated' | 'threadpool' = 'dedicated',
  direct = false,
): Promise<Omit<CellResult, 'contender'>> {
  const log = await Log.open(dir, { preallocation, syncThread, direct });
  const r = await drive((d) => log.append(d), size, producers, seconds);
  const s = log.stats();
  await log.close();
  return { size, producers, ...r, perSync: s.appends / Math.max(1, s.fsyncs), note: `${s.backend}${s.direct ? ', O_DIRECT' : ''}` };
}

/** The floor: group commit by hand, sync syscalls, no format at all. */
/**
 * The hand-made floor. `offThread` false: writevSync + fdatasyncSync on the JS thread (blocks the
 * event loop, which Log never does). `offThread` true: the same coalescing with fs.writev + fs.fdatasync
 * on the threadpool, one batch in flight, later appends queued for the next — the floor on Log's terms.
 */
async function runRawFs(
  dir: string,
  size: number,
  producers: number,
  seconds: number,
  offThread = false,
  growing = false,
): Promise<Omit<CellResult, 'contender'>> {
  const file = path.join(dir, 'raw.log');
  // growing: a fresh file that only grows (every byte lands in new space, as in a log that keeps
  // its data). Otherwise a 64 MB zero-filled file, prepared before timing and overwritten in a
  // circle: the cheapest fdatasync there is, but a log could not keep its data that way.
  const fileSize = growing ? Number.MAX_SAFE_INTEGER : 64 * 1024 * 1024;
  const fd = fs.openSync(file, 'w+', 0o600);
  if (!growing) {
    const zeros = Buffer.alloc(1024 * 1024);
    for (let at = 0; at < fileSize; at += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, at);
  }
  fs.fdatasyncSync(fd);
  let pendingData: Buffer[] = [];
  let pendingDone: (() => void)[] = [];
  let scheduled = false;
  let pos = 0;
  let syncs = 0;
  let records = 0;
  let inFlight = false;
  const flushOffThread = (): void => {
    scheduled = false;
    if (inFlight || pendingData.length === 0) return;
    inFlight = true;
    const datas = pendingData;
    const done = pendingDone;
    pendingData = [];
    pendingDone = [];
    let bytes = 0;
    for (const d of datas) bytes += d.length;
    if (pos + bytes > fileSize) pos = 0;
    const at = pos;
    pos += bytes;
    fs.writev(fd, datas, at, (werr) => {
      if (werr) throw werr;
      fs.fdatasync(fd, (serr) => {
        if (serr) throw serr;
        syncs++;
        records += datas.length;
        inFlight = false;
        for (const f of done) f();
        flushOffThread();
      });
    });
  };
  const flush = (): void => {
    if (offThread) return flushOffThread();
    scheduled = false;
    const datas = pendingData;
    const done = pendingDone;
    pendingData = [];
    pendingDone = [];
    let bytes = 0;
    for (const d of datas) bytes += d.length;
    if (pos + bytes > fileSize) pos = 0; // wrap: keep overwriting written blocks
    fs.writevSync(fd, datas, pos);
    fs.fdatasyncSync(fd);
    pos += bytes;
    syncs++;
    records += datas.length;
    for (const f of done) f();
  };
  const append = (d: Buffer): Promise<void> =>
    new Promise((resolve) => {
      pendingData.push(d);
      pendingDone.push(resolve);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  const r = await drive(append, size, producers, seconds);
  fs.closeSync(fd);
  return { size, producers, ...r, perSync: records / Math.max(1, syncs) };
}

async function runSqlite(dir: string, size: number, producers: number, seconds: number): Promise<Omit<CellResult, 'contender'>> {
  const db = new Database(path.join(dir, 'bench.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE log (id INTEGER PRIMARY KEY, data BLOB)');
  const insert = db.prepare('INSERT INTO log (data) VALUES (?)');
  // One transaction per append: autocommit of a single INSERT is exactly that. The call blocks;
  // yielding to the event loop afterwards lets the other producers (and the timer) run.
  const append = async (d: Buffer): Promise<void> => {
    insert.run(d);
    await new Promise((r) => setImmediate(r));
  };
  const r = await drive(append, size, producers, seconds);
  db.close();
  return { size, producers, ...r, perSync: 1 };
}

async function runLevel(dir: string, size: number, producers: number, seconds: number): Promise<Omit<CellResult, 'contender'>> {
  const db = new ClassicLevel<string, Buffer>(path.join(dir, 'level'), { valueEncoding: 'buffer' });
  await db.open();
  let k = 0;
  const append = (d: Buffer): Promise<void> => db.put(String(k++).padStart(12, '0'), d, { sync: true });
  const r = await drive(append, size, producers, seconds);
  await db.close();
  return { size, producers, ...r, perSync: null };
}

async function child(contender: Contender, size: number, producers: number, seconds: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nodewal-bench-${contender}-`));
  try {
    let r: Omit<CellResult, 'contender'>;
    if (contender === 'log-native' || contender === 'log-fallback') r = await runLog(dir, size, producers, seconds, 'auto');
    else if (contender === 'log-native-zero-fill') r = await runLog(dir, size, producers, seconds, 'zero-fill');
    else if (contender === 'log-native-fallocate') r = await runLog(dir, size, producers, seconds, 'fallocate');
    else if (contender === 'log-native-threadpool') r = await runLog(dir, size, producers, seconds, 'auto', 'threadpool');
    else if (contender === 'log-native-direct') r = await runLog(dir, size, producers, seconds, 'auto', 'dedicated', true);
    else if (contender === 'raw-fs') r = await runRawFs(dir, size, producers, seconds);
    else if (contender === 'raw-fs-async') r = await runRawFs(dir, size, producers, seconds, true);
    else if (contender === 'raw-fs-append') r = await runRawFs(dir, size, producers, seconds, false, true);
    else if (contender === 'sqlite') r = await runSqlite(dir, size, producers, seconds);
    else r = await runLevel(dir, size, producers, seconds);
    process.stdout.write(`${JSON.stringify({ contender, ...r })}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function runCell(contender: Contender, size: number, producers: number, seconds: number): CellResult {
  const env = {
    ...process.env,
    WAL_NATIVE: contender === 'log-fallback' ? '0' : contender.startsWith('log-native') ? '1' : (process.env['WAL_NATIVE'] ?? ''),
  };
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', __filename, '--child', contender, String(size), String(producers), String(seconds)],
    { env, encoding: 'utf8', timeout: (seconds + 30) * 1000 },
  );
  // Write back what this run left dirty (and the removal of its files) before the next contender
  // starts, so that one does not pay for it: without this the first contender after a large
  // raw-fs-append file measured ~10% slower with a 3x p99, whichever it was.
  spawnSync('sync');
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as CellResult;
  } catch {
    const why = (run.stderr || run.error?.message || `exit ${run.status}`).trim().split('\n').slice(-3).join(' ');
    return { contender, size, producers, recordsPerSec: 0, p50: 0, p99: 0, perSync: null, note: `failed: ${why}` };
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Median of each figure over the runs of one contender in one cell. */
function medianCell(runs: CellResult[]): CellResult {
  const ok = runs.filter((r) => r.recordsPerSec > 0);
  if (ok.length === 0) return runs[0]!;
  const perSync = ok.map((r) => r.perSync).filter((v): v is number => v !== null);
  return {
    ...ok[0]!,
    recordsPerSec: median(ok.map((r) => r.recordsPerSec)),
    p50: median(ok.map((r) => r.p50)),
    p99: median(ok.map((r) => r.p99)),
    perSync: perSync.length > 0 ? median(perSync) : null,
    note: `${ok[0]!.note ? `${ok[0]!.note}, ` : ''}median of ${ok.length}${ok.length < runs.length ? ` (${runs.length - ok.length} failed)` : ''}`,
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    await child(argv[1] as Contender, Number(argv[2]), Number(argv[3]), Number(argv[4]));
    return;
  }
  const seconds = Number(argv[0] ?? 1);
  const contenders = (argv[1] && argv[1] !== 'all' ? argv[1].split(',') : [...CONTENDERS]) as Contender[];
  const sizes = (argv[2] ?? '100,1024').split(',').map(Number);
  const producerCounts = (argv[3] ?? '1,16,256').split(',').map(Number);
  const repeats = Number(argv[4] ?? 3);
  console.log(
    `Durable ingestion, ${seconds} s per run, ${repeats} runs per cell; node ${process.version}, ${os.cpus().length}x ${os.cpus()[0]?.model ?? '?'}, ` +
      `${os.platform()} ${os.release()}, ${new Date().toISOString().slice(0, 10)}, tmpdir ${os.tmpdir()}`,
  );
  console.log('\n| record | producers | contender | records/s | p50 µs | p99 µs | records/sync | vs raw-fs | vs raw-fs-append | note |');
  console.log('|---:|---:|---|---:|---:|---:|---:|---:|---:|---|');
  for (const size of sizes) {
    for (const producers of producerCounts) {
      const runs = new Map<Contender, CellResult[]>(contenders.map((c) => [c, []]));
      for (let r = 0; r < repeats; r++) for (const c of contenders) runs.get(c)!.push(runCell(c, size, producers, seconds));
      const cells = contenders.map((c) => medianCell(runs.get(c)!));
      // Two floors: raw-fs overwrites a zero-filled file in a circle (cheapest, but keeps no data);
      // raw-fs-append writes every byte into new space, as a log that keeps its data must.
      const ratioTo = (name: Contender, c: CellResult): string => {
        const floor = cells.find((x) => x.contender === name)?.recordsPerSec;
        return floor ? (c.recordsPerSec / floor).toFixed(2) : '';
      };
      for (const c of cells) {
        console.log(
          `| ${size} B | ${producers} | ${c.contender} | ${fmt(c.recordsPerSec)} | ${fmt(c.p50)} | ${fmt(c.p99)} | ` +
            `${c.perSync === null ? '' : c.perSync.toFixed(1)} | ${ratioTo('raw-fs', c)} | ${ratioTo('raw-fs-append', c)} | ${c.note ?? ''} |`,
        );
      }
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
