// Read-only opens hosting consumers beside a live writer: in the same process (a second open),
// in a worker thread and in a child process. Only durable records, within a bounded delay; the
// name is excluded across opens; truncateBack and forced truncateFront are reported.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { WalErrorCodes, isWalError } from '../../src/errors';
import { ConsumerGapError, ConsumerTruncatedError } from '../../src/log/consumer-errors';
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

test('read-only open: reads durable records across segments, follows new ones within the poll delay', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, small);
  await fill(w, 1, 300);
  const ro = await Log.open(dir, { readOnly: true, pollMs: 2 });
  assert.equal(ro.id, w.id);
  assert.equal(ro.durableIndex, 300n);
  await assert.rejects(ro.append('x'), code(WalErrorCodes.READ_ONLY));
  const c = await ro.consumer('r');
  const seen: number[] = [];
  for (;;) {
    const b = await c.read({ maxRecords: 50 });
    if (b.length === 0) break;
    for (const e of b) {
      assert.deepEqual(Buffer.from(e.data), payload(Number(e.index)));
      seen.push(Number(e.index));
    }
    await c.commit(b[b.length - 1]!.index);
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  const delays: number[] = [];
  for (let i = 301; i <= 340; i++) {
    const pending = c.read({ timeoutMs: 5000 });
    const t0 = Date.now();
    await w.append(payload(i));
    const b = await pending;
    delays.push(Date.now() - t0);
    assert.deepEqual(
      b.map((e) => Number(e.index)),
      [i],
    );
    await c.commit(BigInt(i));
  }
  delays.sort((a, b) => a - b);
  assert.ok(delays[delays.length - 1]! < 2000, `delivery within the bound, worst ${delays[delays.length - 1]} ms`);
  // The writer sees the read-only host's commits.
  assert.deepEqual(
    (await w.consumers()).map((i) => [i.name, i.committed]),
    [['r', 340n]],
  );
  await assert.rejects(w.consumer('r'), code(WalErrorCodes.LOCKED));
  await c.close();
  const again = await w.consumer('r');
  assert.equal(again.committed, 340n);
  await assert.rejects(ro.consumer('r'), code(WalErrorCodes.LOCKED));
  await again.close();
  await ro.close();
  await w.close();
});

test('read-only open never delivers an undurable record (writer with syncPolicy none)', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, { ...small, syncPolicy: 'none' });
  await w.sync();
  const ro = await Log.open(dir, { readOnly: true, pollMs: 2 });
  const c = await ro.consumer('d');
  await fill(w, 1, 20); // written to the file, not synced
  assert.deepEqual(await c.read({ timeoutMs: 60 }), []);
  await w.sync();
  const b = await c.read({ timeoutMs: 2000 });
  assert.equal(b.length, 20);
  await ro.close();
  await w.close();
});

test('read-only open: truncateBack past what was read is reported; forced truncateFront gives the exact gap', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, small);
  await fill(w, 1, 200);
  const ro = await Log.open(dir, { readOnly: true, pollMs: 2 });
  const c = await ro.consumer('t');
  const b = await c.read({ maxRecords: 150 });
  assert.equal(b.length, 150);
  await c.commit(100n);
  await w.truncateBack(120n);
  await fill(w, 1000, 1010); // indexes 121..131 now name other records
  await ro.refresh();
  await assert.rejects(c.read(), (e: unknown) => e instanceof ConsumerTruncatedError && e.lastIndex === 120n);
  c.seek(120n);
  const after = await c.read({ timeoutMs: 2000 });
  assert.equal(after[0]!.index, 121n);
  assert.deepEqual(Buffer.from(after[0]!.data), payload(1000));
  await c.commit(after[after.length - 1]!.index);
  await fill(w, 2000, 2300);
  await w.truncateFront(400n, { force: true });
  await ro.refresh();
  const gap = await c.read().then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(gap instanceof ConsumerGapError, String(gap));
  assert.equal(gap.from, 132n);
  assert.equal(gap.to, 399n);
  assert.equal((await c.read({ maxRecords: 1 }))[0]!.index, 400n);
  await ro.close();
  await w.close();
});

test('read-only open of a directory without a log, or one never opened by this version, is a typed error', async () => {
  await assert.rejects(Log.open(tempDir(), { readOnly: true }), code(WalErrorCodes.FILE_NOT_FOUND));
});

