import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { defaultBackend } from '../../src/io/backend';
import type { IoBackend, WalFile } from '../../src/io/types';
import { encodeLevelDBRecords, LevelDBLogWriter } from '../../src/leveldb/writer';
import { encodeWriteBatch } from '../../src/leveldb/write-batch';
import { readLevelDBLog } from '../../src/leveldb/reader';
import { tempDir } from '../support/tmp';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Counts the calls the writer makes through its io option. */
function countingIo(failWrites = false) {
  const calls = { chain: 0, crc: 0, write: 0, datasync: 0, fsyncDir: 0 };
  const io: IoBackend = Object.create(defaultBackend);
  io.fsyncDir = async (dir) => {
    calls.fsyncDir++;
    return defaultBackend.fsyncDir(dir);
  };
  io.crc32cChain = (data, bounds, seed) => {
    calls.chain++;
    return defaultBackend.crc32cChain(data, bounds, seed);
  };
  io.crc32c = (data, seed) => {
    calls.crc++;
    return defaultBackend.crc32c(data, seed);
  };
  io.open = async (p, opts) => {
    const file = await defaultBackend.open(p, opts);
    const wrapped: WalFile = Object.create(file);
    wrapped.write = async (buffers, position, o) => {
      calls.write++;
      if (o?.datasync) calls.datasync++;
      if (failWrites) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return file.write(buffers, position, o);
    };
    wrapped.datasync = async () => {
      calls.datasync++;
      return file.datasync();
    };
    return wrapped;
  };
  return { io, calls };
}

test('verified vectors: empty FULL record and FULL "foo" (spec §2)', () => {
  assert.equal(hex(encodeLevelDBRecords([new Uint8Array(0)]).bytes), '052b2843000001');
  assert.equal(hex(encodeLevelDBRecords([Buffer.from('foo')]).bytes), 'dd5fb37a030001666f6f');
});

test('first 34 bytes of a LevelDB 1.23 log: put hello -> world at sequence 1 (spec §2)', () => {
  const batch = encodeWriteBatch({
    sequence: 1n,
    ops: [{ type: 'put', key: Buffer.from('hello'), value: Buffer.from('world') }],
  });
  assert.equal(
    hex(encodeLevelDBRecords([batch]).bytes),
    'c8d2828119000101000000000000000100000001056865 6c6c6f05776f726c64'.replace(/ /g, ''),
  );
});

test('exactly 7 bytes left: a zero-length FIRST, the data in the next block (LevelDB log_format.md "Aside")', () => {
  const { bytes } = encodeLevelDBRecords([new Uint8Array(3)], 32768 - 7);
  assert.equal(bytes.length, 7 + 7 + 3);
  assert.deepEqual([...bytes.subarray(4, 7)], [0, 0, 2]); // length 0, FIRST
  assert.deepEqual([...bytes.subarray(7 + 4, 7 + 7)], [3, 0, 4]); // LAST in the next block
  // An empty record there is a zero-length FULL.
  assert.deepEqual([...encodeLevelDBRecords([new Uint8Array(0)], 32768 - 7).bytes.subarray(4, 7)], [0, 0, 1]);
});

test('fewer than 7 bytes left: a zero trailer, then the record at the next block', () => {
  for (let left = 0; left < 7; left++) {
    const { bytes, blockOffset } = encodeLevelDBRecords([Buffer.from('ab')], 32768 - left);
    assert.equal(bytes.length, left + 9, `left=${left}`);
    assert.ok(bytes.subarray(0, left).every((b) => b === 0));
    assert.equal(bytes[left + 6], 1);
    assert.equal(blockOffset, 9);
  }
});

