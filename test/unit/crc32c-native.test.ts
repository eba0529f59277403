// Every C++ CRC-32C implementation this CPU can run (3-way SSE4.2, one-stream SSE4.2, ARMv8,
// table) against the independent pure-JS implementation (crc-32's slicing-by-16), on every
// length 0..4096 at every alignment 0..15, and on large buffers that reach the long-block
// three-stream path. Needs the addon; in the fallback run (WAL_NATIVE=0) it still runs when
// the addon is built, and is skipped only there when it is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { crc32cFallback, crc32cChainFallback } from '../../src/io/fallback';
import { loadNativeAddonForTests, resolveNativeAddonPath } from '../../src/io/native';
import { Worker } from 'node:worker_threads';
import { expectedBackend } from '../support/tmp';

const addon = loadNativeAddonForTests();
const skip = addon === undefined && expectedBackend === 'fallback' ? 'addon not built (fallback run)' : false;

test('the addon loads when the native backend is expected', { skip }, () => {
  assert.ok(addon, 'native addon failed to load');
  assert.ok(addon.crcImplementations.includes('table'));
  assert.ok(addon.crcImplementations.includes(addon.crcImplementation));
  if (process.arch === 'x64') assert.ok(addon.crcImplementations.includes('sse4.2'), 'x86-64 CPUs here have SSE4.2');
  assert.equal(addon.crc32cWith('no-such-implementation', new Uint8Array(1), 0), undefined);
});

test('each implementation equals the JS reference for every length 0..4096 at every alignment 0..15', { skip }, () => {
  const data = randomFillSync(new Uint8Array(4096 + 16));
  const names = addon!.crcImplementations;
  for (let offset = 0; offset < 16; offset++) {
    for (let length = 0; length <= 4096; length++) {
      const slice = data.subarray(offset, offset + length);
      const seed = (length * 2654435761) >>> 0;
      const want = crc32cFallback(slice, seed);
      // The dispatched entry point on every case; each named implementation on a sample of
      // lengths, which crosses every block boundary (8, 768 = 3 x 256) many times over.
      const got = addon!.crc32c(slice, seed);
      if (got !== want) assert.fail(`crc32c length ${length} offset ${offset}: ${got} != ${want}`);
      if (length % 7 === 0 || length < 64) {
        for (const name of names) {
          const v = addon!.crc32cWith(name, slice, seed);
          if (v !== want) assert.fail(`${name} length ${length} offset ${offset}: ${v} != ${want}`);
        }
      }
    }
  }
});

test('each implementation equals the JS reference on large buffers (long three-stream blocks), up to 64 MiB', { skip }, () => {
  const big = randomFillSync(new Uint8Array(64 * 1024 * 1024 + 8));
  const sizes = [24 * 1024 - 1, 24 * 1024, 24 * 1024 + 1, 3 * 8192 * 2 + 768 + 5, 100_003, 1 << 20, (1 << 20) + 3];
  for (const name of addon!.crcImplementations) {
    for (const size of sizes) {
      for (const offset of [0, 5]) {
        const slice = big.subarray(offset, offset + size);
        assert.equal(addon!.crc32cWith(name, slice, 0x12345678), crc32cFallback(slice, 0x12345678), `${name} ${size}+${offset}`);
      }
    }
  }
  for (const size of [16 << 20, 64 << 20]) {
    const slice = big.subarray(3, 3 + size);
    assert.equal(addon!.crc32c(slice, 0), crc32cFallback(slice, 0), `${size} bytes`);
  }
});

test('crc32cChain equals the JS reference chain', { skip }, () => {
  const data = randomFillSync(new Uint8Array(1 << 16));
  const bounds = new Uint32Array(2 * 500);
  let at = 0;
  for (let i = 0; i < 500; i++) {
    const len = (i * 37) % 120;
    bounds[2 * i] = at + (i % 3); // small gaps between slices
    bounds[2 * i + 1] = at + (i % 3) + len;
    at = bounds[2 * i + 1]!;
  }
  assert.deepEqual([...addon!.crc32cChain(data, bounds, 7)], [...crc32cChainFallback(data, bounds, 7)]);
});

test('crc32cChain on mixed record lengths (0..300, around 4096, larger) equals the JS reference', { skip }, () => {
  // Covers the interleaved three-record path and every reason to leave it (short or long records).
  let state = 12345;
  const next = (n: number): number => ((state = (state * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const bounds: number[] = [];
  let at = 0;
  for (let i = 0; i < 3000; i++) {
    const pick = next(100);
    const len = pick < 2 ? 4090 + next(12) : pick < 3 ? 9000 + next(100) : pick < 10 ? next(8) : next(301);
    at += next(3); // optional gap
    bounds.push(at, at + len);
    at += len;
  }
  const data = randomFillSync(new Uint8Array(at));
  const b = Uint32Array.from(bounds);
  for (const seed of [0, 0xffffffff, 0x1234567]) {
    const got = addon!.crc32cChain(data, b, seed);
    const want = crc32cChainFallback(data, b, seed);
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      if (got[i] !== want[i]) assert.fail(`record ${i} (length ${bounds[2 * i + 1]! - bounds[2 * i]!}): ${got[i]} != ${want[i]}`);
    }
  }
});

test('the raw addon rejects what would read out of bounds or dereference a non-buffer', { skip }, () => {
  assert.throws(() => addon!.crc32c('x' as unknown as Uint8Array, 0), TypeError);
  assert.throws(() => addon!.crc32c(new Uint16Array(2) as unknown as Uint8Array, 0), TypeError);
  assert.throws(() => addon!.crc32cChain(new Uint8Array(4), Uint32Array.of(0, 5), 0), RangeError);
  assert.throws(() => addon!.crc32cChain(new Uint8Array(4), Uint32Array.of(3, 2), 0), RangeError);
  assert.throws(() => addon!.crc32cChain(new Uint8Array(4), [0, 1] as unknown as Uint32Array, 0), TypeError);
});

test('the addon is context-aware: it loads and works in several worker threads at once', { skip }, async () => {
  const file = resolveNativeAddonPath();
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const addon = require(workerData);
    const data = Buffer.from('123456789', 'latin1');
    addon.fsync(1e6).catch((err) => parentPort.postMessage([addon.crc32c(data, 0), err.code]));
  `;
  const run = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(code, { eval: true, workerData: file });
      worker.once('message', (m) => {
        resolve(m);
        void worker.terminate();
      });
      worker.once('error', reject);
    });
  const results = await Promise.all([run(), run(), run()]);
  for (const r of results) assert.deepEqual(r, [0xe3069283, 'EBADF']);
  assert.equal(addon!.crc32c(Buffer.from('123456789', 'latin1'), 0), 0xe3069283); // main thread still fine
});
