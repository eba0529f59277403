// Log.tailBatches() and the read-only open's: the records tail() gives, a batch at a time — never
// past the durable index, within maxRecords, an error met after a batch had records thrown by the
// next call (not lost), and the same records as tail() from a read-only open. The model test in
// log-recent-records.test.ts runs it through random appends, syncs and truncations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WalError, WalErrorCodes } from '../../src/errors';
import { Log, type LogEntry } from '../../src/log/log';
import { TailBatches } from '../../src/log/tail-batches';
import type { TailStream } from '../../src/log/tail-stream';
import { tempDir } from '../support/tmp';

const indexes = (b: LogEntry[] | void): number[] => (b ?? []).map((e) => Number(e.index));

test('a batch from the window stops at the durable index, not at what was written', async () => {
  const log = await Log.open(tempDir(), { syncPolicy: 'none' });
  try {
    const it = log.tailBatches({ from: 1n, maxRecords: 5 });
    const first = it.next(); // the follower is live: the window keeps what is written from now on
    await log.appendBatch([Buffer.from('a')]);
    await log.sync();
    assert.deepEqual(indexes((await first).value), [1]);
    await log.appendBatch([Buffer.from('b'), Buffer.from('c')]);
    await log.sync();
    await log.appendBatch([Buffer.from('d')]); // written, not durable
    assert.equal(log.durableIndex, 3n);
    const r = await it.next();
    assert.deepEqual(indexes(r.value), [2, 3]);
    assert.deepEqual(
      r.value!.map((e) => Buffer.from(e.data).toString()),
      ['b', 'c'],
    );
    const pending = it.next();
    await log.sync();
    assert.deepEqual(indexes((await pending).value), [4]);
    await it.return(undefined);
  } finally {
    await log.close();
  }
});

test('batches hold at most maxRecords, from the window and from disk, and end when the log closes', async () => {
  for (const recentRecordsBytes of [0, undefined]) {
    const log = await Log.open(tempDir(), recentRecordsBytes === undefined ? {} : { recentRecordsBytes });
    const it = log.tailBatches({ from: 1n, maxRecords: 7 });
    const first = it.next();
    for (let i = 0; i < 10; i++) await log.appendBatch(Array.from({ length: 5 }, (_, k) => Buffer.from(`r${i * 5 + k + 1}`)));
    const got: number[][] = [indexes((await first).value)];
    while (got.flat().length < 50) got.push(indexes((await it.next()).value));
    assert.deepEqual(
      got.flat(),
      Array.from({ length: 50 }, (_, k) => k + 1),
      `window ${recentRecordsBytes}`,
    );
    for (const b of got) assert.ok(b.length >= 1 && b.length <= 7, `batch of ${b.length}`);
    // Caught up, so full batches: all but the first (which came alone) and the last.
    assert.ok(
      got.slice(1, -1).every((b) => b.length === 7),
      `batches ${got.map((b) => b.length).join(',')}`,
    );
    const end = it.next();
    await log.close();
    assert.deepEqual(await end, { done: true, value: undefined });
  }
});

test('an error met while a batch was being filled comes with the next call, after the batch', async () => {
  // A stub stream: two records, then the error tail() would throw (a truncateBack below them).
  const cut = new WalError(WalErrorCodes.OUT_OF_RANGE, 'entries before 3 were truncated');
  let step = 0;
  const stream = {
    next: (): Promise<IteratorResult<LogEntry, void>> => {
      step++;
      if (step <= 2) return Promise.resolve({ done: false, value: { index: BigInt(step), data: new Uint8Array(0) } });
      // As TailStream: an error ends the stream, later calls are done.
      return step === 3 ? Promise.reject(cut) : Promise.resolve({ done: true, value: undefined });
    },
    takeHeld: (): void => undefined,
    hasDurableNext: (): boolean => true,
    return: (): Promise<IteratorReturnResult<void>> => Promise.resolve({ done: true, value: undefined }),
  };
  const it = new TailBatches(stream as unknown as TailStream, 10);
  assert.deepEqual(indexes((await it.next()).value as LogEntry[]), [1, 2]);
  await assert.rejects(it.next(), (e: unknown) => e === cut);
});

test('maxRecords must be a positive integer', async () => {
  const log = await Log.open(tempDir());
  try {
    for (const maxRecords of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => log.tailBatches({ maxRecords }),
        (e: unknown) => e instanceof WalError && e.code === WalErrorCodes.INVALID_ARGUMENT,
      );
    }
  } finally {
    await log.close();
  }
});

test('a read-only open: the same records as its tail(), in batches within maxRecords', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, { segmentSize: 4096 });
  const ro = await Log.open(dir, { readOnly: true, pollMs: 1 });
  try {
    await w.appendBatch(Array.from({ length: 300 }, (_, k) => Buffer.from(`rec-${k + 1}-${'y'.repeat(k % 40)}`)));
    await w.sync();
    while (Number(ro.durableIndex) < 300) await new Promise((r) => setTimeout(r, 2));
    const batches = ro.tailBatches({ from: 1n, maxRecords: 64 });
    const single = ro.tail({ from: 1n });
    const got: LogEntry[] = [];
    while (got.length < 300) {
      const b = (await batches.next()).value!;
      assert.ok(b.length >= 1 && b.length <= 64, `batch of ${b.length}`);
      got.push(...b);
    }
    for (const e of got) {
      const one = (await single.next()).value!;
      assert.equal(e.index, one.index);
      assert.deepEqual(Buffer.from(e.data), Buffer.from(one.data));
      assert.equal(Buffer.from(e.data).toString(), `rec-${e.index}-${'y'.repeat((Number(e.index) - 1) % 40)}`);
    }
    await batches.return(undefined);
    await single.return(undefined);
  } finally {
    await ro.close();
    await w.close();
  }
});