test('fragments: FIRST/MIDDLE/LAST never cross a block, payload sizes add up', () => {
  fc.assert(
    fc.property(fc.array(fc.nat(80000), { minLength: 1, maxLength: 4 }), fc.nat(32768), (sizes, start) => {
      const records = sizes.map((n) => new Uint8Array(n).fill(n & 0xff));
      const { bytes, blockOffset } = encodeLevelDBRecords(records, start);
      let pos = 0;
      let payload = 0;
      const types: number[] = [];
      while (pos < bytes.length) {
        const inBlock = (start + pos) % 32768;
        if (32768 - inBlock < 7) {
          pos += 32768 - inBlock;
          continue;
        }
        const length = bytes[pos + 4]! | (bytes[pos + 5]! << 8);
        assert.ok(inBlock + 7 + length <= 32768, 'a fragment crosses a block');
        types.push(bytes[pos + 6]!);
        payload += length;
        pos += 7 + length;
      }
      assert.equal(pos, bytes.length);
      assert.equal(
        payload,
        sizes.reduce((a, b) => a + b, 0),
      );
      // LevelDB leaves block_offset at 32768 (not 0) when a fragment ends exactly at a block end.
      assert.equal(blockOffset % 32768, (start + bytes.length) % 32768);
      assert.ok(blockOffset >= 7 && blockOffset <= 32768);
      assert.equal(types.filter((t) => t === 1 || t === 2).length, sizes.length);
    }),
    { numRuns: 100 },
  );
});

test('addRecords: one write and one CRC call for the whole batch; sync in the same call', async () => {
  const file = path.join(tempDir(), '000001.log');
  const { io, calls } = countingIo();
  const writer = await LevelDBLogWriter.open(file, { io });
  const records = Array.from({ length: 500 }, (_, i) => new Uint8Array(100 + (i % 300)).fill(i & 0xff));
  await writer.addRecords(records, { sync: true });
  assert.deepEqual(calls, { chain: 1, crc: 0, write: 1, datasync: 1, fsyncDir: 1 });
  await writer.close();
  const back = [];
  for await (const r of readLevelDBLog(file)) back.push(Buffer.from(r.data));
  assert.deepEqual(
    back,
    records.map((r) => Buffer.from(r)),
  );
});

test('resuming an existing file continues its block (size % 32768), like Writer(dest, dest_length)', async () => {
  const file = path.join(tempDir(), '000002.log');
  const first = [new Uint8Array(30000).fill(1), new Uint8Array(2000).fill(2)];
  const second = [new Uint8Array(5000).fill(3)];
  let w = await LevelDBLogWriter.open(file);
  await w.addRecords(first);
  await w.close();
  w = await LevelDBLogWriter.open(file);
  assert.equal(w.size, fs.statSync(file).size);
  await w.addRecords(second);
  await w.close();
  const oneGo = encodeLevelDBRecords([...first, ...second]).bytes;
  assert.ok(fs.readFileSync(file).equals(oneGo));
});

test('writes issued without awaiting land in call order', async () => {
  const file = path.join(tempDir(), '000003.log');
  const w = await LevelDBLogWriter.open(file);
  const records = Array.from({ length: 50 }, (_, i) => new Uint8Array(i * 997).fill(i));
  await Promise.all(records.map((r) => w.addRecord(r)));
  await w.close();
  assert.ok(fs.readFileSync(file).equals(encodeLevelDBRecords(records).bytes));
});

test('after a failed write the writer refuses more writes (ERR_WAL_FAILED)', async () => {
  const file = path.join(tempDir(), '000004.log');
  const { io } = countingIo(true);
  const w = await LevelDBLogWriter.open(file, { io });
  await assert.rejects(w.addRecord(Buffer.from('x')), (e: unknown) => isWalError(e, WalErrorCodes.IO));
  await assert.rejects(w.addRecord(Buffer.from('y')), (e: unknown) => isWalError(e, WalErrorCodes.FAILED));
  await w.close();
  await assert.rejects(w.addRecord(Buffer.from('z')), (e: unknown) => isWalError(e, WalErrorCodes.CLOSED));
});

test('repairTail cuts a torn record before appending; without it, bytes follow the garbage', async () => {
  const dir = tempDir();
  for (const repairTail of [false, true]) {
    const file = path.join(dir, `${repairTail}.log`);
    let w = await LevelDBLogWriter.open(file);
    await w.addRecords([Buffer.from('one'), Buffer.from('two-two')]);
    await w.close();
    fs.truncateSync(file, fs.statSync(file).size - 2); // tear "two-two"
    w = await LevelDBLogWriter.open(file, { repairTail });
    await w.addRecord(Buffer.from('three'));
    await w.close();
    const got: string[] = [];
    const reports: string[] = [];
    for await (const r of readLevelDBLog(file, { onCorruption: (c) => reports.push(c.reason) })) {
      got.push(Buffer.from(r.data).toString());
    }
    if (repairTail) {
      assert.deepEqual(got, ['one', 'three']);
      assert.deepEqual(reports, []);
    } else {
      // The torn header's length now swallows the new record: LevelDB loses it (issue #1287).
      assert.deepEqual(got, ['one']);
    }
  }
});

