// ReadOnlyLog.tail() and get(): durable records only, as its consumers read; truncations reported;
// following a writer in another process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { WalErrorCodes, isWalError } from '../../src/errors';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { payload } from '../support/read-only-consumer-child';

const small = { segmentSize: 8192 };
const code = (c: string) => (err: unknown) => isWalError(err) && err.code === c;

async function fill(log: Log, from: number, to: number): Promise<void> {
  const datas: Buffer[] = [];
  for (let i = from; i <= to; i++) datas.push(payload(i));
  await log.appendBatch(datas);
}

/** Takes `n` entries from a follower. */
async function take(it: AsyncIterator<{ index: bigint; data: Uint8Array }>, n: number): Promise<{ index: number; data: Buffer }[]> {
  const out: { index: number; data: Buffer }[] = [];
  while (out.length < n) {
    const r = await it.next();
    assert.notEqual(r.done, true, `follower ended after ${out.length} of ${n}`);
    out.push({ index: Number(r.value.index), data: Buffer.from(r.value.data) });
  }
  return out;
}

test('read-only get(): durable records across segments, copies; outside [first, durable] is out of range', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, { ...small, syncPolicy: 'none' });
  await fill(w, 1, 300);
  await w.sync();
  await fill(w, 301, 310); // written, not durable
  const ro = await Log.open(dir, { readOnly: true, pollMs: 2 });
  assert.equal(ro.durableIndex, 300n);
  for (const i of [1, 2, 150, 299, 300]) assert.deepEqual(Buffer.from(await ro.get(BigInt(i))), payload(i));
  const a = await ro.get(7n);
  a.fill(0);
  assert.deepEqual(Buffer.from(await ro.get(7n)), payload(7), 'get returns a copy');
  await assert.rejects(ro.get(301n), code(WalErrorCodes.OUT_OF_RANGE), 'an undurable record is not read');
  await assert.rejects(ro.get(0n), code(WalErrorCodes.OUT_OF_RANGE));
  await assert.rejects(ro.get(-1n), code(WalErrorCodes.INVALID_ARGUMENT));
  await w.sync();
  await ro.refresh();
  assert.deepEqual(Buffer.from(await ro.get(305n)), payload(305));
  await w.truncateFront(200n, { force: true });
  await ro.refresh();
  await assert.rejects(ro.get(199n), code(WalErrorCodes.OUT_OF_RANGE));
  assert.deepEqual(Buffer.from(await ro.get(200n)), payload(200));
  // truncateBack gives indexes to new records: get reads the new ones.
  await w.truncateBack(250n);
  await fill(w, 5000, 5009);
  await w.sync();
  await ro.refresh();
  assert.deepEqual(Buffer.from(await ro.get(251n)), payload(5000));
  assert.deepEqual(Buffer.from(await ro.get(260n)), payload(5009));
  await assert.rejects(ro.get(261n), code(WalErrorCodes.OUT_OF_RANGE));
  await ro.close();
  await assert.rejects(ro.get(200n), code(WalErrorCodes.CLOSED));
  await w.close();
});

test('read-only tail(): from an index, follows new durable records only, ends on close', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, { ...small, syncPolicy: 'none' });
  await fill(w, 1, 1500);
  await w.sync();
  const ro = await Log.open(dir, { readOnly: true, pollMs: 2 });
  const it = ro.tail({ from: 2n })[Symbol.asyncIterator]();
  const first = await take(it, 1499);
  assert.deepEqual(
    first.map((e) => e.index),
    Array.from({ length: 1499 }, (_, k) => k + 2),
  );
  for (const e of first) assert.deepEqual(e.data, payload(e.index));
  await fill(w, 1501, 1520); // not durable yet: the follower must not see them
  const pending = it.next();
  const raced = await Promise.race([pending.then(() => 'yielded'), new Promise((r) => setTimeout(() => r('waiting'), 80))]);
  assert.equal(raced, 'waiting', 'no undurable record is yielded');
  await w.sync();
  const r = await pending;
  assert.equal(r.value?.index, 1501n);
  const rest = await take(it, 19);
  assert.deepEqual(
    rest.map((e) => e.index),
    Array.from({ length: 19 }, (_, k) => k + 1502),
  );
  // Default start: the next record to become durable.
  const fresh = ro.tail()[Symbol.asyncIterator]();
  const next = fresh.next();
  await fill(w, 1521, 1521);
  await w.sync();
  assert.equal((await next).value?.index, 1521n);
  assert.equal((await it.next()).value?.index, 1521n);
  const ending = it.next();
  await ro.close();
  assert.equal((await ending).done, true, 'the follower ends when the log closes');
  await w.close();
});

