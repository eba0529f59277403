// Durable consumers on a writable Log, in-process: read/seek/commit, resume after reopen, typed
// errors, exclusion, listing and deletion, truncateFront guard and truncateBack reporting.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WalErrorCodes, isWalError } from '../../src/errors';
import { ConsumerGapError, ConsumerTruncatedError } from '../../src/log/consumer-errors';
import { createCursorFile } from '../../src/log/cursor-file';
import { defaultBackend } from '../../src/io/backend';
import { BatchReader } from '../../src/log/batch-reader';
import { Log } from '../../src/log/log';
import { recordingIo, type IoEvent } from '../support/log-helpers';
import { tempDir } from '../support/tmp';

const small = { segmentSize: 8192 };
const rec = (i: number): Buffer => Buffer.from(`record-${i}-${'x'.repeat(i % 50)}`);

async function fill(log: Log, n: number, from = 1): Promise<void> {
  const datas: Buffer[] = [];
  for (let i = from; i < from + n; i++) datas.push(rec(i));
  await log.appendBatch(datas);
}

const code = (c: string) => (err: unknown) => isWalError(err) && err.code === c;

test('log id: 32 hex digits, kept across reopen and truncateFront, different per log', async () => {
  const dir = tempDir();
  let log = await Log.open(dir, small);
  const id = log.id;
  assert.match(id, /^[0-9a-f]{32}$/);
  await fill(log, 300);
  await log.truncateFront(250n);
  await log.close();
  log = await Log.open(dir, small);
  assert.equal(log.id, id);
  await log.close();
  const other = await Log.open(tempDir(), small);
  assert.notEqual(other.id, id);
  await other.close();
});

test('log id: a log created without one gets one at its next open; a damaged id file is a typed error', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, small);
  await fill(log, 5);
  await log.close();
  fs.unlinkSync(path.join(dir, 'log-id.tmp')); // as an old version left it
  const again = await Log.open(dir, small);
  assert.match(again.id, /^[0-9a-f]{32}$/);
  const id = again.id;
  await again.close();
  const bytes = fs.readFileSync(path.join(dir, 'log-id.tmp'));
  for (const at of [0, 17, 30, bytes.length - 2]) {
    const bad = Buffer.from(bytes);
    bad[at] = bad[at]! ^ 0x01;
    fs.writeFileSync(path.join(dir, 'log-id.tmp'), bad);
    await assert.rejects(Log.open(dir, small), code(WalErrorCodes.LOG_ID_CORRUPT), `flip at ${at}`);
  }
  fs.writeFileSync(path.join(dir, 'log-id.tmp'), bytes);
  const restored = await Log.open(dir, small);
  assert.equal(restored.id, id);
  await restored.close();
});

test('a consumer reads every durable record once, in order, in bounded batches, and resumes after its commit', async () => {
  const dir = tempDir();
  let log = await Log.open(dir, small);
  await fill(log, 500);
  let c = await log.consumer('ship');
  assert.equal(c.committed, 0n);
  const seen: number[] = [];
  for (;;) {
    const batch = await c.read({ maxRecords: 37, maxBytes: 2000 });
    if (batch.length === 0) break;
    assert.ok(batch.length <= 37);
    const bytes = batch.reduce((n, e) => n + e.data.length, 0);
    assert.ok(batch.length === 1 || bytes <= 2000, `batch of ${bytes} bytes`);
    for (const e of batch) {
      seen.push(Number(e.index));
      assert.deepEqual(Buffer.from(e.data), rec(Number(e.index)));
    }
    if (seen.length <= 300) await c.commit(batch[batch.length - 1]!.index);
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 500 }, (_, i) => i + 1),
  );
  const committed = c.committed;
  assert.ok(committed >= 250n && committed < 500n, `committed ${committed}`);
  await c.close();
  await log.close();
  log = await Log.open(dir, small);
  c = await log.consumer('ship', { start: 'newest' }); // exists: start is ignored
  assert.equal(c.committed, committed);
  const first = await c.read({ maxRecords: 1 });
  assert.equal(first[0]!.index, committed + 1n);
  await c.close();
  await log.close();
});

test("start: 'oldest' (after truncateFront), 'newest' and an index", async () => {
  const log = await Log.open(tempDir(), small);
  await fill(log, 100);
  await log.truncateFront(40n);
  const oldest = await log.consumer('a');
  assert.equal((await oldest.read({ maxRecords: 1 }))[0]!.index, 40n);
  const newest = await log.consumer('b', { start: 'newest' });
  assert.deepEqual(await newest.read(), []);
  const at = await log.consumer('c', { start: 77n });
  assert.equal((await at.read({ maxRecords: 1 }))[0]!.index, 77n);
  await log.append('more');
  assert.deepEqual(
    (await newest.read()).map((e) => e.index),
    [101n],
  );
  await log.close();
});

