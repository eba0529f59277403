import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { defaultBackend as io } from '../../src/io/backend';
import { isWalError } from '../../src/errors';
import {
  RecordType,
  decodeConfState,
  decodeEntry,
  decodeEntryAt,
  decodeHardState,
  decodeRecord,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeRecord,
  encodeSnapshot,
  type Entry,
} from '../../src/etcd/codec';
import { encodeEntryFrames, encodeFrames, checkRecordSize, MAX_WAL_ENTRY_SIZE_LIMIT } from '../../src/etcd/frame';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// Spec §2: the 72 bytes etcd 3.4.23 Create(dir, "somedata") writes (= upstream testdata/TestNew.wal).
const TEST_NEW_WAL = hex(`
  04000000 00000084 08041000 00000000
  12000000 00000086 08011085 d4fda007
  1a08736f 6d656461 74610000 00000000
  0e000000 00000082 08051080 db81c101
  1a040800 10000000`);

test('Create(somedata) frames match etcd golden bytes', () => {
  const out = encodeFrames(
    io,
    [
      { type: RecordType.Crc, data: null },
      { type: RecordType.Metadata, data: new TextEncoder().encode('somedata') },
      { type: RecordType.Snapshot, data: encodeSnapshot({ index: 0n, term: 0n }) },
    ],
    0,
  );
  assert.equal(toHex(out.bytes), toHex(TEST_NEW_WAL));
  assert.deepEqual(out.frameEnds, [16, 48, 72]);
  assert.equal(out.crc, 0x18206d80);
});

test('CRC vectors of spec §5', () => {
  assert.equal(io.crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  const c = io.crc32c(new TextEncoder().encode('somedata'));
  assert.equal(c, 0x741f6a05);
  assert.equal(io.crc32c(hex('08001000'), c), 0x18206d80);
});

test('HardState, Snapshot and ConfState encodings of spec §4', () => {
  assert.equal(toHex(encodeHardState({ term: 1n, vote: 0n, commit: 1n })), '080110001801');
  assert.equal(toHex(encodeSnapshot({ index: 0n, term: 0n })), '08001000');
  // The real fixture's vote (> 2^53) must survive.
  const vote = 3672727211031970531n;
  assert.deepEqual(decodeHardState(encodeHardState({ term: 2n, vote, commit: 802n })), { term: 2n, vote, commit: 802n });
  const cs = { voters: [1n, 2n], learners: [3n], votersOutgoing: [], learnersNext: [], autoLeave: true };
  const snap = encodeSnapshot({ index: 5n, term: 2n, confState: cs });
  assert.equal(toHex(snap), '08051002' + '1a08' + '0801080210032801');
  assert.deepEqual(decodeSnapshot(snap), { index: 5n, term: 2n, confState: cs });
  // packed repeated fields are accepted too
  assert.deepEqual(decodeConfState(hex('0a0201022801')).voters, [1n, 2n]);
});

test('Entry: field-number order, nil vs empty data', () => {
  assert.equal(toHex(encodeEntry({ term: 2n, index: 3n, type: 0, data: null })), '080010021803');
  assert.equal(toHex(encodeEntry({ term: 2n, index: 3n, type: 1, data: new Uint8Array(0) })), '0801100218032200');
  assert.equal(decodeEntry(hex('080010021803')).data, null);
  assert.deepEqual(decodeEntry(hex('0801100218032200')).data, new Uint8Array(0));
});

test('Record: crc always present, data only when non-null', () => {
  assert.equal(toHex(encodeRecord({ type: 4, crc: 0, data: null })), '08041000');
  assert.equal(toHex(encodeRecord({ type: 1, crc: 0, data: new Uint8Array(0) })), '080110001a00');
  const r = decodeRecord(hex('0801100a1a0161' + '2001')); // unknown field 4 is skipped
  assert.equal(r.type, 1);
  assert.equal(r.crc, 10);
  assert.deepEqual(r.data, hex('61'));
});

const arbEntry: fc.Arbitrary<Entry> = fc.record({
  term: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  index: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  type: fc.integer({ min: 0, max: 2 }),
  data: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }),
});

test('encodeEntryFrames is byte-identical to framing marshalled entries', () => {
  fc.assert(
    fc.property(fc.array(arbEntry, { maxLength: 20 }), fc.integer({ min: 0, max: 0xffffffff }), (entries, seed) => {
      const fast = encodeEntryFrames(io, entries, seed);
      const slow = encodeFrames(
        io,
        entries.map((e) => ({ type: RecordType.Entry, data: encodeEntry(e) })),
        seed,
      );
      assert.equal(toHex(fast.bytes), toHex(slow.bytes));
      // with recycled, dirty memory (the encoder's buffer pool) the bytes are the same
      const dirty = encodeEntryFrames(io, entries, seed, (n) => new Uint8Array(n).fill(0xa5));
      assert.equal(toHex(dirty.bytes), toHex(slow.bytes));
      assert.equal(fast.crc, slow.crc);
      assert.deepEqual(fast.frameEnds, slow.frameEnds);
      for (const e of entries) {
        const bytes = encodeEntry(e);
        assert.deepEqual(decodeEntry(bytes), { ...e });
        // the inline fast path agrees, also at an offset inside a larger buffer
        const padded = new Uint8Array(bytes.length + 5);
        padded.set(bytes, 3);
        assert.deepEqual(decodeEntryAt(padded, 3, 3 + bytes.length), { ...e });
      }
    }),
    { numRuns: 300 },
  );
});

