/**
 * What cross-consumer commit coalescing would save (issue 14): K consumers committing together,
 * each writing its 64-byte slot to its own cursor file and fdatasyncing it (K concurrent
 * fdatasyncs of K files, today's layout) vs one pwritev of the K slots into one shared file and
 * one fdatasync. Alternating runs, medians; `groups` rounds per run.
 *
 *   node --import tsx bench/cursor-sync.bench.ts [consumers=8] [groups=200] [runs=5]
 * Serialise timed runs: flock /tmp/bench.lock node --import tsx bench/cursor-sync.bench.ts
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultBackend as io } from '../src/io/backend';
import type { WalFile } from '../src/io/types';

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
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