test('read-only tail(): an abort ends the wait; truncateBack below what was yielded is out of range', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, small);
  await fill(w, 1, 50);
  const ro = await Log.open(dir, { readOnly: true, pollMs: 2 });
  const ac = new AbortController();
  const aborted = ro.tail({ from: 51n, signal: ac.signal })[Symbol.asyncIterator]();
  const waiting = aborted.next();
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(waiting, code(WalErrorCodes.ABORTED));
  const it = ro.tail({ from: 1n })[Symbol.asyncIterator]();
  assert.equal((await take(it, 50)).length, 50);
  await w.truncateBack(40n);
  await fill(w, 900, 920); // indexes 41.. now name other records
  await ro.refresh();
  await assert.rejects(it.next(), code(WalErrorCodes.OUT_OF_RANGE));
  // A follower that had not yet passed the cut continues with the new records.
  const low = ro.tail({ from: 30n })[Symbol.asyncIterator]();
  const got = await take(low, 21);
  assert.deepEqual(
    got.map((e) => e.index),
    Array.from({ length: 21 }, (_, k) => k + 30),
  );
  assert.deepEqual(got[11]!.data, payload(900), 'index 41 is the new record');
  await ro.close();
  await w.close();
});

test('read-only tail() and get() follow a live writer in another process', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const seed = await Log.open(dir, small);
  await fill(seed, 1, 10);
  await seed.close();
  const total = 800;
  const src = path.resolve(__dirname, '../../src/log/log.ts');
  const helper = path.resolve(__dirname, '../support/read-only-consumer-child.ts');
  const script = `const { Log } = require(${JSON.stringify(src)}); const { payload } = require(${JSON.stringify(helper)});
    (async () => {
      const w = await Log.open(${JSON.stringify(dir)}, { segmentSize: 8192 });
      console.log('open');
      for (let i = 11; i <= ${total}; i += 10) {
        const d = []; for (let k = i; k < i + 10; k++) d.push(payload(k));
        await w.appendBatch(d);
        await new Promise((r) => setTimeout(r, 2));
      }
      console.log('written');
      await new Promise((r) => process.stdin.once('data', r));
      await w.close();
    })().catch((e) => { console.error(e); process.exit(3); });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
  let out = '';
  const opened = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('open')) resolve();
    });
    child.once('exit', (c) => reject(new Error(`writer exited ${c}: ${out}`)));
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? -1)));
  try {
    await opened;
    const ro = await Log.open(dir, { readOnly: true, pollMs: 2 });
    const it = ro.tail({ from: 1n })[Symbol.asyncIterator]();
    let n = 0;
    while (n < total) {
      const [e] = await take(it, 1);
      n++;
      assert.equal(e!.index, n, 'in order, no gaps');
      assert.deepEqual(e!.data, payload(n));
      assert.ok(BigInt(n) <= ro.durableIndex, 'never past the durable index');
      if (n % 97 === 0) assert.deepEqual(Buffer.from(await ro.get(BigInt(n - 50))), payload(n - 50));
    }
    await ro.close();
    child.stdin.end('close\n');
    assert.equal(await exited, 0, out);
  } finally {
    child.kill('SIGKILL');
  }
});

test('read-only lagBytes is lagRecords x the mean data size of the records this open has read', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, small);
  await w.appendBatch([Buffer.alloc(10), Buffer.alloc(30), Buffer.alloc(50), Buffer.alloc(70)]);
  const ro = await Log.open(dir, { readOnly: true, pollMs: 2 });
  const c = await ro.consumer('lag');
  assert.equal(c.info().lagBytes, 0, 'nothing read yet: 0');
  assert.equal((await c.read({ maxRecords: 2 })).length, 2);
  await c.commit(1n);
  // Read so far: 10 and 30 bytes (mean 20); 3 records after the commit.
  assert.equal(c.info().lagRecords, 3n);
  assert.equal(c.info().lagBytes, 60);
  await c.close();
  await ro.close();
  await w.close();
});
