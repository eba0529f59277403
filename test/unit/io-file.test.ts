// File primitives through the chosen backend (native or fallback, per WAL_NATIVE): the bytes
// on disk are checked with node:fs, independently of the backend under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { execFileSync } from 'node:child_process';
import { defaultBackend as io } from '../../src/io/backend';
import { loadNativeAddonForTests, resolveNativeAddonPath } from '../../src/io/native';
import { expectedBackend, tempDir } from '../support/tmp';

const isNative = expectedBackend === 'native';

function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

function pattern(n: number, salt: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + salt) & 0xff;
  return b;
}

test('write then read back, async and sync', async () => {
  const file = path.join(tempDir(), 'a.bin');
  const f = await io.open(file, { write: true, create: true });
  assert.equal(f.direct, false);
  assert.equal(f.alignment, 1);
  const a = pattern(1000, 1);
  await f.write([a], 0);
  f.writeSync([pattern(24, 2)], 1000);
  assert.equal(await f.size(), 1024);
  assert.equal(f.sizeSync(), 1024);
  const back = new Uint8Array(2000);
  assert.equal(await f.read(back, 0), 1024); // short only at end of file
  assert.deepEqual(back.subarray(0, 1000), a);
  const back2 = new Uint8Array(24);
  assert.equal(f.readSync(back2, 1000), 24);
  assert.deepEqual(back2, pattern(24, 2));
  assert.equal(await f.read(new Uint8Array(10), 5000), 0);
  await f.close();
  assert.equal(f.closed, true);
  const disk = fs.readFileSync(file);
  assert.deepEqual(new Uint8Array(disk.subarray(0, 1000)), a);
  assert.equal((fs.statSync(file).mode & 0o777).toString(8), '600');
});

test('pwritev of many buffers (more than IOV_MAX) lands in order, with datasync', async () => {
  const file = path.join(tempDir(), 'many.bin');
  const f = await io.open(file, { write: true, create: true });
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 2500; i++) parts.push(pattern(i % 17, i)); // includes empty buffers
  const base = new Uint8Array(1 << 16).fill(9);
  parts.push(base.subarray(100, 200)); // a view with an offset into a larger buffer
  await f.write(parts, 7, { datasync: true });
  f.writeSync(parts, 7 + Buffer.concat(parts).length, { datasync: true });
  await f.close();
  const want = Buffer.concat([Buffer.alloc(7), Buffer.concat(parts), Buffer.concat(parts)]);
  assert.deepEqual(fs.readFileSync(file), want);
});

test('buffers stay alive until a queued async write runs, even when the caller reuses its array', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'gc.bin');
  const f = await io.open(file, { write: true, create: true });
  // Native: fill the libuv threadpool with waiting lock calls so the writes below stay queued
  // while their buffers lose every JS reference but the backend's and are garbage-collected.
  const gate = path.join(dir, 'gate');
  const holder = await io.open(gate, { write: true, create: true });
  await holder.lock({ wait: false });
  const poolSize = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
  const waiters: Promise<void>[] = [];
  for (let i = 0; i < poolSize; i++) {
    const w = await io.open(gate, { write: true });
    waiters.push(w.lock({ wait: true }).then(() => w.close()));
  }
  await new Promise((r) => setTimeout(r, 50));

  const writes: Promise<void>[] = [];
  const reused: Uint8Array[] = [];
  for (let i = 0; i < 20; i++) {
    reused.length = 0; // a caller that reuses its array for the next batch
    reused.push(pattern(64 * 1024, i));
    writes.push(f.write(reused, i * 64 * 1024));
  }
  reused.length = 0;
  collectGarbage();
  await new Promise((r) => setTimeout(r, 100));
  collectGarbage();

  await holder.unlock(); // releases the gate (never queued behind the waiters)
  await Promise.all(waiters);
  await Promise.all(writes);
  await holder.close();
  await f.close();
  const disk = fs.readFileSync(file);
  for (let i = 0; i < 20; i++) {
    assert.deepEqual(new Uint8Array(disk.subarray(i * 65536, (i + 1) * 65536)), pattern(65536, i), `write ${i}`);
  }
});

