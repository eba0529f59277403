/**
 * `Log.get(index)` at random indexes of a large log against the floor: `fs.readSync` (a pread) of
 * the entry's frame bytes on a descriptor opened once, in the same process and run. Each get is
 * awaited alone and timed; reported as p50/p99 µs and the p50 ratio to the pread.
 *
 *   node --import tsx bench/log-get.bench.ts [records=2000000] [size=100] [gets=20000] [rounds=5]
 *
 * The log is built once per (records, size) under the temp directory and reused by later runs
 * (BENCH_GET_DIR overrides where), then reopened for each round (the open scan's checkpoints);
 * "get-written" reads the same records written by this process into a log kept open (the
 * writer's own checkpoints); "get-read-only" opens the log with `readOnly: true`, whose checkpoints
 * come from what its own reads decoded (the timed gets follow 2,000 warm-up gets). BENCH_GET_OLD_SRC=<checkout>/src adds that checkout's Log as
 * "before", alternated round by round with this one over the same log and the same indexes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Log } from '../src/log/log';
import type { LogReads } from '../src/log/log-reads';
import type { LogCore } from '../src/log/log-core';
import { findSegment } from '../src/log/segment-index';
import { Rng } from '../test/support/prng';

interface Getter {
  get(index: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

type LogClass = { open(dir: string, opts?: object): Promise<Getter> };

const arg = (i: number, dflt: number): number =>
  Number.isFinite(Number(process.argv[i])) && process.argv[i] ? Number(process.argv[i]) : dflt;

/** Seeded indexes in [1, max] (the tests' one PRNG): the same for every contender and run. */
function indexes(n: number, max: number, seed = 0x9e3779b9): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => 1 + rng.int(max));
}

/** `records` of `size` bytes in appendBatch calls of 1,000. */
async function fill(log: Log, records: number, size: number): Promise<void> {
  const batch: Uint8Array[] = [];
  for (let i = 0; i < 1000; i++) batch.push(Buffer.alloc(size, i & 0xff));
  for (let done = 0; done < records; done += batch.length) await log.appendBatch(batch.slice(0, Math.min(batch.length, records - done)));
  await log.sync();
}

