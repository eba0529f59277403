/**
 * The reader's fault catalogue (named like LevelDB's db/log_test.cc). Expected records and reports
 * are the ones LevelDB 1.23 produced on the same inputs (spec §4.4, variants v01-v15); the
 * interop suite checks thousands more against LevelDB itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { crc32c } from '../../src/crc32c';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { defaultBackend } from '../../src/io/backend';
import type { IoBackend, WalFile } from '../../src/io/types';
import { maskCrc } from '../../src/leveldb/format';
import { levelDBScanFor, registerLevelDBScan } from '../../src/leveldb/native-scan';
import { readLevelDBLog, type LevelDBReadOptions } from '../../src/leveldb/reader';
import { encodeLevelDBRecords } from '../../src/leveldb/writer';
import { tempDir } from '../support/tmp';

const dir = tempDir('nodewal-ldbr-');
let fileCount = 0;

function logFile(bytes: Uint8Array, name?: string): string {
  const file = path.join(dir, name ?? `${String(++fileCount).padStart(6, '0')}.log`);
  fs.writeFileSync(file, bytes);
  return file;
}

async function read(bytes: Uint8Array | string, options: LevelDBReadOptions = {}) {
  const file = typeof bytes === 'string' ? bytes : logFile(bytes);
  const records: { offset: number; data: string }[] = [];
  const reports: { bytes: number; reason: string }[] = [];
  const reader = readLevelDBLog(file, {
    onCorruption: (r) => reports.push({ bytes: r.bytes, reason: r.reason }),
    ...options,
  });
  for await (const r of reader) records.push({ offset: r.offset, data: Buffer.from(r.data).toString('latin1') });
  return { records, reports, end: reader.endOfLastRecord };
}

const str = (s: string) => Buffer.from(s, 'latin1');
const big = (c: string, n: number) => c.repeat(n);
const log = (...records: string[]) => encodeLevelDBRecords(records.map(str)).bytes;

/** One physical record with a valid CRC (type byte and payload, masked). */
function physical(type: number, payload: string): Uint8Array {
  const out = new Uint8Array(7 + payload.length);
  out.set(str(payload), 7);
  out[4] = payload.length & 0xff;
  out[5] = payload.length >>> 8;
  out[6] = type;
  new DataView(out.buffer).setUint32(0, maskCrc(crc32c(out.subarray(6))), true);
  return out;
}

const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

test('round trip: records, offsets and the end of the last record', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof(fc.nat(50), fc.nat(70000)), { maxLength: 6 }), async (sizes) => {
      const records = sizes.map((n, i) => big(String.fromCharCode(97 + (i % 26)), n));
      const bytes = log(...records);
      const got = await read(bytes);
      assert.deepEqual(
        got.records.map((r) => r.data),
        records,
      );
      assert.deepEqual(got.reports, []);
      assert.equal(got.end, bytes.length);
      if (got.records.length > 0) assert.equal(got.records[0]!.offset, 0);
    }),
    { numRuns: 40 },
  );
});

test('ChecksumMismatch: the rest of the block is dropped and reported (v01)', async () => {
  const bytes = log('foo', 'bar', 'baz');
  bytes[10 + 7 + 1] ^= 1; // a payload byte of 'bar'
  assert.deepEqual(await read(bytes), {
    records: [{ offset: 0, data: 'foo' }],
    reports: [{ bytes: 20, reason: 'checksum mismatch' }],
    end: 10,
  });
});

test('checksum: false returns the damaged payload', async () => {
  const bytes = log('foo', 'bar');
  bytes[10 + 7] = 0x63;
  assert.deepEqual(
    (await read(bytes, { checksum: false })).records.map((r) => r.data),
    ['foo', 'car'],
  );
});

test('BadLength in a full block is reported; in the final partial block it is a silent end (v10, v11)', async () => {
  const full = log(big('a', 100), big('b', 32768 - 7 - 107), 'next');
  full[107 + 5] = 0xff; // length of the second record, which ends the first block
  assert.deepEqual((await read(full)).reports, [{ bytes: 32768 - 107, reason: 'bad record length' }]);
  assert.deepEqual(
    (await read(full)).records.map((r) => r.data),
    [big('a', 100), 'next'],
  );

  const last = log('foo', 'bar');
  last[10 + 4] = 50;
  assert.deepEqual(await read(last), { records: [{ offset: 0, data: 'foo' }], reports: [], end: 10 });
  assert.deepEqual((await read(last, { strict: true })).reports, [{ bytes: 10, reason: 'truncated record at end of file' }]);
});

