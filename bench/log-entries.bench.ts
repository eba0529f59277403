/**
 * `entries()` against the open-time scan of the same log (issue 15's target: at least 0.9×):
 * N × 100 B records in one log; each run opens it (the scan of every segment) and then streams
 * it with `for await (… of log.entries())`. Medians of R runs.
 *
 *   node --import tsx bench/log-entries.bench.ts [records=1000000] [runs=5]
 * Serialise timed runs: flock /tmp/bench.lock node --import tsx bench/log-entries.bench.ts
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backend } from '../src/io/backend';
import { Log } from '../src/log/log';

const N = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-entries-'));
  try {
    const log = await Log.open(dir);
    const batch = Array.from({ length: 10_000 }, () => new Uint8Array(100).fill(7));
    for (let k = 0; k < N / 10_000; k++) await log.appendBatch(batch);
    await log.close();
    const opens: number[] = [];
    const streams: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      let t = performance.now();
      const l = await Log.open(dir, { mustExist: true });
      const open = performance.now() - t;
      t = performance.now();
      let n = 0;
      for await (const e of l.entries()) n += e.data.length === 100 ? 1 : 0;
      const stream = performance.now() - t;
      await l.close();
      if (n !== N) throw new Error(`read ${n} of ${N} records`);
      opens.push(open);
      streams.push(stream);
      ratios.push(open / stream);
    }
    const rate = (ms: number): string => `${(N / ms / 1000).toFixed(2)} M rec/s`;
    console.log(`entries() vs the open-time scan, ${N.toLocaleString('en-US')} × 100 B, ${backend.kind} backend, medians of ${RUNS}:`);
    console.log(`  Log.open (scan):  ${median(opens).toFixed(0)} ms = ${rate(median(opens))}`);
    console.log(`  entries():        ${median(streams).toFixed(0)} ms = ${rate(median(streams))}`);
    console.log(`  entries() rate / scan rate: ${median(ratios).toFixed(2)} (per run ${ratios.map((x) => x.toFixed(2)).join(' ')})`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