async function build(dir: string, records: number, size: number): Promise<void> {
  if (fs.existsSync(path.join(dir, 'built'))) return;
  fs.rmSync(dir, { recursive: true, force: true });
  const t0 = Date.now();
  const log = await Log.open(dir, { syncPolicy: 'none' });
  await fill(log, records, size);
  await log.close();
  fs.writeFileSync(path.join(dir, 'built'), `${records} x ${size} B\n`);
  console.log(`built ${records} x ${size} B in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${dir}`);
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function timeGets(log: Getter, at: readonly number[]): Promise<Float64Array> {
  for (let i = 0; i < Math.min(2000, at.length); i++) await log.get(at[i]!); // warm-up
  const t = new Float64Array(at.length);
  for (let i = 0; i < at.length; i++) {
    const t0 = process.hrtime.bigint();
    await log.get(at[i]!);
    t[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return t.sort();
}

/** The frame offsets of `at` (found through this checkout's Log internals, outside the timing). */
async function frameOffsets(dir: string, at: readonly number[]): Promise<{ paths: string[]; seg: number[]; offset: number[] }> {
  const log = await Log.open(dir);
  const internals = log as unknown as { core: LogCore; reads: LogReads };
  const segs = internals.core.segments;
  const seg: number[] = [];
  const offset: number[] = [];
  for (const i of at) {
    const si = findSegment(segs, i);
    seg.push(si);
    offset.push((await internals.reads.locate(segs[si]!, i)).offset);
  }
  const paths = segs.map((s) => s.path);
  await log.close();
  return { paths, seg, offset };
}

function timePreads(where: { paths: string[]; seg: number[]; offset: number[] }, bytes: number): Float64Array {
  const fds = where.paths.map((p) => fs.openSync(p, 'r'));
  const buf = Buffer.alloc(bytes);
  const n = where.seg.length;
  const t = new Float64Array(n);
  try {
    for (let i = 0; i < n; i++) fs.readSync(fds[where.seg[i]!]!, buf, 0, bytes, where.offset[i]!);
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      fs.readSync(fds[where.seg[i]!]!, buf, 0, bytes, where.offset[i]!);
      t[i] = Number(process.hrtime.bigint() - t0) / 1000;
    }
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
  return t.sort();
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const records = arg(2, 2_000_000);
  const size = arg(3, 100);
  const gets = arg(4, 20_000);
  const rounds = arg(5, 5);
  const dir = process.env.BENCH_GET_DIR ?? path.join(os.tmpdir(), `nodewal-get-${records}x${size}`);
  await build(dir, records, size);
  const at = indexes(gets, records);
  const where = await frameOffsets(dir, at);
  // The entry's frame: its data, the raftpb.Entry and walpb.Record headers, the length word.
  const frameBytes = size + 32;
  const contenders: { name: string; cls: LogClass }[] = [{ name: 'get', cls: Log as unknown as LogClass }];
  // The same records written by this process and read without a reopen: its own checkpoints.
  const writtenDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-get-written-'));
  const written = await Log.open(writtenDir, { syncPolicy: 'none' });
  await fill(written, records, size);
  contenders.push({ name: 'get-written', cls: { open: async () => ({ get: (i: number) => written.get(i), close: async () => {} }) } });
  // The same log opened read-only (as a consumer process opens a live one): its own checkpoints,
  // built by the warm-up's decodes.
  contenders.push({ name: 'get-read-only', cls: { open: (d: string) => Log.open(d, { readOnly: true }) as Promise<Getter> } });
  const oldSrc = process.env.BENCH_GET_OLD_SRC;
  if (oldSrc !== undefined) {
    const mod = (await import(path.resolve(oldSrc, 'log/log.ts'))) as { Log: LogClass };
    contenders.push({ name: 'get-before', cls: mod.Log });
  }
  const p50: Record<string, number[]> = { pread: [] };
  const p99: Record<string, number[]> = { pread: [] };
  const ratio: Record<string, number[]> = {};
  for (const c of contenders) {
    p50[c.name] = [];
    p99[c.name] = [];
    ratio[c.name] = [];
  }
  console.log(
    `${records} records x ${size} B, ${gets} gets per round at random indexes, ${rounds} rounds, load ${os.loadavg()[0]!.toFixed(2)}`,
  );
  for (let r = 0; r < rounds; r++) {
    const floor = timePreads(where, frameBytes);
    const f50 = percentile(floor, 0.5);
    p50.pread!.push(f50);
    p99.pread!.push(percentile(floor, 0.99));
    const line = [`round ${r + 1}: pread p50 ${f50.toFixed(2)} µs p99 ${percentile(floor, 0.99).toFixed(2)}`];
    // Alternate the order so neither contender always runs first.
    const order = r % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) {
      const log = await c.cls.open(dir);
      const t = await timeGets(log, at);
      await log.close();
      const g50 = percentile(t, 0.5);
      p50[c.name]!.push(g50);
      p99[c.name]!.push(percentile(t, 0.99));
      ratio[c.name]!.push(g50 / f50);
      line.push(`${c.name} p50 ${g50.toFixed(2)} p99 ${percentile(t, 0.99).toFixed(2)} (${(g50 / f50).toFixed(2)}x pread)`);
    }
    console.log(line.join(' | '));
  }
  console.log('\nmedians over rounds (µs):');
  console.log(`  pread         p50 ${median(p50.pread!).toFixed(2)}  p99 ${median(p99.pread!).toFixed(2)}`);
  for (const c of contenders) {
    console.log(
      `  ${c.name.padEnd(13)} p50 ${median(p50[c.name]!).toFixed(2)}  p99 ${median(p99[c.name]!).toFixed(2)}  p50/pread ${median(ratio[c.name]!).toFixed(2)}x`,
    );
  }
  await written.close();
  fs.rmSync(writtenDir, { recursive: true, force: true });
  if (oldSrc !== undefined) {
    const per = p50.get!.map((v, i) => p50['get-before']![i]! / v);
    console.log(`  before/after p50, same round: median ${median(per).toFixed(1)}x`);
  }
  console.log(
    `  load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