test('TruncatedTrailingRecordIsIgnored: a torn header or payload at the end is silent (v04, v05)', async () => {
  const bytes = log('foo', 'barbaz');
  for (const cut of [13, 16, 18]) {
    assert.deepEqual(await read(bytes.subarray(0, cut)), { records: [{ offset: 0, data: 'foo' }], reports: [], end: 10 });
  }
  assert.deepEqual((await read(bytes.subarray(0, 13), { strict: true })).reports, [
    { bytes: 3, reason: 'truncated header at end of file' },
  ]);
});

test('MissingLastIsIgnored: a file ending after FIRST/MIDDLE drops the record silently (v06)', async () => {
  const bytes = log('foo', big('x', 40000));
  const cut = bytes.subarray(0, 32768);
  assert.deepEqual(await read(cut), { records: [{ offset: 0, data: 'foo' }], reports: [], end: 10 });
  assert.deepEqual((await read(cut, { strict: true })).reports, [{ bytes: 32768 - 17, reason: 'partial record at end of file' }]);
});

test('zeroed space: a zero header drops the rest of its block silently (v07, v08, v09)', async () => {
  const bytes = log('foo', 'bar', big('y', 40000), 'tail');
  bytes.fill(0, 10, 17); // the header of 'bar'
  const got = await read(bytes);
  assert.deepEqual(
    got.records.map((r) => r.data),
    ['foo', 'tail'],
  );
  // The LAST fragment of the 40000-byte record, in the next block, is a "missing start".
  assert.deepEqual(got.reports, [{ bytes: 40000 - (32768 - 20 - 7), reason: 'missing start of fragmented record(2)' }]);
  const zeroTail = cat(log('foo'), new Uint8Array(5000));
  assert.deepEqual(await read(zeroTail), { records: [{ offset: 0, data: 'foo' }], reports: [], end: 10 });
  assert.deepEqual((await read(zeroTail, { strict: true })).reports, [{ bytes: 5000, reason: 'zero header, rest of block skipped' }]);
});

test('a FULL retyped FIRST (valid CRC) is reported as partial record without end(1) (v12)', async () => {
  const bytes = cat(physical(2, 'first'), physical(1, 'full'));
  assert.deepEqual(await read(bytes), {
    records: [{ offset: 12, data: 'full' }],
    reports: [{ bytes: 5, reason: 'partial record without end(1)' }],
    end: 23,
  });
  // An empty FIRST (an old writer's block-end artefact) is tolerated.
  assert.deepEqual((await read(cat(physical(2, ''), physical(1, 'full')))).reports, []);
});

test('unknown record type with a valid CRC loses only that record (v13)', async () => {
  const bytes = cat(physical(1, 'a'), physical(9, 'nine'), physical(1, 'b'));
  const got = await read(bytes);
  assert.deepEqual(
    got.records.map((r) => r.data),
    ['a', 'b'],
  );
  assert.deepEqual(got.reports, [{ bytes: 4, reason: 'unknown record type 9' }]);
  // Types >= 0x80 go through a signed char in LevelDB.
  assert.deepEqual((await read(cat(physical(0x82, 'xy')))).reports, [{ bytes: 2, reason: 'unknown record type 4294967170' }]);
  assert.deepEqual((await read(cat(physical(0x82, 'xy')), { compat: 'clean' })).reports, [{ bytes: 2, reason: 'unknown record type 130' }]);
});

