// The addon's dedicated write + fdatasync thread (native/sync_thread.cc), raw and through the
// backend's `dedicatedThread` write option. The raw addon is exercised in both runs (under
// WAL_NATIVE=0 it is still built, just not chosen). Threads are counted in /proc/self/task.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createNativeBackend, loadNativeAddonForTests, resolveNativeAddonPath, type NativeAddon } from '../../src/io/native';
import { tempDir } from '../support/tmp';

const { O_RDWR, O_CREAT } = fs.constants;

function addon(): NativeAddon {
  const a = loadNativeAddonForTests();
  assert.ok(a, 'the addon must be built for the test suite (npm run build:native)');
  return a;
}

const threads = (): number => fs.readdirSync('/proc/self/task').length;

/** Waits until the thread count is `want` (a stopped thread leaves the task list soon after join). */
async function threadsBecome(want: number): Promise<void> {
  for (let i = 0; i < 200 && threads() !== want; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(threads(), want);
}

function openRaw(a: NativeAddon, file: string): number {
  return a.openSync(file, O_RDWR | O_CREAT, 0o600, false).fd;
}

test('sync thread: many concurrent writes all land, in submission order, and the thread stops on close', async () => {
  const a = addon();
  const file = path.join(tempDir(), 'many.bin');
  const fd = openRaw(a, file);
  await a.write(fd, [new Uint8Array(1)], 0, false, file); // start libuv's threadpool before counting
  const before = threads();
  const t = new a.SyncThread();
  assert.equal(threads(), before + 1);
  const writes: Promise<void>[] = [];
  // 300 writes of 64 bytes at distinct offsets, plus 100 overwrites of one block: the last wins
  // only if the jobs run in the order they were issued.
  for (let i = 0; i < 300; i++) writes.push(t.write(fd, new Uint8Array(64).fill(i & 0xff), 64 * i, i % 10 === 0, file));
  for (let i = 0; i < 100; i++) writes.push(t.write(fd, new Uint8Array(64).fill(i), 64 * 300, i === 99, file));
  assert.equal(t.pending, 400);
  await Promise.all(writes);
  assert.equal(t.pending, 0);
  const disk = fs.readFileSync(file);
  assert.equal(disk.length, 64 * 301);
  for (let i = 0; i < 300; i++)
    assert.ok(
      disk.subarray(64 * i, 64 * (i + 1)).every((b) => b === (i & 0xff)),
      `block ${i}`,
    );
  assert.ok(
    disk.subarray(64 * 300).every((b) => b === 99),
    'the overwrites ran in order',
  );
  t.close();
  await threadsBecome(before);
  assert.throws(() => t.write(fd, new Uint8Array(1), 0, false, file), /closed/);
  t.close(); // twice is harmless
  a.closeSync(fd, file);
});

test('sync thread: close() while writes are queued lets them finish, then stops the thread', async () => {
  const a = addon();
  const file = path.join(tempDir(), 'queued.bin');
  const fd = openRaw(a, file);
  const before = threads();
  const t = new a.SyncThread(0);
  const data = new Uint8Array(256 * 1024).fill(7);
  const writes = Array.from({ length: 20 }, (_, i) => t.write(fd, data, i * data.length, true, file));
  t.close();
  assert.ok(t.pending > 0, 'close() must not wait (nor block the event loop)');
  assert.throws(() => t.write(fd, data, 0, false, file), /closed/);
  await Promise.all(writes);
  assert.equal(fs.statSync(file).size, 20 * data.length);
  await threadsBecome(before);
  a.closeSync(fd, file);
});

test('sync thread: a failed write rejects with a Node-style error and the thread carries on', async () => {
  const a = addon();
  const file = path.join(tempDir(), 'err.bin');
  const fd = openRaw(a, file);
  const t = new a.SyncThread();
  await assert.rejects(t.write(1_000_000, new Uint8Array(8), 0, true, '/some/file'), {
    code: 'EBADF',
    syscall: 'write',
    path: '/some/file',
  });
  await t.write(fd, Uint8Array.of(1, 2, 3), 0, true, file);
  assert.deepEqual([...fs.readFileSync(file)], [1, 2, 3]);
  assert.throws(() => t.write(fd, 'x' as unknown as Uint8Array, 0, false, file), TypeError);
  assert.throws(() => new a.SyncThread(-1), RangeError);
  t.close();
  a.closeSync(fd, file);
});

test('sync thread: after sleeping (no spin, idle gaps) it wakes for the next write', async () => {
  const a = addon();
  const file = path.join(tempDir(), 'idle.bin');
  const fd = openRaw(a, file);
  for (const spin of [0, 50]) {
    const t = new a.SyncThread(spin);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 3));
      await t.write(fd, Uint8Array.of(i + spin), i, i === 4, file);
    }
    t.close();
  }
  assert.deepEqual([...fs.readFileSync(file)], [50, 51, 52, 53, 54]);
  a.closeSync(fd, file);
});

