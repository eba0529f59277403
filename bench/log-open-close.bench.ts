/**
 * The fixed costs of a Log (issue 15's target: each under 10 ms): `Log.open` of an empty directory,
 * `close()` of that fresh log, and `Log.open` + `close()` of a log that already holds records,
 * next to what opening its files costs at the least (open + fstat + close of the tail segment).
 * Each sample in a new directory (or a reopen of the same one), medians of N.
 *
 *   node --import tsx bench/log-open-close.bench.ts [samples=9] [preallocation=auto]
 * Serialise timed runs: flock /tmp/bench.lock node --import tsx bench/log-open-close.bench.ts
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backend } from '../src/io/backend';
import { Log } from '../src/log/log';
import type { Preallocation } from '../src/etcd/segment-preparer';

const samples = Number(process.argv[2] ?? 9);
const preallocation = (process.argv[3] ?? 'auto') as Preallocation;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (xs: number[]): string => `${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-openclose-'));
  const openEmpty: number[] = [];
  const closeFresh: number[] = [];
  const reopen: number[] = [];
  const closeReopened: number[] = [];
  const filesFloor: number[] = [];
  try {
    // One warm-up round so that module loading and the addon's first calls are not timed.
    for (let i = -1; i < samples; i++) {
      const dir = path.join(root, `d${i + 1}`);
      let t = performance.now();
      const log = await Log.open(dir, { preallocation });
      const opened = performance.now() - t;
      t = performance.now();
      await log.close();
      const closed = performance.now() - t;

      // A log with records: 10,000 × 100 B.
      const filled = await Log.open(dir, { preallocation });
      const batch = Array.from({ length: 1000 }, () => new Uint8Array(100).fill(7));
      for (let k = 0; k < 10; k++) await filled.appendBatch(batch);
      await filled.close();
      t = performance.now();
      const again = await Log.open(dir, { preallocation, mustExist: true });
      const reopened = performance.now() - t;
      t = performance.now();
      await again.close();
      const closedAgain = performance.now() - t;

      const tail = fs
        .readdirSync(dir)
        .filter((n) => n.endsWith('.wal'))
        .sort()
        .pop()!;
      t = performance.now();
      const fd = fs.openSync(path.join(dir, tail), 'r+');
      fs.fstatSync(fd);
      fs.closeSync(fd);
      const floor = performance.now() - t;
      if (i < 0) continue;
      openEmpty.push(opened);
      closeFresh.push(closed);
      reopen.push(reopened);
      closeReopened.push(closedAgain);
      filesFloor.push(floor);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`Log open/close, ${backend.kind} backend, preallocation '${preallocation}', medians of ${samples}:`);
  console.log(`  open of an empty directory:      ${ms(openEmpty)}`);
  console.log(`  close of that fresh log:         ${ms(closeFresh)}`);
  console.log(`  open of a log of 10,000 records: ${ms(reopen)}`);
  console.log(`  close of it:                     ${ms(closeReopened)}`);
  console.log(`  floor: open + fstat + close of the tail segment (node:fs, sync): ${ms(filesFloor)}`);
}

void main();