test('read waits for new durable records up to timeoutMs, returns [] on timeout or abort', async () => {
  const log = await Log.open(tempDir(), small);
  const c = await log.consumer('w');
  const t0 = Date.now();
  assert.deepEqual(await c.read({ timeoutMs: 60 }), []);
  assert.ok(Date.now() - t0 >= 50, 'waited');
  const pending = c.read({ timeoutMs: 10_000 });
  const idx = await log.append('late');
  const got = await pending;
  assert.equal(got.length, 1);
  assert.equal(got[0]!.index, idx);
  const ac = new AbortController();
  const aborted = c.read({ timeoutMs: 10_000, signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  assert.deepEqual(await aborted, []);
  await log.close();
});

test('only durable records are delivered (syncPolicy none: nothing until sync)', async () => {
  const log = await Log.open(tempDir(), { ...small, syncPolicy: 'none' });
  const c = await log.consumer('d');
  await log.append('a');
  await log.append('b');
  assert.equal(log.durableIndex, 0n);
  assert.deepEqual(await c.read(), []);
  await log.sync();
  assert.deepEqual(
    (await c.read()).map((e) => e.index),
    [1n, 2n],
  );
  await log.close();
});

test('commit: typed error backwards or beyond what was delivered; seek moves without committing', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, small);
  await fill(log, 50);
  const c = await log.consumer('x');
  await assert.rejects(c.commit(1n), code(WalErrorCodes.CONSUMER_COMMIT_RANGE));
  const b = await c.read({ maxRecords: 10 });
  assert.equal(b.length, 10);
  await assert.rejects(c.commit(11n), code(WalErrorCodes.CONSUMER_COMMIT_RANGE));
  await c.commit(8n);
  await assert.rejects(c.commit(7n), code(WalErrorCodes.CONSUMER_COMMIT_RANGE));
  await c.commit(8n); // the same position again is fine
  c.seek(30n);
  assert.equal(c.committed, 8n);
  assert.equal((await c.read({ maxRecords: 1 }))[0]!.index, 31n);
  await c.commit(31n);
  assert.throws(() => c.seek(51n), code(WalErrorCodes.OUT_OF_RANGE));
  const info = c.info();
  assert.equal(info.committed, 31n);
  assert.equal(info.delivered, 31n);
  assert.equal(info.lagRecords, 19n);
  assert.ok(info.lagBytes > 0);
  assert.ok(info.lastCommitAt instanceof Date);
  await log.close();
});

test('commits issued together share one journal write + fdatasync', async () => {
  const events: IoEvent[] = [];
  const log = await Log.open(tempDir(), { ...small, io: recordingIo(events) });
  await fill(log, 100);
  const c = await log.consumer('co');
  await c.read({ maxRecords: 100 });
  const before = events.filter((e) => e.path.endsWith('consumers.journal.tmp')).length;
  await Promise.all(Array.from({ length: 50 }, (_, i) => c.commit(BigInt(i + 51))));
  const writes = events.filter((e) => e.path.endsWith('consumers.journal.tmp')).slice(before);
  assert.equal(writes.length, 1, `one write for 50 commits, got ${writes.length}`);
  assert.equal(writes[0]!.datasync, true);
  assert.equal(c.committed, 100n);
  await log.close();
});

test('8 consumers committing together cause exactly one fdatasync; each resolves after it', async () => {
  const events: IoEvent[] = [];
  const dir = tempDir();
  const log = await Log.open(dir, { ...small, io: recordingIo(events, { delayMs: 5 }) });
  await fill(log, 40);
  const cs = await Promise.all(Array.from({ length: 8 }, (_, i) => log.consumer(`g${i}`)));
  for (const c of cs) await c.read({ maxRecords: 40 });
  const isSync = (e: IoEvent): boolean =>
    e.path.includes('consumer') && ((e.kind === 'write' && e.datasync === true) || e.kind === 'datasync');
  const before = events.filter(isSync).length;
  const resolvedAt: number[] = [];
  await Promise.all(cs.map((c, i) => c.commit(BigInt(10 + i)).then(() => resolvedAt.push(events.length))));
  const syncs = events.filter(isSync).slice(before);
  assert.equal(syncs.length, 1, `one fdatasync for 8 consumers, got ${syncs.length}`);
  // Every promise resolved after that fdatasync was recorded.
  const syncAt = events.indexOf(syncs[0]!);
  for (const at of resolvedAt) assert.ok(at > syncAt);
  assert.deepEqual(
    cs.map((c) => c.committed),
    cs.map((_, i) => BigInt(10 + i)),
  );
  // A second group while nothing is in flight: again one.
  const mid = events.filter(isSync).length;
  await Promise.all(cs.map((c, i) => c.commit(BigInt(20 + i))));
  assert.equal(events.filter(isSync).length - mid, 1);
  for (const c of cs) await c.close();
  await log.close();
  // And what was committed is what a reopen reads.
  const again = await Log.open(dir, small);
  for (let i = 0; i < 8; i++) {
    const c = await again.consumer(`g${i}`);
    assert.equal(c.committed, BigInt(20 + i));
    await c.close();
  }
  await again.close();
});