test('sync thread: an idle thread does not keep the process alive, and one left open is joined at exit', () => {
  const file = path.join(tempDir(), 'exit.bin');
  const script = `
    const fs = require('node:fs');
    const a = require(${JSON.stringify(resolveNativeAddonPath())});
    const fd = fs.openSync(${JSON.stringify(file)}, 'w');
    const t = new a.SyncThread();
    const pending = new a.SyncThread(0);
    t.write(fd, Buffer.from('done'), 0, true, '').then(() => {
      // A write still queued when the script ends: the loop waits for it, then exits.
      pending.write(fd, Buffer.from('more'), 4, true, '');
    });
  `;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(fs.readFileSync(file, 'utf8'), 'donemore');
});

test('sync thread: an unclosed object is stopped by the garbage collector', () => {
  const file = path.join(tempDir(), 'gc.bin');
  const script = `
    const fs = require('node:fs');
    const a = require(${JSON.stringify(resolveNativeAddonPath())});
    const threads = () => fs.readdirSync('/proc/self/task').length;
    const fd = fs.openSync(${JSON.stringify(file)}, 'w');
    (async () => {
      await a.write(fd, [Buffer.alloc(1)], 0, false, '');
      const before = threads();
      for (let i = 0; i < 8; i++) await new a.SyncThread().write(fd, Buffer.from([i]), i, false, '');
      for (let i = 0; i < 50 && threads() !== before; i++) {
        globalThis.gc();
        await new Promise((r) => setTimeout(r, 10));
      }
      process.stdout.write(JSON.stringify({ before, after: threads() }));
    })();
  `;
  const run = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stderr);
  const { before, after } = JSON.parse(run.stdout) as { before: number; after: number };
  assert.equal(after, before);
});

test('sync thread: a worker that exits or is terminated with writes in flight stops its threads', async () => {
  const file = path.join(tempDir(), 'worker.bin');
  fs.writeFileSync(file, '');
  const before = threads();
  const body = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const a = require(workerData.addon);
    const fd = fs.openSync(workerData.file, 'r+');
    const ts = [new a.SyncThread(), new a.SyncThread(0), new a.SyncThread()];
    const big = Buffer.alloc(1 << 20, 1);
    for (let i = 0; i < 30; i++) ts[i % 3].write(fd, big, i << 20, true, '');
    parentPort.postMessage('queued');
    if (workerData.mode === 'exit') process.exit(0);
    setInterval(() => {}, 1000);
  `;
  for (const mode of ['exit', 'terminate']) {
    const w = new Worker(body, { eval: true, workerData: { addon: resolveNativeAddonPath(), file, mode } });
    await new Promise<void>((resolve, reject) => {
      w.once('error', reject);
      w.once('message', () => resolve());
    });
    if (mode === 'terminate') await w.terminate();
    else await new Promise((r) => w.once('exit', r));
    await threadsBecome(before);
  }
});

// The native backend explicitly (also in the WAL_NATIVE=0 run; the fallback ignores the option).
const nativeIo = () => createNativeBackend(addon(), 'test');

test("native backend: dedicatedThread writes go through the file's own thread, stopped by close()", async () => {
  const io = nativeIo();
  const file = path.join(tempDir(), 'backend.bin');
  const f = await io.open(file, { write: true, create: true });
  await f.write([new Uint8Array(300 * 1024)], 0); // a threadpool write (above the inline limit) first
  const before = threads();
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) writes.push(f.write([Uint8Array.of(i)], i, { datasync: true, dedicatedThread: true }));
  writes.push(f.write([Uint8Array.of(200), Uint8Array.of(201)], 50, { datasync: true, dedicatedThread: true }));
  assert.equal(threads(), before + 1);
  await f.close(); // waits for the writes
  await Promise.all(writes);
  await threadsBecome(before);
  const disk = fs.readFileSync(file);
  assert.deepEqual([...disk.subarray(0, 52)], [...Array.from({ length: 50 }, (_, i) => i), 200, 201]);
  await assert.rejects(f.write([Uint8Array.of(1)], 0, { datasync: true, dedicatedThread: true }), { code: 'EBADF' });
});

test('native backend: closeSync with dedicated writes in flight closes the descriptor after them', async () => {
  const io = nativeIo();
  const file = path.join(tempDir(), 'closesync.bin');
  const f = await io.open(file, { write: true, create: true });
  const data = new Uint8Array(1 << 20).fill(3);
  const writes = Array.from({ length: 8 }, (_, i) => f.write([data], i << 20, { datasync: true, dedicatedThread: true }));
  f.closeSync();
  await Promise.all(writes);
  assert.equal(fs.statSync(file).size, 8 << 20);
});