test('addRecordSync / addRecordsSync write the same bytes as the async calls, alternating with them', async () => {
  const file = path.join(tempDir(), '000005.log');
  const records = Array.from({ length: 40 }, (_, i) => new Uint8Array((i * 7919) % 70000).fill(i));
  const w = await LevelDBLogWriter.open(file);
  w.addRecordSync(records[0]!);
  w.addRecordsSync(records.slice(1, 10), { sync: true });
  await w.addRecords(records.slice(10, 20));
  for (const r of records.slice(20)) w.addRecordSync(r);
  await w.close();
  assert.ok(fs.readFileSync(file).equals(encodeLevelDBRecords(records).bytes));
});

test('group commit: calls made while a write is in flight share one write and one fdatasync', async () => {
  const file = path.join(tempDir(), '000006.log');
  const { io, calls } = countingIo();
  const w = await LevelDBLogWriter.open(file, { io });
  const records = Array.from({ length: 50 }, (_, i) => new Uint8Array(100 + i * 331).fill(i));
  // The first call starts a write at once; the other 49 arrive while it is in flight.
  await Promise.all(records.map((r) => w.addRecord(r, { sync: true })));
  assert.equal(calls.write, 2);
  assert.equal(calls.datasync, 2);
  // A synchronous write would overtake pending ones on the way to the disk: refused until they are done.
  const more = [w.addRecord(Buffer.from('a')), w.addRecord(Buffer.from('b'))];
  assert.throws(
    () => w.addRecordSync(Buffer.from('x')),
    (e: unknown) => isWalError(e, WalErrorCodes.INVALID_ARGUMENT),
  );
  await Promise.all(more);
  w.addRecordSync(Buffer.from('c'));
  await Promise.all([w.addRecord(Buffer.from('d')), w.sync()]);
  await w.close();
  const expected = [...records, ...['a', 'b', 'c', 'd'].map((s) => Buffer.from(s))];
  assert.ok(fs.readFileSync(file).equals(encodeLevelDBRecords(expected).bytes));
});

test('creating the log fsyncs its directory (the new entry must survive power loss); reopening does not', async () => {
  const file = path.join(tempDir(), '000007.log');
  const { io, calls } = countingIo();
  await (await LevelDBLogWriter.open(file, { io })).close();
  assert.equal(calls.fsyncDir, 1);
  await (await LevelDBLogWriter.open(file, { io })).close();
  assert.equal(calls.fsyncDir, 1);
});

test('after close, addRecord/addRecords/sync reject (never throw synchronously) with ERR_WAL_CLOSED', async () => {
  const file = path.join(tempDir(), '000001.log');
  const w = await LevelDBLogWriter.open(file);
  await w.close();
  let threw = false;
  let pending: Promise<void>[] = [];
  try {
    pending = [w.addRecord(new Uint8Array(1)), w.addRecords([new Uint8Array(1)]), w.sync()];
  } catch {
    threw = true;
  }
  assert.equal(threw, false);
  for (const p of pending) await assert.rejects(p, { code: 'ERR_WAL_CLOSED' });
});

test('addRecordSync of records that fit their block (written header + caller bytes) matches the encoder at every block edge', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 32700, max: 32761 }), fc.integer({ min: 1000, max: 9000 })), {
        minLength: 1,
        maxLength: 60,
      }),
      async (sizes) => {
        const file = path.join(tempDir(), '000009.log');
        fs.rmSync(file, { force: true });
        const records = sizes.map((n, i) => new Uint8Array(n).fill(i * 37));
        const w = await LevelDBLogWriter.open(file);
        for (const r of records) w.addRecordSync(r);
        await w.close();
        assert.ok(fs.readFileSync(file).equals(encodeLevelDBRecords(records).bytes));
      },
    ),
    { numRuns: 60 },
  );
});