test('truncate and allocate', async () => {
  const file = path.join(tempDir(), 'alloc.bin');
  const f = await io.open(file, { write: true, create: true });
  await f.write([pattern(100, 3)], 0);
  await f.allocate(0, 64 * 1024);
  assert.equal(await f.size(), 64 * 1024);
  const head = new Uint8Array(100);
  await f.read(head, 0);
  assert.deepEqual(head, pattern(100, 3)); // existing data kept
  const tail = new Uint8Array(1000).fill(1);
  await f.read(tail, 63 * 1024);
  assert.deepEqual(tail, new Uint8Array(1000)); // allocated space reads as zeros
  await f.allocate(0, 10); // never shrinks
  assert.equal(await f.size(), 64 * 1024);
  await f.truncate(50);
  assert.equal(await f.size(), 50);
  assert.equal(fs.statSync(file).size, 50);
  await f.sync();
  await f.datasync();
  await f.close();
  await io.fsyncDir(path.dirname(file));
});

test('open flags: exclusive create refuses an existing file, read-only refuses writes', async () => {
  const file = path.join(tempDir(), 'x.bin');
  const f = await io.open(file, { write: true, create: true, exclusive: true });
  await f.close();
  await assert.rejects(io.open(file, { write: true, create: true, exclusive: true }), { code: 'EEXIST', syscall: 'open' });
  await assert.rejects(io.open(file + '.missing'), { code: 'ENOENT', syscall: 'open', path: file + '.missing' });
  assert.throws(() => io.openSync(file + '.missing'), { code: 'ENOENT', errno: -2 });
  const r = io.openSync(file);
  await assert.rejects(r.write([new Uint8Array(1)], 0), { code: 'EBADF' });
  r.closeSync();
  const t = await io.open(file, { write: true, truncate: true });
  await t.write([pattern(10, 1)], 0);
  await t.close();
  assert.equal(fs.statSync(file).size, 10);
});

test('O_DIRECT on ext4 (/tmp): direct aligned writes, read back', async () => {
  const file = path.join(tempDir(), 'direct.bin');
  const f = await io.open(file, { write: true, create: true, direct: true });
  if (isNative) {
    assert.equal(f.direct, true, 'ext4 supports O_DIRECT');
    assert.ok(f.alignment >= 512 && (f.alignment & (f.alignment - 1)) === 0, `alignment ${f.alignment}`);
  } else {
    assert.equal(f.direct, false, 'the fallback never uses O_DIRECT');
  }
  const block = Math.max(f.alignment, 4096);
  const buf = io.allocAligned(2 * block, f.alignment);
  assert.equal(buf.length, 2 * block);
  assert.ok(
    buf.every((b) => b === 0),
    'allocAligned zero-fills',
  );
  buf.set(pattern(2 * block, 5));
  await f.write([buf.subarray(0, block), buf.subarray(block)], 0, { datasync: true });
  const back = io.allocAligned(2 * block, f.alignment);
  assert.equal(await f.read(back, 0), 2 * block);
  assert.deepEqual(back, buf);
  if (f.direct) {
    // The kernel refuses a misaligned direct write; it must come back as a clean error.
    await assert.rejects(f.write([pattern(3, 1)], 1), { code: 'EINVAL', syscall: 'write' });
  }
  await f.close();
  assert.deepEqual(new Uint8Array(fs.readFileSync(file)), buf);
});

test('O_DIRECT refused by the filesystem (procfs: EINVAL) falls back to buffered', async () => {
  const f = await io.open('/proc/self/status', { direct: true });
  assert.equal(f.direct, false);
  assert.equal(f.alignment, 1);
  const buf = new Uint8Array(64);
  assert.ok((await f.read(buf, 0)) > 0);
  assert.match(Buffer.from(buf).toString('latin1'), /^Name:/);
  await f.close();
});