test('type-byte quirk: a valid type 5 ends the log, type 6 is skipped silently (v14); compat "clean" reports both', async () => {
  const bytes = cat(physical(1, 'a'), physical(6, 'six'), physical(1, 'b'), physical(5, 'five'), physical(1, 'c'));
  assert.deepEqual(
    (await read(bytes)).records.map((r) => r.data),
    ['a', 'b'],
  );
  assert.deepEqual((await read(bytes)).reports, []);
  assert.deepEqual(
    (await read(bytes, { strict: true })).reports.map((r) => r.reason),
    ['record type 6 skipped as a bad record', 'record type 5 read as end of log'],
  );
  const clean = await read(bytes, { compat: 'clean' });
  assert.deepEqual(
    clean.records.map((r) => r.data),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(clean.reports, [
    { bytes: 3, reason: 'unknown record type 6' },
    { bytes: 4, reason: 'unknown record type 5' },
  ]);
});

test('error in middle of record: a bad LAST after FIRST (v03)', async () => {
  const bytes = log(big('m', 40000), 'next');
  bytes[32768 + 7 + 10] ^= 0x10; // inside the LAST fragment
  const got = await read(bytes);
  assert.deepEqual(got.records, []);
  assert.deepEqual(got.reports, [
    { bytes: 7 + (40000 - 32761) + 11, reason: 'checksum mismatch' },
    { bytes: 32761, reason: 'error in middle of record' },
  ]);
});

/** db/log_test.cc's initial-offset layout: records of these sizes. */
const layout = [10000, 10000, 2 * 32768 - 1000, 1, 13716, 32768 - 7].map((n, i) => big(String.fromCharCode(65 + i), n));

test('initialOffset reproduces LevelDB resync, including its reports (spec §4.3)', async () => {
  const file = logFile(log(...layout));
  const at = (r: { records: { offset: number }[] }) => r.records.map((x) => x.offset);
  const a = await read(file, { initialOffset: 20015 });
  assert.deepEqual(a.reports, [
    { bytes: 32761, reason: 'missing start of fragmented record(1)' },
    { bytes: 19028, reason: 'missing start of fragmented record(2)' },
  ]);
  assert.deepEqual(at(a), [84571, 84579, 98304]);
  assert.deepEqual((await read(file, { initialOffset: 32769 })).reports, [
    { bytes: 19028, reason: 'missing start of fragmented record(2)' },
  ]);
  assert.deepEqual((await read(file, { initialOffset: 32768 })).reports, []);
  assert.deepEqual(at(await read(file, { initialOffset: 10007 })), [10007, 20014, 84571, 84579, 98304]);
  assert.deepEqual(at(await read(file, { initialOffset: 10008 })), [20014, 84571, 84579, 98304]);
  // 'clean' keeps resynchronising past every fragment of a record that began before the offset.
  const clean = await read(file, { initialOffset: 20015, compat: 'clean' });
  assert.deepEqual(clean.reports, []);
  assert.deepEqual(at(clean), [84571, 84579, 98304]);
  assert.deepEqual(at(await read(file, { initialOffset: 10 ** 6 })), []);
});

test('without onCorruption the first report is thrown as ERR_WAL_LEVELDB_CORRUPTION with file and offset', async () => {
  const bytes = log('foo', 'bar');
  bytes[18] ^= 4;
  const file = logFile(bytes);
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const r of readLevelDBLog(file)) seen.push(Buffer.from(r.data).toString());
    })(),
    (e: unknown) => isWalError(e, WalErrorCodes.LEVELDB_CORRUPTION) && e.offset === 10 && e.file === file,
  );
  assert.deepEqual(seen, ['foo']);
});

/** The first `bytes` bytes of `targets`, as a short read would fill them. */
function firstBytes(targets: readonly Uint8Array[], bytes: number): Uint8Array[] {
  const limited: Uint8Array[] = [];
  for (const t of targets) {
    if (bytes <= 0) break;
    limited.push(t.subarray(0, Math.min(bytes, t.length)));
    bytes -= Math.min(bytes, t.length);
  }
  return limited;
}

