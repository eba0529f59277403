/**
 * The batch message format (src/forward/batch.ts): a hand-built body decodes to its records, any
 * run of records round-trips, and damaged messages give ERR_WAL_BATCH_CORRUPT — never a crash, a
 * huge allocation or a silently different record.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32c } from '../../src/crc32c';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { BATCH_HEADERS, batchRange, decodeBatch, encodeBatch, encodeBatchBody, encodedRecordSize } from '../../src/forward/batch';
import { BatchBody } from '../../src/forward/batch-body';

const LOG = '0123456789abcdef0123456789abcdef';
const isCorrupt = (e: unknown): boolean => isWalError(e, WalErrorCodes.BATCH_CORRUPT);

test('a body built by hand (uvarint 300 = AC 02, as protobuf documents it) decodes to its records', () => {
  const big = Buffer.alloc(300, 7);
  const body = Buffer.concat([Buffer.from([0x01, 0x61, 0x00, 0xac, 0x02]), big]);
  const headers = {
    'Wal-Batch-Format': '1',
    'Wal-Log-Id': LOG,
    'Wal-First-Index': '41',
    'Wal-Last-Index': '43',
    'Wal-Crc32c': crc32c(body).toString(16).padStart(8, '0'),
  };
  const b = decodeBatch(headers, body);
  assert.equal(b.logId, LOG);
  assert.deepEqual(
    b.records.map((r) => [r.index, Buffer.from(r.data).toString('hex')]),
    [
      [41n, '61'],
      [42n, ''],
      [43n, big.toString('hex')],
    ],
  );
  // And the encoder writes exactly those bytes and headers.
  const enc = encodeBatch(LOG, b.records);
  assert.deepEqual(Buffer.from(enc.body), body);
  assert.deepEqual(enc.headers, headers);
  assert.equal(encodedRecordSize(300), 302);
  assert.equal(encodedRecordSize(127), 128);
  assert.equal(encodedRecordSize(128), 130);
});

test('BatchBody writes the hand-built body above, bounds it by encoded bytes, drops a tail, refuses a gap', () => {
  const big = Buffer.alloc(300, 7);
  const hand = Buffer.concat([Buffer.from([0x01, 0x61, 0x00, 0xac, 0x02]), big]);
  const b = new BatchBody(hand.length, 1); // capacity 1: every add grows it
  b.add(41, Buffer.from('xay'), 1, 2);
  b.add(42, Buffer.alloc(0));
  assert.equal(b.fits(300), true, 'exactly the bound');
  assert.equal(b.fits(301), false);
  b.add(43, big);
  assert.deepEqual(Buffer.from(b.bytes), hand);
  assert.deepEqual([b.first, b.last, b.count, b.dataBytes, b.size], [41, 43, 3, 301, hand.length]);
  const enc = encodeBatchBody(LOG, b);
  assert.deepEqual(enc.headers, encodeBatch(LOG, decodeBatch(enc.headers, enc.body).records).headers);
  assert.equal(enc.headers['Wal-Crc32c'], crc32c(hand).toString(16).padStart(8, '0'));
  assert.throws(
    () => b.add(45, big),
    (e: unknown) => isWalError(e, WalErrorCodes.INVALID_ARGUMENT),
  );
  b.dropAfter(41);
  assert.deepEqual(Buffer.from(b.bytes), Buffer.from([0x01, 0x61]));
  assert.deepEqual([b.count, b.dataBytes, b.last], [1, 1, 41]);
  b.dropAfter(0);
  assert.deepEqual([b.count, b.size, b.first], [0, 0, 0]);
  // A first record larger than the bound still goes in alone.
  const small = new BatchBody(10);
  assert.equal(small.fits(1000), true);
  small.add(7, big);
  assert.equal(small.fits(0), false);
  assert.equal(small.size, 302);
  assert.throws(
    () => encodeBatchBody(LOG, new BatchBody(10)),
    (e: unknown) => isWalError(e, WalErrorCodes.INVALID_ARGUMENT),
  );
});

test('headers are read through get() (NATS MsgHdrs, Map) as well as from a plain object', () => {
  const enc = encodeBatch(LOG, [{ index: 5n, data: Buffer.from('x') }]);
  const map = new Map(Object.entries(enc.headers));
  assert.deepEqual(
    decodeBatch(map, enc.body).records.map((r) => r.index),
    [5n],
  );
  assert.deepEqual(batchRange(map), { logId: LOG, first: 5n, last: 5n });
  assert.equal(batchRange({}), null);
});

test('property: any run of records round-trips, with views into the body', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 1n, max: 2n ** 62n }),
      fc.array(fc.uint8Array({ maxLength: 700 }), { minLength: 1, maxLength: 40 }),
      (first, datas) => {
        const records = datas.map((data, i) => ({ index: first + BigInt(i), data }));
        const enc = encodeBatch(LOG, records);
        assert.equal(
          enc.body.length,
          datas.reduce((n, d) => n + encodedRecordSize(d.length), 0),
        );
        const dec = decodeBatch(enc.headers, enc.body);
        assert.equal(dec.first, first);
        assert.equal(dec.last, first + BigInt(datas.length - 1));
        assert.deepEqual(
          dec.records.map((r) => [r.index, Buffer.from(r.data)]),
          records.map((r) => [r.index, Buffer.from(r.data)]),
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('property: a flipped body byte or a truncated body is ERR_WAL_BATCH_CORRUPT (CRC), never another record set', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 20 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      fc.boolean(),
      (datas, pos, flip, truncate) => {
        const enc = encodeBatch(
          LOG,
          datas.map((data, i) => ({ index: BigInt(i + 1), data })),
        );
        const body = Buffer.from(enc.body);
        if (truncate) {
          assert.throws(() => decodeBatch(enc.headers, body.subarray(0, pos % body.length)), isCorrupt);
        } else {
          body[pos % body.length]! ^= flip;
          assert.throws(() => decodeBatch(enc.headers, body), isCorrupt);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('property: without the CRC header, damaged framing is still caught by the bounds checks', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 1000 }), (body, count) => {
      const headers = { 'Wal-Batch-Format': '1', 'Wal-Log-Id': LOG, 'Wal-First-Index': '1', 'Wal-Last-Index': String(count) };
      try {
        const b = decodeBatch(headers, body);
        // If it decodes, it is exactly `count` records covering the whole body.
        assert.equal(b.records.length, count);
        assert.equal(
          b.records.reduce((n, r) => n + encodedRecordSize(r.data.length), 0),
          body.length,
        );
      } catch (e) {
        assert.ok(isCorrupt(e), String(e));
      }
    }),
    { numRuns: 500 },
  );
});

test('bad headers are ERR_WAL_BATCH_CORRUPT: format, indexes, a count the body cannot hold', () => {
  const enc = encodeBatch(LOG, [{ index: 1n, data: Buffer.from('abc') }]);
  const h = (over: Record<string, string | undefined>): Record<string, string | undefined> => ({ ...enc.headers, ...over });
  for (const bad of [
    h({ [BATCH_HEADERS.format]: '2' }),
    h({ [BATCH_HEADERS.format]: undefined }),
    h({ [BATCH_HEADERS.logId]: undefined }),
    h({ [BATCH_HEADERS.first]: '0' }),
    h({ [BATCH_HEADERS.first]: '-1' }),
    h({ [BATCH_HEADERS.first]: '1e3' }),
    h({ [BATCH_HEADERS.last]: '99999999999999999999999' }),
    h({ [BATCH_HEADERS.first]: '2', [BATCH_HEADERS.last]: '1' }),
    h({ [BATCH_HEADERS.last]: '18446744073709551615', [BATCH_HEADERS.crc]: undefined }),
  ]) {
    assert.throws(() => decodeBatch(bad, enc.body), isCorrupt, JSON.stringify(bad));
  }
});

test('encodeBatch refuses an empty run, a gap and a log id that cannot travel in a header', () => {
  const bad = (e: unknown): boolean => isWalError(e, WalErrorCodes.INVALID_ARGUMENT);
  assert.throws(() => encodeBatch(LOG, []), bad);
  assert.throws(
    () =>
      encodeBatch(LOG, [
        { index: 1n, data: new Uint8Array() },
        { index: 3n, data: new Uint8Array() },
      ]),
    bad,
  );
  assert.throws(() => encodeBatch('a b\r\n', [{ index: 1n, data: new Uint8Array() }]), bad);
});