test('two holders of one name are excluded; a closed consumer releases it; list and delete', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, small);
  await fill(log, 20);
  const a = await log.consumer('one');
  await assert.rejects(log.consumer('one'), code(WalErrorCodes.LOCKED));
  await assert.rejects(log.deleteConsumer('one'), code(WalErrorCodes.LOCKED));
  await a.read({ maxRecords: 5 });
  await a.commit(5n);
  const two = await log.consumer('two', { start: 'newest' });
  const list = await log.consumers();
  assert.deepEqual(
    list.map((i) => [i.name, i.committed, i.lagRecords]),
    [
      ['one', 5n, 15n],
      ['two', 20n, 0n],
    ],
  );
  await a.close();
  await two.close();
  await assert.rejects(a.read(), code(WalErrorCodes.CLOSED));
  const again = await log.consumer('one');
  assert.equal(again.committed, 5n);
  await again.close();
  await log.deleteConsumer('one');
  await assert.rejects(log.deleteConsumer('one'), code(WalErrorCodes.CONSUMER_NOT_FOUND));
  assert.deepEqual(
    (await log.consumers()).map((i) => i.name),
    ['two'],
  );
  const fresh = await log.consumer('one');
  assert.equal(fresh.committed, 0n, 'a deleted consumer starts afresh');
  await assert.rejects(log.consumer('../evil'), code(WalErrorCodes.INVALID_ARGUMENT));
  await log.close();
});

test('await using releases the consumer', async () => {
  const log = await Log.open(tempDir(), small);
  {
    const c = await log.consumer('scoped');
    await c[Symbol.asyncDispose]();
  }
  const c2 = await log.consumer('scoped');
  await c2.close();
  await log.close();
});