/** A backend whose reads return at most `chunk` bytes a call, recording each request size. */
function shortReadIo(chunk: number) {
  const requests: number[] = [];
  let open = 0;
  const io: IoBackend = Object.create(defaultBackend);
  const inner = new WeakMap<WalFile, WalFile>();
  io.open = async (p, opts) => {
    const file = await defaultBackend.open(p, opts);
    open++;
    const wrapped: WalFile = Object.create(file);
    inner.set(wrapped, file);
    wrapped.readv = (targets, position) => {
      requests.push(targets.reduce((sum, t) => sum + t.length, 0));
      return file.readv(firstBytes(targets, chunk), position);
    };
    wrapped.close = async () => {
      open--;
      return file.close();
    };
    return wrapped;
  };
  // The native block reads (native backend only) go through the same limit.
  const base = levelDBScanFor(defaultBackend);
  if (base.kind === 'native') {
    registerLevelDBScan(io, {
      kind: 'native',
      scanFullRecords: base.scanFullRecords,
      readBlocks: (file, blocks, position, verify, runs) => {
        requests.push(blocks.reduce((sum, t) => sum + t.length, 0));
        const limited = firstBytes(blocks, chunk);
        return base.readBlocks(
          inner.get(file)!,
          limited,
          position,
          verify,
          runs.subarray(0, limited.length * (runs.length / blocks.length)),
        );
      },
    });
  }
  return { io, requests, openFiles: () => open };
}

test('short reads are retried until a full block or end of file (google/leveldb#1285)', async () => {
  // Over 1 MiB, so the read-ahead is used too.
  const records = ['a', big('b', 50000), 'c', big('d', 70000), big('e', 300000), 'f', big('g', 400000), 'h', big('i', 400000), 'j'];
  const { io } = shortReadIo(1000);
  assert.deepEqual(
    (await read(log(...records), { io })).records.map((r) => r.data),
    records,
  );
});

test('memory: a small file is read into a buffer of its own size, never a whole block', async () => {
  const { io, requests } = shortReadIo(1 << 20);
  await read(log('tiny'), { io });
  assert.ok(requests.length > 0 && requests.every((n) => n <= 11), `read requests ${requests}`);
});

test('breaking out of the loop closes the file', async () => {
  const { io, openFiles } = shortReadIo(1 << 20);
  const file = logFile(log('a', 'b', 'c'));
  for await (const r of readLevelDBLog(file, { io })) {
    assert.equal(Buffer.from(r.data).toString(), 'a');
    break;
  }
  assert.equal(openFiles(), 0);
  for await (const batch of readLevelDBLog(file, { io }).batches()) {
    assert.equal(batch.length, 3);
    break;
  }
  assert.equal(openFiles(), 0);
});

/** A RocksDB recyclable record: 11-byte header, CRC over type, log number and payload. */
function recyclable(type: number, logNumber: number, payload: string): Uint8Array {
  const out = new Uint8Array(11 + payload.length);
  const view = new DataView(out.buffer);
  out.set(str(payload), 11);
  view.setUint16(4, payload.length, true);
  out[6] = type;
  view.setUint32(7, logNumber, true);
  view.setUint32(0, maskCrc(crc32c(out.subarray(6))), true);
  return out;
}

test('RocksDB recyclable records: read with their log number; an older one ends the log (spec §8)', async () => {
  const bytes = cat(
    recyclable(5, 7, 'one'),
    recyclable(6, 7, 'tw'),
    recyclable(8, 7, 'o'),
    physical(10, 'ts-size metadata'),
    recyclable(5, 7, 'three'),
    recyclable(5, 6, 'stale from the previous life'),
    recyclable(5, 7, 'never'),
  );
  const file = logFile(bytes, '000007.log');
  const got = await read(file, { format: 'rocksdb' });
  assert.deepEqual(
    got.records.map((r) => r.data),
    ['one', 'two', 'three'],
  );
  assert.deepEqual(got.reports, []);
  // Explicit log number overrides the file name.
  assert.deepEqual((await read(file, { format: 'rocksdb', logNumber: 6 })).records, []);
  // LevelDB's reader cannot read them (checksum over the 7-byte view).
  assert.equal((await read(file)).records.length, 0);
});

test('RocksDB compressed logs (type 9) are refused', async () => {
  const file = logFile(cat(physical(9, '\x07\x00\x00\x00'), physical(1, 'x')));
  await assert.rejects(read(file, { format: 'rocksdb' }), (e: unknown) => isWalError(e, WalErrorCodes.UNEXPECTED_RECORD_TYPE));
});