test('encodeEntryFrames frames trailing records (a HardState) after the entries, byte-identical', () => {
  const arbRecord = fc.record({
    type: fc.integer({ min: 0, max: 200 }),
    data: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  });
  fc.assert(
    fc.property(
      fc.array(arbEntry, { minLength: 1, maxLength: 12 }),
      fc.array(arbRecord, { maxLength: 3 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (entries, trailing, seed) => {
        const slow = encodeFrames(io, [...entries.map((e) => ({ type: RecordType.Entry, data: encodeEntry(e) })), ...trailing], seed);
        // dirty recycled memory: every padding byte must still come out zero
        const fast = encodeEntryFrames(io, entries, seed, (n) => new Uint8Array(n).fill(0xff), trailing);
        assert.equal(toHex(fast.bytes), toHex(slow.bytes));
        assert.equal(fast.crc, slow.crc);
        assert.deepEqual(fast.frameEnds, slow.frameEnds);
      },
    ),
    { numRuns: 300 },
  );
});

test('encodeEntryFrames: runs of consecutive entries (what a Save holds) and breaks between them', () => {
  // Runs share type and term with consecutive indexes; a change of any of them, a nil data or an
  // index past 2^53 starts another run or takes the one-entry path.
  const arbRun = fc.record({
    term: fc.oneof(fc.constant(1n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
    first: fc.oneof(fc.bigInt({ min: 0n, max: 1n << 40n }), fc.bigInt({ min: (1n << 53n) - 3n, max: (1n << 53n) + 3n })),
    type: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 })),
    datas: fc.array(fc.option(fc.uint8Array({ maxLength: 200 }), { nil: null, freq: 8 }), { minLength: 1, maxLength: 12 }),
  });
  fc.assert(
    fc.property(fc.array(arbRun, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 0xffffffff }), (runs, seed) => {
      const entries: Entry[] = runs.flatMap((r) =>
        r.datas.map((data, k) => ({ term: r.term, index: r.first + BigInt(k), type: r.type, data })),
      );
      const fast = encodeEntryFrames(io, entries, seed, (n) => new Uint8Array(n).fill(0x5a));
      const slow = encodeFrames(
        io,
        entries.map((e) => ({ type: RecordType.Entry, data: encodeEntry(e) })),
        seed,
      );
      assert.equal(toHex(fast.bytes), toHex(slow.bytes));
      assert.equal(fast.crc, slow.crc);
      assert.deepEqual(fast.frameEnds, slow.frameEnds);
    }),
    { numRuns: 300 },
  );
});

test('record-size limit: refuse N >= 10 MiB - P, nothing produced', () => {
  assert.doesNotThrow(() => checkRecordSize(MAX_WAL_ENTRY_SIZE_LIMIT - 8)); // P = 0, N < limit
  assert.throws(
    () => checkRecordSize(MAX_WAL_ENTRY_SIZE_LIMIT),
    (e) => isWalError(e, 'ERR_WAL_RECORD_TOO_LARGE'),
  );
  assert.throws(
    () => checkRecordSize(MAX_WAL_ENTRY_SIZE_LIMIT - 1),
    (e) => isWalError(e, 'ERR_WAL_RECORD_TOO_LARGE'),
  );
  // spec §10: an entry with 10,485,600 data bytes is readable, 10,485,760 is not
  assert.doesNotThrow(() => encodeEntryFrames(io, [{ term: 1n, index: 1n, type: 0, data: new Uint8Array(10_485_600) }], 0));
  assert.throws(
    () => encodeEntryFrames(io, [{ term: 1n, index: 1n, type: 0, data: new Uint8Array(10_485_760) }], 0),
    (e) => isWalError(e, 'ERR_WAL_RECORD_TOO_LARGE'),
  );
});

test('decoders are total: garbage gives WalError only', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      for (const decode of [decodeRecord, decodeEntry, decodeHardState, decodeSnapshot, decodeConfState]) {
        try {
          decode(bytes);
        } catch (e) {
          assert.ok(isWalError(e, 'ERR_WAL_CORRUPT_PAYLOAD'), String(e));
        }
      }
    }),
    { numRuns: 2000 },
  );
  // a length that claims far more than the buffer holds is an error, not an allocation
  assert.throws(
    () => decodeRecord(hex('1affffffff0f')),
    (e) => isWalError(e, 'ERR_WAL_CORRUPT_PAYLOAD'),
  );
  // wire-type mismatch
  assert.throws(
    () => decodeRecord(hex('0a00')),
    (e) => isWalError(e, 'ERR_WAL_CORRUPT_PAYLOAD'),
  );
});
