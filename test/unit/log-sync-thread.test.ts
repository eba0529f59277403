// Log's batches on the tail file's own I/O thread (option syncThread, native backend): the thread
// exists while the log is open, moves to the new tail at each cut, and is gone after close; the
// records are the same either way. Threads are counted in /proc/self/task.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Log } from '../../src/log/log';
import { expectedBackend, tempDir } from '../support/tmp';

const threads = (): number => fs.readdirSync('/proc/self/task').length;

async function threadsBecome(want: number): Promise<void> {
  for (let i = 0; i < 200 && threads() !== want; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(threads(), want);
}

for (const syncThread of ['dedicated', 'threadpool'] as const) {
  test(`Log (syncThread: '${syncThread}'): concurrent producers across cuts, one I/O thread at most, none after close`, async () => {
    const dir = tempDir();
    // Warm up libuv's threadpool (created on first use) before counting.
    const warm = await Log.open(tempDir(), { segmentSize: 8192 });
    await warm.append('x');
    await warm.close();
    const before = threads();
    const log = await Log.open(dir, { segmentSize: 16 * 1024, syncThread });
    const extra = syncThread === 'dedicated' && expectedBackend === 'native' ? 1 : 0;
    let maxSeen = 0;
    const producers = Array.from({ length: 64 }, async (_, p) => {
      const got: bigint[] = [];
      for (let i = 0; i < 20; i++) {
        got.push(await log.append(`p${p}-r${i}-${'z'.repeat(p % 50)}`));
        maxSeen = Math.max(maxSeen, threads());
      }
      return got;
    });
    const indexes = (await Promise.all(producers)).flat().sort((a, b) => (a < b ? -1 : 1));
    assert.deepEqual(
      indexes,
      Array.from({ length: 64 * 20 }, (_, i) => BigInt(i + 1)),
    );
    assert.ok(log.stats().segments > 3, 'the run must cross several cuts');
    // The old tail's thread is stopped at each cut: never more than one (the preparer uses the threadpool).
    assert.ok(maxSeen <= before + extra, `threads seen ${maxSeen}, before ${before}, extra ${extra}`);
    assert.equal(threads(), before + extra);
    await log.close();
    await threadsBecome(before);
    const back = await Log.open(dir, { syncThread });
    let n = 0;
    for await (const e of back.entries()) {
      n++;
      assert.match(Buffer.from(e.data).toString(), /^p\d+-r\d+-z*$/);
    }
    assert.equal(n, 64 * 20);
    await back.close();
  });
}
