/**
 * `Log.entries()` is a hand-written async iterator (src/log/entry-stream.ts): checked against the
 * records appended, over many segments and read buffers smaller than a record, with random ranges,
 * early breaks, next() calls that overlap, and no descriptor left open.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { DEFAULT_CACHED_SEGMENT_FILES } from '../../src/log/segment-files';
import { tempDir } from '../support/tmp';

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

function record(i: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let k = 0; k < size; k++) b[k] = (i * 31 + k) & 0xff;
  return b;
}

test('entries() yields exactly the records of its range, whatever the segments, buffers and breaks', async () => {
  const dir = tempDir('nodewal-entry-stream-');
  const sizes = fc.sample(fc.integer({ min: 0, max: 9000 }), { seed: 77, numRuns: 600 });
  const beforeOpen = openFds();
  // 4 KiB read buffers (the least) and 20 KiB segments: records span buffers, many segments.
  const log = await Log.open(dir, { segmentSize: 20_000, readBufferBytes: 4096 });
  try {
    const model: Uint8Array[] = [];
    for (let i = 0; i < sizes.length; i += 25) {
      const batch = sizes.slice(i, i + 25).map((n, k) => record(i + k, n));
      await log.appendBatch(batch);
      model.push(...batch);
    }
    assert.ok(log.stats().segments > 20, 'the log spans many segments');
    await log.truncateFront(40n); // the first records are gone: ranges are clamped
    const first = 40;
    const last = model.length;
    const baseline = openFds();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: last + 5 }),
        fc.integer({ min: 0, max: last + 5 }),
        fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }),
        fc.boolean(),
        async (from, to, stopAfter, overlap) => {
          const lo = Math.max(from, first);
          const hi = Math.min(to, last);
          const want = hi >= lo ? hi - lo + 1 : 0;
          const it = log.entries({ from: BigInt(from), to: BigInt(to) });
          let seen = 0;
          for (;;) {
            if (stopAfter !== undefined && seen === stopAfter) {
              await it.return();
              break;
            }
            // Overlapping next() calls resolve in order, as a generator's do.
            const [a, b] = overlap ? [it.next(), it.next()] : [it.next(), null];
            for (const r of b === null ? [await a] : await Promise.all([a, b])) {
              if (r.done === true) continue;
              const index = lo + seen;
              assert.equal(r.value.index, BigInt(index));
              assert.deepEqual(r.value.data, model[index - 1]);
              seen++;
            }
            if (seen >= want || (stopAfter !== undefined && seen >= stopAfter)) {
              if (stopAfter === undefined || seen < stopAfter) assert.equal((await it.next()).done, true);
              else await it.return();
              break;
            }
          }
          assert.equal(seen, stopAfter === undefined ? want : Math.min(want, seen));
          // Read handles stay in the Log's cache (bounded), not with the streams.
          // (+2: the lease's renewal and the preparer open files of their own now and then.)
          assert.ok(openFds() <= baseline + DEFAULT_CACHED_SEGMENT_FILES + 2, 'no stream keeps a handle past its end');
        },
      ),
      { numRuns: 150, seed: 4242 },
    );
  } finally {
    await log.close();
  }
  assert.ok(openFds() <= beforeOpen, 'every handle a stream read through is closed with the log');
});

test('entries(): an error ends the stream, and a stream past the end is done', async () => {
  const dir = tempDir('nodewal-entry-stream-err-');
  const log = await Log.open(dir);
  try {
    await log.appendBatch([record(1, 10), record(2, 10)]);
    const ac = new AbortController();
    const it = log.entries({ signal: ac.signal });
    assert.equal((await it.next()).value?.index, 1n);
    ac.abort();
    await assert.rejects(it.next(), { name: 'AbortError' });
    assert.equal((await it.next()).done, true, 'after an error the stream stays done');
    const empty = log.entries({ from: 5n });
    assert.equal((await empty.next()).done, true);
    // The range is resolved at the first next(), not at the call.
    const later = log.entries();
    await log.append(record(3, 10));
    const got: bigint[] = [];
    for await (const e of later) got.push(e.index);
    assert.deepEqual(got, [1n, 2n, 3n]);
  } finally {
    await log.close();
  }
});
