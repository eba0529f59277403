// Log.tail() and truncateBack under a pending close (issue 12 finding 8): a follower that has
// yielded entries which truncateBack then removed must throw ERR_WAL_OUT_OF_RANGE, as docs/log.md
// promises, whatever else is going on — before, with close() pending it ended normally, so the
// consumer kept entries that are no longer in the log. Many interleavings, generated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';

test('a follower past a truncateBack point throws ERR_WAL_OUT_OF_RANGE even when close() is pending', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 2, max: 40 }),
      fc.integer({ min: 0, max: 39 }),
      fc.constantFrom('close-after', 'close-with', 'close-before-next'),
      async (n, cutRaw, order) => {
        const keep = cutRaw % (n - 1); // keep < n: at least one yielded entry is removed
        const log = await Log.open(tempDir(), { segmentSize: 8192 });
        const it = log.tail({ from: 1n });
        await log.appendBatch(Array.from({ length: n }, (_, i) => `r${i + 1}`));
        for (let i = 0; i < n; i++) assert.equal((await it.next()).value!.index, BigInt(i + 1));
        // The follower now waits for entry n + 1.
        const waiting = it.next();
        let closing: Promise<void>;
        if (order === 'close-with') {
          const t = log.truncateBack(BigInt(keep));
          closing = log.close();
          await t;
        } else {
          await log.truncateBack(BigInt(keep));
          closing = order === 'close-after' ? log.close() : Promise.resolve();
        }
        await assert.rejects(waiting, { code: 'ERR_WAL_OUT_OF_RANGE' });
        await closing;
        await log.close();
      },
    ),
    { numRuns: 30 },
  );
});