test('O_DIRECT on tmpfs (/dev/shm): whichever the kernel allows, data round-trips', async () => {
  // tmpfs refused O_DIRECT until Linux 6.6 and accepts it since; both outcomes must work.
  const dir = fs.mkdtempSync('/dev/shm/nodewal-');
  try {
    const file = path.join(dir, 'shm.bin');
    const f = await io.open(file, { write: true, create: true, exclusive: true, direct: true });
    if (!isNative) assert.equal(f.direct, false);
    assert.equal(f.alignment > 1, f.direct);
    const buf = io.allocAligned(8192, Math.max(f.alignment, 1));
    buf.set(pattern(8192, 9));
    await f.write([buf], 0);
    await f.close();
    assert.deepEqual(new Uint8Array(fs.readFileSync(file)), buf);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('allocAligned returns zeroed buffers at the requested alignment', () => {
  for (const alignment of [1, 512, 4096]) {
    const b = io.allocAligned(10000, alignment);
    assert.equal(b.length, 10000);
    assert.ok(b.every((x) => x === 0));
  }
  assert.equal(io.allocAligned(0, 4096).length, 0);
  assert.throws(() => io.allocAligned(10, 3), RangeError);
  assert.throws(() => io.allocAligned(-1, 512), RangeError);
});

test('operations on a closed file fail with EBADF, no crash', async () => {
  const file = path.join(tempDir(), 'closed.bin');
  const f = await io.open(file, { write: true, create: true });
  await f.close();
  await f.close(); // idempotent
  f.closeSync();
  await assert.rejects(f.datasync(), { code: 'EBADF' });
  await assert.rejects(f.sync(), { code: 'EBADF' });
  await assert.rejects(f.write([new Uint8Array(1)], 0), { code: 'EBADF' });
  await assert.rejects(f.read(new Uint8Array(1), 0), { code: 'EBADF' });
  await assert.rejects(f.size(), { code: 'EBADF' });
  assert.throws(() => f.writeSync([new Uint8Array(1)], 0), { code: 'EBADF' });
  assert.throws(() => f.sizeSync(), { code: 'EBADF' });
});

test('fsyncDir of a missing directory is an ENOENT error', async () => {
  await assert.rejects(io.fsyncDir(path.join(tempDir(), 'nope')), { code: 'ENOENT' });
});

// The raw addon is exercised in both runs: under WAL_NATIVE=0 it is still built, just not chosen.
test('addon: a bad descriptor gives a Node-style error from every call, never a crash', async () => {
  const addon = loadNativeAddonForTests();
  assert.ok(addon, 'the addon must be built for the test suite (npm run build:native)');
  const bad = 1_000_000; // beyond any open descriptor
  const node = (() => {
    try {
      fs.fsyncSync(bad);
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
    throw new Error('fsync of a bad fd succeeded');
  })();
  const shape = { code: 'EBADF', errno: -9, syscall: 'fsync', message: `${node.message} '/some/file'`, path: '/some/file' };
  await assert.rejects(addon.fsync(bad, '/some/file'), shape);
  assert.throws(() => addon.fsyncSync(bad, '/some/file'), shape);
  await assert.rejects(addon.datasync(bad, ''), { code: 'EBADF', syscall: 'fdatasync', message: 'EBADF: bad file descriptor, fdatasync' });
  await assert.rejects(addon.write(bad, [new Uint8Array(8)], 0, true, ''), { code: 'EBADF', syscall: 'write' });
  await assert.rejects(addon.read(bad, new Uint8Array(8), 0, ''), { code: 'EBADF', syscall: 'read' });
  await assert.rejects(addon.truncate(bad, 0, ''), { code: 'EBADF', syscall: 'ftruncate' });
  await assert.rejects(addon.allocate(bad, 0, 10, ''), { code: 'EBADF', syscall: 'fallocate' });
  await assert.rejects(addon.size(bad, ''), { code: 'EBADF', syscall: 'fstat' });
  await assert.rejects(addon.lock(bad, false, ''), { code: 'EBADF', syscall: 'fcntl' });
  await assert.rejects(addon.lock(bad, true, ''), { code: 'EBADF', syscall: 'fcntl' });
  await assert.rejects(addon.close(bad, ''), { code: 'EBADF', syscall: 'close' });
  assert.throws(() => addon.closeSync(-1, ''), { code: 'EBADF' });
  assert.throws(() => addon.writeSync(bad, [new Uint8Array(1), 'x' as unknown as Uint8Array], 0, false, ''), TypeError);
  // Hostile numbers (the TS layer never passes them) must not reach C++ as undefined behaviour.
  assert.throws(() => addon.truncateSync(bad, Number.NaN, ''), { code: 'EBADF' });
  assert.throws(
    () => addon.fsyncSync(1e300, ''),
    (err: NodeJS.ErrnoException) => typeof err.code === 'string',
  );
  assert.throws(() => addon.allocAligned(16, Number.NaN), RangeError);
  assert.throws(() => addon.allocAligned(1e20, 8), RangeError);
  assert.throws(() => addon.openSync('/nonexistent/x', Number.NaN, Infinity, false), { code: 'ENOENT' });
});

test('allocate of zero bytes is a no-op on every backend (etcd Preallocate semantics)', async () => {
  const file = path.join(tempDir(), 'zero-alloc.wal');
  const f = await io.open(file, { write: true, create: true });
  await f.write([new Uint8Array([1, 2, 3])], 0);
  await f.allocate(3, 0);
  await f.allocate(0, 0);
  assert.equal(await f.size(), 3);
  await assert.rejects(f.allocate(-1, 10), RangeError);
  await f.close();
});

test('an addon built from older sources (missing a call) is refused, and the fallback is used', () => {
  const real = loadNativeAddonForTests();
  assert.ok(real, 'the addon must be built for this test');
  const dir = tempDir('nodewal-stale-addon-');
  const shim = path.join(dir, 'stale.js');
  // The real addon without readv, as a binary built before readv existed would be.
  fs.writeFileSync(
    shim,
    `const a = require(${JSON.stringify(resolveNativeAddonPath())});\n` +
      `module.exports = new Proxy({}, { get: (_, k) => (k === 'readv' ? undefined : typeof a[k] === 'function' ? a[k].bind(a) : a[k]) });\n`,
  );
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const b = require(${JSON.stringify(path.resolve(__dirname, '../../src/io/backend'))}); console.log(JSON.stringify({ kind: b.backend.kind, reason: b.backend.reason }))`,
    ],
    {
      env: { ...process.env, WAL_NATIVE: '', WAL_NATIVE_PATH: shim, NODE_NO_WARNINGS: '1' },
      encoding: 'utf8',
    },
  );
  const seen = JSON.parse(out.trim().split('\n').pop()!) as { kind: string; reason: string };
  assert.equal(seen.kind, 'fallback');
  assert.match(seen.reason, /out of date \(no readv\)/);
});

test('a failed write names the file on both backends (ENOSPC from /dev/full), async and sync', async () => {
  // /dev/full fails every write with ENOSPC: a real full device without mounting anything.
  const f = await io.open('/dev/full', { read: false, write: true });
  try {
    const big = new Uint8Array(512 * 1024); // above the inline-write limit: the threadpool path
    for (const attempt of [
      () => f.write([big], 0),
      () => f.write([big], 0, { datasync: true }),
      async () => f.writeSync([new Uint8Array(10)], 0),
    ]) {
      await assert.rejects(attempt(), (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, 'ENOSPC');
        assert.equal(err.path, '/dev/full');
        assert.match(err.message, /\/dev\/full/);
        return true;
      });
    }
  } finally {
    await f.close();
  }
});
