// The shared varint module (src/codec/varint.ts) against protobuf's published encodings and,
// for every uint64, an independent reference encoder written here from the definition
// (7-bit groups, least significant first, continuation bit on all but the last byte).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  VARINT_TOO_LONG,
  VARINT_TRUNCATED,
  getUvarint,
  getUvarint32,
  getUvarintBig,
  putUvarint,
  putUvarintBig,
  scanUvarint,
  uvarintBytes,
  uvarintSize,
  uvarintSizeBig,
} from '../../src/codec/varint';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Reference: repeated division by 128, as the protobuf encoding guide describes it. */
function reference(n: bigint): string {
  const out: number[] = [];
  do {
    const group = Number(n % 128n);
    n /= 128n;
    out.push(n > 0n ? group + 128 : group);
  } while (n > 0n);
  return Buffer.from(out).toString('hex');
}

// protobuf.dev/programming-guides/encoding (1, 150, 300), Go's encoding/binary tests (2^63 and 2^64-1).
const KNOWN: [bigint, string][] = [
  [0n, '00'],
  [1n, '01'],
  [127n, '7f'],
  [128n, '8001'],
  [150n, '9601'],
  [300n, 'ac02'],
  [16383n, 'ff7f'],
  [16384n, '808001'],
  [0xffffffffn, 'ffffffff0f'],
  [2n ** 53n - 1n, 'ffffffffffffff0f'],
  [2n ** 63n, '80808080808080808001'],
  [2n ** 64n - 1n, 'ffffffffffffffffff01'],
];

test('varint: the published encodings', () => {
  for (const [n, want] of KNOWN) {
    assert.equal(hex(uvarintBytes(n)), want, `uvarintBytes(${n})`);
    assert.equal(uvarintSizeBig(n), want.length / 2, `uvarintSizeBig(${n})`);
    const bytes = Buffer.from(want, 'hex');
    assert.equal(scanUvarint(bytes, 0, bytes.length), bytes.length);
    assert.equal(getUvarintBig(bytes, 0), n);
    assert.equal(getUvarint32(bytes, 0), Number(n & 0xffffffffn));
    if (n <= BigInt(Number.MAX_SAFE_INTEGER)) {
      const out = new Uint8Array(10);
      assert.equal(hex(out.subarray(0, putUvarint(out, 0, Number(n)))), want, `putUvarint(${n})`);
      assert.equal(uvarintSize(Number(n)), want.length / 2);
      assert.equal(getUvarint(bytes, 0), Number(n));
    }
  }
});

test('varint: every uint64 encodes as the reference and decodes back', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat(4), (n, at) => {
      const out = new Uint8Array(at + 10).fill(0xee);
      const end = putUvarintBig(out, at, n);
      assert.equal(hex(out.subarray(at, end)), reference(n));
      assert.equal(end - at, uvarintSizeBig(n));
      assert.equal(scanUvarint(out, at, out.length), end);
      assert.equal(getUvarintBig(out, at), n);
      assert.equal(getUvarint32(out, at), Number(n & 0xffffffffn));
    }),
    { numRuns: 2000 },
  );
});

test('varint: every safe integer through the number API', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), (n) => {
      const out = new Uint8Array(10);
      const end = putUvarint(out, 0, n);
      assert.equal(hex(out.subarray(0, end)), reference(BigInt(n)));
      assert.equal(end, uvarintSize(n));
      assert.equal(getUvarint(out, 0), n);
    }),
    { numRuns: 2000 },
  );
});

test('varint: a cut or overlong varint is reported, not read past', () => {
  const v = Buffer.from('ac02', 'hex');
  assert.equal(scanUvarint(v, 0, 1), VARINT_TRUNCATED);
  assert.equal(scanUvarint(Buffer.alloc(0), 0, 0), VARINT_TRUNCATED);
  const eleven = Buffer.alloc(11, 0x80);
  assert.equal(scanUvarint(eleven, 0, eleven.length), VARINT_TOO_LONG);
  assert.equal(scanUvarint(Buffer.alloc(10, 0x80), 0, 10), VARINT_TOO_LONG);
  assert.equal(scanUvarint(Buffer.alloc(9, 0x80), 0, 9), VARINT_TRUNCATED);
  // LevelDB's varint32: at most 5 bytes.
  assert.equal(scanUvarint(Buffer.from('ffffffff0f', 'hex'), 0, 5, 5), 5);
  assert.equal(scanUvarint(Buffer.from('ffffffffff01', 'hex'), 0, 6, 5), VARINT_TOO_LONG);
});