test('nextBatch() and batches() return the same records as one-by-one iteration', async () => {
  const records = Array.from({ length: 300 }, (_, i) => big(String.fromCharCode(97 + (i % 26)), (i * 997) % 40000));
  const file = logFile(log(...records));
  const one = (await read(file)).records;
  const batched: { offset: number; data: string }[] = [];
  let batches = 0;
  for await (const batch of readLevelDBLog(file).batches()) {
    batches++;
    for (const r of batch) batched.push({ offset: r.offset, data: Buffer.from(r.data).toString('latin1') });
  }
  assert.deepEqual(batched, one);
  assert.equal(one.length, records.length);
  assert.ok(batches > 1 && batches < records.length, `${batches} batches`);
  const reader = readLevelDBLog(file);
  assert.equal((await reader.nextBatch(5)).length, 5);
  assert.equal(reader.lastRecordOffset, one[4]!.offset);
});

test('records are independent copies: writing into one changes no other record and not the file', async () => {
  const records = Array.from({ length: 400 }, (_, i) => big(String.fromCharCode(97 + (i % 26)), (i * 1237) % 20000));
  const file = logFile(log(...records));
  const got: Uint8Array[] = [];
  for await (const r of readLevelDBLog(file)) got.push(r.data);
  for (let i = 0; i < got.length; i += 2) got[i]!.fill(0x21);
  for (let i = 1; i < got.length; i += 2) assert.equal(Buffer.from(got[i]!).toString('latin1'), records[i], `record ${i}`);
  assert.deepEqual(
    (await read(file)).records.map((r) => r.data),
    records,
  );
});

test('a file that grows between open and the first read is read to its new end', async () => {
  const records = Array.from({ length: 2000 }, (_, i) => big('g', i % 50));
  const file = logFile(log(...records));
  let calls = 0;
  const io: IoBackend = Object.create(defaultBackend);
  io.open = async (p, opts) => {
    const real = await defaultBackend.open(p, opts);
    const wrapped: WalFile = Object.create(real);
    wrapped.size = async () => (calls++ === 0 ? 20 : real.size()); // as if it were 20 bytes at open
    return wrapped;
  };
  assert.deepEqual(
    (await read(file, { io })).records.map((r) => r.data),
    records,
  );
  assert.ok(calls >= 2);
});

test('records stay valid while reading on: block buffers are never reused', async () => {
  // Over 3 MiB, so several read-ahead chunks come and go while the first records are kept.
  const records = Array.from({ length: 12000 }, (_, i) => big(String.fromCharCode(97 + (i % 26)), (i * 613) % 700));
  const file = logFile(log(...records));
  for (const io of [defaultBackend, shortReadIo(5000).io]) {
    const kept: Uint8Array[] = [];
    for await (const batch of readLevelDBLog(file, { io }).batches()) kept.push(...batch.map((r) => r.data));
    assert.deepEqual(
      kept.map((d) => Buffer.from(d).toString('latin1')),
      records,
    );
  }
});

test('a record keeps only its own block alive, and shows no bytes from outside the file', async () => {
  const records = Array.from({ length: 5000 }, (_, i) => big('r', 50 + (i % 300)));
  const bytes = log(...records);
  const file = logFile(bytes);
  // As if the file had been 5000 bytes longer when opened (then cut): its last block buffer is
  // then larger than what the read returns.
  const io: IoBackend = Object.create(defaultBackend);
  io.open = async (p, opts) => {
    const real = await defaultBackend.open(p, opts);
    const wrapped: WalFile = Object.create(real);
    wrapped.size = async () => (await real.size()) + 5000;
    return wrapped;
  };
  const buffers = new Set<ArrayBufferLike>();
  let last: Uint8Array | undefined;
  for await (const { data } of readLevelDBLog(file, { io })) {
    assert.ok(data.buffer.byteLength <= 32768, `a record's buffer is ${data.buffer.byteLength} bytes`);
    buffers.add(data.buffer);
    last = data;
  }
  // Whole records (not joined from fragments) of the same block share one buffer.
  assert.ok(buffers.size < records.length / 10, `${buffers.size} buffers`);
  // Past the end of the file, the last block's buffer holds zeros, not old memory.
  const tail = new Uint8Array(last!.buffer);
  const inFile = bytes.length % 32768;
  assert.ok(tail.length > inFile);
  assert.ok(tail.subarray(inFile).every((b) => b === 0));
  assert.ok(Buffer.from(tail.subarray(0, inFile)).equals(Buffer.from(bytes.subarray(bytes.length - inFile))));
});
