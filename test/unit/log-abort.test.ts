// AbortSignal on Log's waits: a blocked append leaves the queue whole or is written whole; tail(),
// entries() and durable() stop one caller without touching the log.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { WalAbortError, isWalError } from '../../src/errors';
import { tempDir } from '../support/tmp';

const isAbort = (err: unknown): boolean =>
  isWalError(err, 'ERR_WAL_ABORTED') && err instanceof WalAbortError && (err as Error).name === 'AbortError';

test('an already aborted signal rejects append and appendBatch at once; nothing is written', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024 });
  try {
    const ac = new AbortController();
    ac.abort(new Error('shutting down'));
    await assert.rejects(log.append('x', { signal: ac.signal }), (err) => isAbort(err) && (err as Error).cause instanceof Error);
    await assert.rejects(log.appendBatch(['a', 'b'], { signal: ac.signal }), isAbort);
    assert.equal(await log.append('y'), 1n);
    assert.equal(Buffer.from(await log.get(1)).toString(), 'y');
  } finally {
    await log.close();
  }
});

test('property: aborting blocked appends at random never half-writes or acknowledges them', async () => {
  let abortedTotal = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          size: fc.integer({ min: 1, max: 400 }),
          batch: fc.integer({ min: 1, max: 3 }),
          abortAfterMs: fc.option(fc.integer({ min: 0, max: 3 })),
        }),
        {
          minLength: 5,
          maxLength: 40,
        },
      ),
      async (calls) => {
        const dir = tempDir();
        const log = await Log.open(dir, { segmentSize: 64 * 1024, maxQueuedBytes: 600, maxBatchBytes: 1024, preallocation: 'fallocate' });
        const acked: string[] = [];
        const aborted: string[] = [];
        const all: Promise<void>[] = [];
        for (const [i, c] of calls.entries()) {
          const ac = new AbortController();
          const records = Array.from({ length: c.batch }, (_, j) => `${i}.${j}:`.padEnd(c.size, 'x'));
          const p = c.batch === 1 ? log.append(records[0]!, { signal: ac.signal }) : log.appendBatch(records, { signal: ac.signal });
          all.push(
            p.then(
              (last) => {
                acked.push(...records.map((r, j) => `${Number(last) - c.batch + 1 + j}=${r}`));
              },
              (err: unknown) => {
                assert.ok(isAbort(err), String(err));
                aborted.push(...records);
              },
            ),
          );
          if (c.abortAfterMs !== null) setTimeout(() => ac.abort(), c.abortAfterMs);
        }
        await Promise.all(all);
        await log.close();
        // Reopened from disk: exactly the acknowledged records, at their indexes, gap-free.
        const again = await Log.open(dir);
        try {
          const onDisk: string[] = [];
          for await (const { index, data } of again.entries()) onDisk.push(`${index}=${Buffer.from(data).toString()}`);
          acked.sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
          assert.deepEqual(onDisk, acked);
          const written = new Set(onDisk.map((e) => e.slice(e.indexOf('=') + 1)));
          for (const r of aborted) assert.ok(!written.has(r), `aborted record ${r.slice(0, 8)} was written`);
          assert.equal(
            acked.length + aborted.length,
            calls.reduce((n, c) => n + c.batch, 0),
          );
          abortedTotal += aborted.length;
        } finally {
          await again.close();
        }
      },
    ),
    { numRuns: 15 },
  );
  assert.ok(abortedTotal > 0, 'the runs did abort some blocked appends');
});

test('an append aborted after it was admitted to the queue is written and acknowledged', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024 });
  try {
    const ac = new AbortController();
    const p = log.append('kept', { signal: ac.signal });
    ac.abort(); // already queued (there was room): the signal no longer applies
    assert.equal(await p, 1n);
    assert.equal(Buffer.from(await log.get(1n)).toString(), 'kept');
  } finally {
    await log.close();
  }
});

test('tail(): aborting stops one waiting follower; the log and other followers go on', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024 });
  try {
    await log.append('one');
    const ac = new AbortController();
    const seen: bigint[] = [];
    const stopped = (async () => {
      for await (const e of log.tail({ from: 1, signal: ac.signal })) seen.push(e.index);
    })();
    const other: bigint[] = [];
    const otherDone = (async () => {
      for await (const e of log.tail({ from: 1 })) {
        other.push(e.index);
        if (e.index === 2n) return;
      }
    })();
    while (seen.length < 1) await new Promise((r) => setTimeout(r, 1));
    ac.abort();
    await assert.rejects(stopped, isAbort);
    assert.deepEqual(seen, [1n]);
    await log.append('two');
    await otherDone;
    assert.deepEqual(other, [1n, 2n]);
  } finally {
    await log.close();
  }
});

test('entries(): an abort ends the iteration before the next entry', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024 });
  try {
    await log.appendBatch(['a', 'b', 'c', 'd']);
    const ac = new AbortController();
    const seen: bigint[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of log.entries({ from: 1, signal: ac.signal })) {
          seen.push(e.index);
          if (e.index === 2n) ac.abort();
        }
      })(),
      isAbort,
    );
    assert.deepEqual(seen, [1n, 2n]);
  } finally {
    await log.close();
  }
});

test('durable(): an abort stops the wait, the entry still becomes durable; waiters do not pile up listeners', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024, syncPolicy: { intervalMs: 60_000 } });
  try {
    const index = await log.append('x');
    const ac = new AbortController();
    const waiting = log.durable(index, { signal: ac.signal });
    ac.abort();
    await assert.rejects(waiting, isAbort);
    assert.equal(log.durableIndex, 0n);
    await log.sync();
    assert.equal(log.durableIndex, 1n);
    // A long-lived signal used for many completed waits keeps no listener behind.
    const shared = new AbortController();
    let listeners = 0;
    const add = shared.signal.addEventListener.bind(shared.signal);
    const remove = shared.signal.removeEventListener.bind(shared.signal);
    shared.signal.addEventListener = ((...a: Parameters<typeof add>) => (listeners++, add(...a))) as typeof add;
    shared.signal.removeEventListener = ((...a: Parameters<typeof remove>) => (listeners--, remove(...a))) as typeof remove;
    for (let i = 0; i < 5; i++) {
      const n = await log.append(`y${i}`);
      const w = log.durable(n, { signal: shared.signal });
      await log.sync();
      await w;
    }
    assert.equal(listeners, 0);
  } finally {
    await log.close();
  }
});
