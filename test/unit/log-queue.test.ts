import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { recordingIo, type IoEvent } from '../support/log-helpers';

test("onQueueFull 'reject': appends beyond maxQueuedBytes fail with ERR_WAL_QUEUE_FULL, the rest succeed", async () => {
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024, maxQueuedBytes: 1000, onQueueFull: 'reject' });
  try {
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => log.append(Buffer.alloc(100))));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const full = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'ERR_WAL_QUEUE_FULL').length;
    assert.equal(ok, 10, 'exactly maxQueuedBytes worth were queued');
    assert.equal(full, 20);
    assert.equal(log.lastIndex, 10n);
  } finally {
    await log.close();
  }
});

test("onQueueFull 'wait': memory stays bounded and every append lands, in call order", async () => {
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024, maxQueuedBytes: 1000, maxBatchBytes: 1024 });
  try {
    const pending = Array.from({ length: 60 }, (_, i) => log.append(Buffer.alloc(100, i)));
    const s = log.stats();
    assert.ok(s.queuedBytes <= 1000, `queued ${s.queuedBytes}`);
    assert.equal(s.blockedAppends, 50);
    const idx = await Promise.all(pending);
    assert.deepEqual(
      idx,
      Array.from({ length: 60 }, (_, i) => BigInt(i + 1)),
    );
    for (const [i, index] of idx.entries()) assert.equal((await log.get(index))[0], i);
    // A record larger than the bound is admitted alone instead of deadlocking.
    assert.equal(await log.append(Buffer.alloc(5000)), 61n);
  } finally {
    await log.close();
  }
});

test("syncPolicy 'none': appends resolve after the write without fdatasync; sync() makes them durable", async () => {
  const events: IoEvent[] = [];
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024, syncPolicy: 'none', io: recordingIo(events) });
  try {
    const start = events.length;
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(`r${i}`)));
    // Only the segments: the next segment is prepared (and synced) in the background meanwhile.
    const during = events.slice(start).filter((e) => e.path.endsWith('.wal'));
    assert.ok(
      during.some((e) => e.kind === 'write'),
      'written',
    );
    assert.ok(!during.some((e) => e.kind === 'datasync' || e.datasync), 'not synced');
    assert.equal(log.lastIndex, 20n);
    assert.ok(log.durableIndex < 20n);
    assert.equal(await log.sync(), 20n);
    assert.equal(log.durableIndex, 20n);
    assert.ok(events.slice(start).some((e) => e.kind === 'datasync'));
    await log.append('x');
    await log.durable();
    assert.equal(log.durableIndex, 21n);
  } finally {
    await log.close();
  }
});

test('syncPolicy { intervalMs }: a timer makes written records durable', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024, syncPolicy: { intervalMs: 5 } });
  try {
    const i = await log.append('a');
    await log.durable(i);
    assert.ok(log.durableIndex >= i);
    assert.ok(log.stats().fsyncs >= 1);
  } finally {
    await log.close();
  }
});

test('tail() yields records as they become durable and ends on close', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 4096 });
  await log.append('before');
  const seen: string[] = [];
  const follower = (async () => {
    for await (const e of log.tail({ from: 1n })) seen.push(`${e.index}:${Buffer.from(e.data).toString()}`);
  })();
  for (let i = 0; i < 50; i++) await log.append(`r${i}`.repeat(20));
  while (seen.length < 51) await new Promise((r) => setTimeout(r, 2));
  await log.close();
  await follower;
  assert.equal(seen.length, 51);
  assert.equal(seen[0], '1:before');
  seen.slice(1).forEach((s, i) => assert.equal(s, `${i + 2}:${`r${i}`.repeat(20)}`));
});

test('tail() after truncateBack below its position reports ERR_WAL_OUT_OF_RANGE', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 4096 });
  try {
    await log.appendBatch(['a', 'b', 'c']);
    const it = log.tail({ from: 1n });
    for (let i = 0; i < 3; i++) await it.next();
    await log.truncateBack(1n);
    await assert.rejects(it.next(), { code: 'ERR_WAL_OUT_OF_RANGE' });
  } finally {
    await log.close();
  }
});
