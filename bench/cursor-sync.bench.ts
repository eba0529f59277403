/**
 * Cross-consumer commit coalescing (issue 14), K consumers committing together, two ways:
 * - files: each writing its 64-byte slot to its own cursor file and fdatasyncing it (K concurrent
 *   fdatasyncs of K files, the layout before the journal) vs K slot writes into one shared file
 *   and one fdatasync;
 * - API: K `Consumer.commit` calls at once through `Log` (the journal: one record each, one
 *   write, one fdatasync), and, when BENCH_OLD_SRC names the `src/` of a checkout from before the
 *   journal (e.g. a worktree of 03d7e4a), the same through that checkout's `Log`, in the same
 *   process, runs alternating.
 * Medians of `runs`; `groups` rounds per run.
 *
 *   node --import tsx bench/cursor-sync.bench.ts [consumers=8] [groups=200] [runs=5]
 * Serialise timed runs: flock /tmp/bench.lock node --import tsx bench/cursor-sync.bench.ts
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultBackend as io } from '../src/io/backend';
import type { WalFile } from '../src/io/types';
import { Log } from '../src/log/log';

/** The part of a Log (this one, or an older checkout's) the API rounds use. */
interface BenchLog {
  appendBatch(datas: string[]): Promise<bigint>;
  consumer(
    name: string,
  ): Promise<{ read(o: { maxRecords: number }): Promise<unknown[]>; commit(i: bigint): Promise<void>; close(): Promise<void> }>;
  close(): Promise<void>;
}
type LogClass = { open(dir: string, o: object): Promise<BenchLog> };

/** Microseconds per group of K commits through the API, `groups` groups, in a fresh log. */
async function apiRun(L: LogClass, dir: string, k: number, groups: number): Promise<number> {
  fs.rmSync(dir, { recursive: true, force: true });
  const log = await L.open(dir, { segmentSize: 1 << 20 });
  await log.appendBatch(Array.from({ length: groups + 1 }, (_, i) => `r${i}`));
  const cs = [];
  for (let i = 0; i < k; i++) cs.push(await log.consumer(`c${i}`));
  for (const c of cs) await c.read({ maxRecords: groups + 1 });
  const t0 = performance.now();
  for (let g = 1; g <= groups; g++) await Promise.all(cs.map((c) => c.commit(BigInt(g))));
  const us = ((performance.now() - t0) / groups) * 1000;
  for (const c of cs) await c.close();
  await log.close();
  return us;
}

const SLOT = 64;
const STRIDE = 4096;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const k = Number(process.argv[2] ?? 8);
  const groups = Number(process.argv[3] ?? 200);
  const runs = Number(process.argv[4] ?? 5);
  const dir = fs.mkdtempSync(path.join(process.env['BENCH_DIR'] ?? os.tmpdir(), 'nodewal-cursor-sync-'));
  const slot = Buffer.alloc(SLOT, 0x5a);
  try {
    const own: WalFile[] = [];
    for (let i = 0; i < k; i++) {
      const f = await io.open(path.join(dir, `consumer.c${i}.tmp`), { read: true, write: true, create: true });
      await f.write([Buffer.alloc(2 * STRIDE)], 0, { datasync: true });
      own.push(f);
    }
    const shared = await io.open(path.join(dir, 'consumers.tmp'), { read: true, write: true, create: true });
    await shared.write([Buffer.alloc(2 * k * STRIDE)], 0, { datasync: true });
    const perFile: number[] = [];
    const oneFile: number[] = [];
    for (let run = 0; run < runs; run++) {
      let t0 = performance.now();
      for (let g = 0; g < groups; g++) {
        const half = (g & 1) * STRIDE;
        await Promise.all(own.map((f) => f.write([slot], half, { datasync: true })));
      }
      perFile.push((performance.now() - t0) / groups);
      // The shared layout: the K slots of one parity are K * 2 * STRIDE apart; one pwritev would
      // need contiguous bytes, so write each slot (page-cache copies) and fdatasync once.
      t0 = performance.now();
      for (let g = 0; g < groups; g++) {
        const half = (g & 1) * STRIDE;
        for (let i = 0; i < k - 1; i++) await shared.write([slot], i * 2 * STRIDE + half);
        await shared.write([slot], (k - 1) * 2 * STRIDE + half, { datasync: true });
      }
      oneFile.push((performance.now() - t0) / groups);
    }
    const a = median(perFile);
    const b = median(oneFile);
    console.log(`backend ${io.kind}, ${k} consumers committing together, ${groups} groups x ${runs} runs, dir ${dir}`);
    console.log(
      `  ${k} files, ${k} concurrent fdatasyncs: median ${(a * 1000).toFixed(0)} us per group  runs ${perFile.map((x) => (x * 1000).toFixed(0)).join(' ')}`,
    );
    console.log(
      `  1 file, ${k} slot writes + 1 fdatasync:  median ${(b * 1000).toFixed(0)} us per group  runs ${oneFile.map((x) => (x * 1000).toFixed(0)).join(' ')}`,
    );
    console.log(`  per-file / shared: ${(a / b).toFixed(2)}x`);
    for (const f of own) await f.close();
    await shared.close();

    const oldSrc = process.env['BENCH_OLD_SRC'];
    const OldLog = oldSrc === undefined ? null : ((await import(path.join(path.resolve(oldSrc), 'log', 'log'))) as { Log: LogClass }).Log;
    const journal: number[] = [];
    const before: number[] = [];
    for (let run = 0; run < runs; run++) {
      if (OldLog !== null) before.push(await apiRun(OldLog, path.join(dir, 'old'), k, groups));
      journal.push(await apiRun(Log as unknown as LogClass, path.join(dir, 'new'), k, groups));
    }
    const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(' ');
    console.log(`  API, ${k} x Consumer.commit at once:`);
    if (OldLog !== null) console.log(`    before (${oldSrc}): median ${median(before).toFixed(0)} us per group  runs ${fmt(before)}`);
    console.log(`    journal:  median ${median(journal).toFixed(0)} us per group  runs ${fmt(journal)}`);
    if (OldLog !== null) {
      const pairs = before.map((x, i) => x / journal[i]!);
      console.log(
        `    before / journal: ${(median(before) / median(journal)).toFixed(2)}x of the medians; per run ${pairs.map((x) => x.toFixed(2)).join(' ')} (median ${median(pairs).toFixed(2)}x)`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