test('a consumer in a worker thread and one in a child process follow a live writer', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const w = await Log.open(dir, small);
  await fill(w, 1, 100);
  const total = 600;
  const body = path.join(__dirname, '..', 'support', 'read-only-consumer-child.ts');
  const worker = new Worker(
    `require('tsx/cjs/api').register(); const { parentPort, workerData } = require('node:worker_threads');
     require(${JSON.stringify(body)}).consume(workerData.dir, 'in-worker', workerData.until, (m) => parentPort.postMessage(m))
       .catch((e) => parentPort.postMessage({ error: String(e) }));`,
    { eval: true, workerData: { dir, until: total } },
  );
  const workerMsgs: Record<string, unknown>[] = [];
  const workerDone = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: Record<string, unknown>) => {
      workerMsgs.push(m);
      if (m['done'] || m['error']) resolve();
    });
    worker.once('error', reject);
  });
  const child = spawn(process.execPath, ['--import', 'tsx', body, dir, 'in-child', String(total)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const childDone = new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? -1)));
  for (let i = 101; i <= total; i += 10) {
    await fill(w, i, i + 9);
    await new Promise((r) => setTimeout(r, 3));
  }
  assert.equal(await childDone, 0, out);
  await workerDone;
  await worker.terminate();
  for (const [who, msgs] of [
    ['worker', workerMsgs],
    [
      'child',
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    ],
  ] as const) {
    assert.ok(!msgs.some((m) => m['error']), `${who}: ${JSON.stringify(msgs.find((m) => m['error']))}`);
    const batches = msgs.filter((m) => 'first' in m);
    let next = 1;
    for (const b of batches) {
      assert.equal(b['first'], next, `${who}: batches in order without gaps`);
      assert.equal(b['ok'], true, `${who}: data intact`);
      next = (b['last'] as number) + 1;
    }
    assert.equal(next, total + 1, `${who}: delivered everything`);
  }
  const infos = await w.consumers();
  assert.deepEqual(
    infos.map((i) => [i.name, i.committed]),
    [
      ['in-child', BigInt(total)],
      ['in-worker', BigInt(total)],
    ],
  );
  // The read-only hosts wrote side journals (one each while both ran; a freed one is reused); the
  // writer hosted no consumer, so it has no main journal.
  const journals = fs.readdirSync(dir).filter((n) => /^consumers\.journal\.(\d+\.)?tmp$/.test(n));
  assert.ok(journals.length >= 1 && journals.every((n) => /^consumers\.journal\.[12]\.tmp$/.test(n)), journals.join(' '));
  await w.close();
});

test('read-only hosts commit through side journals: the writer sees them, a free journal is reused, deletes hold', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, small);
  await fill(w, 1, 30);
  const journals = (): string[] =>
    fs
      .readdirSync(dir)
      .filter((n) => /^consumers\.journal\.(\d+\.)?tmp$/.test(n))
      .sort();
  const ro1 = await Log.open(dir, { readOnly: true, pollMs: 2 });
  const s = await ro1.consumer('s');
  await s.read({ maxRecords: 5 });
  await s.commit(5n);
  assert.deepEqual(journals(), ['consumers.journal.1.tmp']);
  assert.deepEqual(
    (await w.consumers()).map((i) => [i.name, i.committed]),
    [['s', 5n]],
  );
  // Held in the read-only open: excluded for the writer too.
  await assert.rejects(w.consumer('s'), code(WalErrorCodes.LOCKED));
  const ro2 = await Log.open(dir, { readOnly: true, pollMs: 2 });
  const t = await ro2.consumer('t', { start: 'newest' });
  assert.deepEqual(journals(), ['consumers.journal.1.tmp', 'consumers.journal.2.tmp']);
  await s.close();
  await ro1.close();
  // ro1's journal is free again: the next read-only host takes it rather than making a third.
  const ro3 = await Log.open(dir, { readOnly: true, pollMs: 2 });
  const s3 = await ro3.consumer('s');
  assert.equal(s3.committed, 5n);
  await s3.read({ maxRecords: 5 });
  await s3.commit(10n);
  assert.deepEqual(journals(), ['consumers.journal.1.tmp', 'consumers.journal.2.tmp']);
  // The writer deletes t (closed in ro2); every host then agrees it is gone, and it stays gone after a reopen.
  await t.close();
  await w.deleteConsumer('t');
  assert.deepEqual(
    (await ro2.consumers()).map((i) => [i.name, i.committed]),
    [['s', 10n]],
  );
  await s3.close();
  await ro3.close();
  await ro2.close();
  await w.close();
  const again = await Log.open(dir, small);
  assert.deepEqual(
    (await again.consumers()).map((i) => [i.name, i.committed]),
    [['s', 10n]],
  );
  await again.close();
});

test('a consumer name held in another process is excluded on this backend, and freed when that process is killed', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, small);
  await fill(w, 1, 10);
  const src = path.resolve(__dirname, '../../src/log/log.ts');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const { Log } = require(${JSON.stringify(src)}); (async () => { const ro = await Log.open(${JSON.stringify(dir)}, { readOnly: true }); await ro.consumer('x'); console.log('held'); setInterval(() => {}, 1000); })().catch((e) => { console.error(e); process.exit(3); });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: process.env },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      child.on('exit', (c) => reject(new Error(`child exited ${c}`)));
    });
    await assert.rejects(w.consumer('x'), code(WalErrorCodes.LOCKED));
    await assert.rejects(w.deleteConsumer('x'), code(WalErrorCodes.LOCKED));
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  // Same PID namespace: the dead holder is seen at once (its pid is gone), no lease timeout.
  const c = await w.consumer('x');
  assert.equal(c.name, 'x');
  await c.close();
  await w.close();
});