test('truncateFront refuses to drop uncommitted records unless forced; the consumer then gets the exact gap', async () => {
  const log = await Log.open(tempDir(), small);
  await fill(log, 400);
  const c = await log.consumer('slow');
  await c.read({ maxRecords: 100 });
  await c.commit(100n);
  await log.truncateFront(101n); // everything committed below: allowed
  await assert.rejects(log.truncateFront(300n), code(WalErrorCodes.CONSUMER_UNCOMMITTED));
  assert.equal(log.firstIndex, 101n);
  await log.append('still writable'); // the refusal did not fail the log
  await log.truncateFront(300n, { force: true });
  const err = await c.read().then(
    () => assert.fail('expected a gap'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConsumerGapError);
  assert.equal(err.code, WalErrorCodes.CONSUMER_GAP);
  assert.equal(err.from, 101n);
  assert.equal(err.to, 299n);
  const next = await c.read({ maxRecords: 1 });
  assert.equal(next[0]!.index, 300n, 'continues after the gap');
  await log.close();
});

test('truncateBack below what a consumer read is a typed error until it seeks back, also after reopen', async () => {
  const dir = tempDir();
  let log = await Log.open(dir, small);
  await fill(log, 100);
  let c = await log.consumer('t');
  const offline = await log.consumer('off');
  await offline.read({ maxRecords: 90 });
  await offline.commit(90n);
  await offline.close();
  await c.read({ maxRecords: 80 });
  await c.commit(60n);
  await log.truncateBack(70n);
  await assert.rejects(c.read(), (e: unknown) => e instanceof ConsumerTruncatedError && e.lastIndex === 70n);
  assert.throws(() => c.seek(71n), code(WalErrorCodes.OUT_OF_RANGE));
  c.seek(70n);
  await fill(log, 5, 200);
  const got = await c.read();
  assert.deepEqual(
    got.map((e) => e.index),
    [71n, 72n, 73n, 74n, 75n],
  );
  assert.deepEqual(Buffer.from(got[0]!.data), rec(200));
  await c.close();
  await log.close();
  log = await Log.open(dir, small);
  // Closed at 90 before the cut to 70: told so when it opens again, even after the log grew past 90.
  await fill(log, 30, 300);
  const back = await log.consumer('off');
  await assert.rejects(back.read(), (e: unknown) => e instanceof ConsumerTruncatedError && e.lastIndex === 70n && e.position === 90n);
  back.seek(65n);
  await back.read({ maxRecords: 1 });
  await back.commit(66n); // below the old commit: allowed after the seek out of the truncation
  await back.close();
  c = await log.consumer('off');
  assert.equal(c.committed, 66n);
  assert.equal((await c.read({ maxRecords: 1 }))[0]!.index, 67n);
  await log.close();
});

test('closing the log ends a waiting read and closes its consumers', async () => {
  const log = await Log.open(tempDir(), small);
  const c = await log.consumer('c');
  const pending = c.read({ timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 10));
  await log.close();
  assert.deepEqual(await pending, []);
  await assert.rejects(c.read(), code(WalErrorCodes.CLOSED));
});

test('a consumer from before the journal (cursor file) resumes from it; commits go to the journal; delete removes it', async () => {
  const dir = tempDir();
  let log = await Log.open(dir, small);
  await fill(log, 30);
  const id = log.id;
  await log.close();
  // As an earlier version left it: seq 7, committed 12.
  await createCursorFile(defaultBackend, dir, 'old', { seq: 7n, committed: 12n, lastCommitAt: 1000, truncations: 0, logId: id });
  const legacy = path.join(dir, 'consumer.old.tmp');
  log = await Log.open(dir, small);
  assert.deepEqual(
    (await log.consumers()).map((i) => [i.name, i.committed]),
    [['old', 12n]],
  );
  let c = await log.consumer('old');
  assert.equal(c.committed, 12n);
  assert.equal((await c.read({ maxRecords: 3 }))[0]!.index, 13n);
  await c.commit(15n);
  await c.close();
  await log.close();
  // The journal record (seq 8) outranks the file, which is left as it was (behind, never ahead).
  assert.ok(fs.existsSync(legacy));
  log = await Log.open(dir, small);
  c = await log.consumer('old');
  assert.equal(c.committed, 15n);
  await c.close();
  await log.deleteConsumer('old');
  assert.ok(!fs.existsSync(legacy), 'delete removes the old cursor file');
  assert.deepEqual(await log.consumers(), []);
  await log.close();
  log = await Log.open(dir, small);
  assert.deepEqual(await log.consumers(), [], 'still deleted after a reopen');
  c = await log.consumer('old', { start: 20n });
  assert.equal(c.committed, 19n, 'created again afresh');
  await c.close();
  await log.close();
});

test("a commit issued before the next read starts its journal write before that read's decoding", async () => {
  // Overlapping a batch's commit with the next read is what keeps a drain near entries()' rate
  // (bench/README.md, Consumers): the write must not wait for the read's synchronous part.
  const order: string[] = [];
  const io = new Proxy(defaultBackend, {
    get(t, k) {
      if (k !== 'open') return Reflect.get(t, k, t) as unknown;
      return async (p: string, o?: Parameters<typeof defaultBackend.open>[1]) => {
        const f = await t.open(p, o);
        if (!path.basename(p).startsWith('consumers.journal')) return f;
        return new Proxy(f, {
          get(ft, fk) {
            const v = Reflect.get(ft, fk, ft) as unknown;
            if (fk !== 'write' || typeof v !== 'function') return typeof v === 'function' ? v.bind(ft) : v;
            return (...a: unknown[]) => {
              order.push('journal write');
              return (v as (...x: unknown[]) => unknown).apply(ft, a);
            };
          },
        });
      };
    },
  });
  const log = await Log.open(tempDir(), { ...small, io });
  await fill(log, 200);
  const c = await log.consumer('overlap');
  const original = BatchReader.prototype.read;
  BatchReader.prototype.read = function (...a: Parameters<BatchReader['read']>) {
    order.push('batch read');
    return original.apply(this, a);
  };
  try {
    const first = await c.read({ maxRecords: 100 });
    order.length = 0;
    const committed = c.commit(first[first.length - 1]!.index);
    const second = await c.read({ maxRecords: 100 });
    await committed;
    assert.equal(second.length, 100);
    assert.deepEqual(order.slice(0, 2), ['journal write', 'batch read']);
  } finally {
    BatchReader.prototype.read = original;
  }
  await c.close();
  await log.close();
});

test('read() defaults: at most 10,000 records and 1 MiB of data', async () => {
  const log = await Log.open(tempDir());
  await log.appendBatch(Array.from({ length: 12_000 }, (_, i) => Buffer.alloc(10, i & 0xff)));
  await log.appendBatch(Array.from({ length: 2_000 }, (_, i) => Buffer.alloc(1024, i & 0xff)));
  const c = await log.consumer('defaults');
  assert.equal((await c.read()).length, 10_000);
  const mixed = await c.read(); // 2,000 × 10 B, then 1 KiB records up to 1 MiB in all
  assert.equal(mixed.length, 2_000 + Math.floor((1024 * 1024 - 2_000 * 10) / 1024));
  await c.close();
  await log.close();
});
