// CRC-32C through the chosen backend (native or fallback, per WAL_NATIVE) against published
// check values, and the chaining laws every format relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import fc from 'fast-check';
import { defaultBackend as io } from '../../src/io/backend';
import { crc32c } from '../../src/crc32c';
import { loadNativeAddonForTests } from '../../src/io/native';
import { expectedBackend } from '../support/tmp';

const bytes = (n: number, f: (i: number) => number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => f(i));

test('runs on the backend WAL_NATIVE asks for', () => {
  assert.equal(io.kind, expectedBackend);
  const explicit = process.env['WAL_NATIVE_PATH'];
  if (explicit && expectedBackend === 'native') {
    // The sanitizer job must really run the binary it built.
    assert.ok(io.reason.includes(path.resolve(explicit)), `backend.reason: ${io.reason}`);
  }
  if (process.env['WAL_EXPECT_SANITIZED'] === '1') {
    assert.equal(loadNativeAddonForTests()?.sanitized, true, 'the sanitizer job must load the ASan/UBSan build');
  }
  console.log(`# backend: ${io.kind} (${io.reason}), crc: ${io.crcImplementation}`);
});

test('RFC 3720 B.4 and the standard check value', () => {
  // RFC 3720 (iSCSI) appendix B.4 CRC examples; "123456789" is the catalogue check value.
  assert.equal(io.crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(io.crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(io.crc32c(bytes(32, (i) => i)), 0x46dd794e);
  assert.equal(io.crc32c(bytes(32, (i) => 31 - i)), 0x113fdb5c);
  assert.equal(io.crc32c(Buffer.from('123456789', 'latin1')), 0xe3069283);
  assert.equal(crc32c(Buffer.from('123456789', 'latin1')), 0xe3069283);
  assert.equal(io.crc32c(new Uint8Array(0)), 0);
  assert.equal(io.crc32c(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef);
});

test('an offset view is checksummed from its own start', () => {
  const backing = new Uint8Array(64).fill(0xee);
  backing.set(Buffer.from('123456789', 'latin1'), 13);
  assert.equal(io.crc32c(backing.subarray(13, 22)), 0xe3069283);
});

test('chaining equals one-shot', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), (data, cutSeed) => {
      const cut = data.length === 0 ? 0 : cutSeed % (data.length + 1);
      const whole = io.crc32c(data);
      assert.equal(io.crc32c(data.subarray(cut), io.crc32c(data.subarray(0, cut))), whole);
    }),
    { numRuns: 300 },
  );
});

test('crc32cChain equals sequential single calls, gaps skipped', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 2000 }),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 40 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (data, cuts, seed) => {
        const points = cuts.flatMap(([a, b]) => [a % (data.length + 1), b % (data.length + 1)]).sort((x, y) => x - y);
        const bounds = Uint32Array.from(points);
        const got = io.crc32cChain(data, bounds, seed);
        let crc = seed;
        const want: number[] = [];
        for (let i = 0; i < points.length; i += 2) {
          crc = io.crc32c(data.subarray(points[i]!, points[i + 1]!), crc);
          want.push(crc);
        }
        assert.ok(got instanceof Uint32Array);
        assert.deepEqual([...got], want);
      },
    ),
    { numRuns: 300 },
  );
});

test('crc32cChain over a batch of 100-byte records matches one-shot over their concatenation', () => {
  const data = bytes(100 * 1000, (i) => (i * 7 + 3) & 0xff);
  const bounds = new Uint32Array(2000);
  for (let i = 0; i < 1000; i++) {
    bounds[2 * i] = 100 * i;
    bounds[2 * i + 1] = 100 * i + 100;
  }
  const chain = io.crc32cChain(data, bounds);
  assert.equal(chain.length, 1000);
  assert.equal(chain[999], io.crc32c(data));
  assert.equal(chain[0], io.crc32c(data.subarray(0, 100)));
});

test('crc32cChain rejects bad bounds instead of reading out of range', () => {
  const data = new Uint8Array(10);
  assert.throws(() => io.crc32cChain(data, Uint32Array.of(0, 11)), RangeError);
  assert.throws(() => io.crc32cChain(data, Uint32Array.of(5, 4)), RangeError);
  assert.throws(() => io.crc32cChain(data, Uint32Array.of(0)), RangeError);
  assert.equal(io.crc32cChain(data, new Uint32Array(0)).length, 0);
});

test('public crc32c validates its arguments', () => {
  assert.throws(() => crc32c('abc' as unknown as Uint8Array), TypeError);
  assert.throws(() => crc32c(new Uint8Array(1), -1), RangeError);
  assert.throws(() => crc32c(new Uint8Array(1), 2 ** 32), RangeError);
});
