/**
 * Real databases: logs written by LevelDB 1.23 (Debian, through the harness), LevelDB via npm
 * classic-level and RocksDB 6.17 via npm rocksdb are read back by our reader to exactly the
 * WriteBatches that were put; logs we write, placed as a database's log next to a MANIFEST that
 * LevelDB made itself, are recovered by LevelDB's DB::Open (and classic-level) with all keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { readLevelDBLog } from '../../src/leveldb/reader';
import { decodeWriteBatch, encodeWriteBatch, type WriteBatchOp } from '../../src/leveldb/write-batch';
import { tempDir } from '../support/tmp';
import { Rng } from './leveldb/corpus';
import { fnv64, levelDBDump, levelDBPut, levelDBReadMany, type BatchOps } from './leveldb/harness';

const SEED = Number(process.env['LEVELDB_FUZZ_SEED'] ?? Date.now() % 1_000_000);

/**
 * Random batches: binary keys from a small key space (so deletes hit), empty values and (unless
 * the binding refuses them, as npm rocksdb does) empty keys.
 */
function randomBatches(rng: Rng, count: number, emptyKeys = true): BatchOps[] {
  const batches: BatchOps[] = [];
  for (let i = 0; i < count; i++) {
    const ops: BatchOps = [];
    const n = 1 + rng.int(6);
    for (let j = 0; j < n; j++) {
      const key = emptyKeys && rng.int(8) === 0 ? new Uint8Array(0) : Uint8Array.of(rng.int(4), ...rng.bytes(rng.int(3)));
      if (rng.int(4) === 0) ops.push({ type: 'delete', key });
      else ops.push({ type: 'put', key, value: rng.bytes(rng.pick([0, 1, 10, 100, 5000, 40000])) });
    }
    batches.push(ops);
  }
  return batches;
}

/** The WAL files of a database directory, oldest first. */
function logFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d+\.log$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Every WriteBatch in the database's logs, decoded by our reader (which throws on any corruption). */
async function readBatches(dir: string): Promise<{ sequence: bigint; ops: WriteBatchOp[] }[]> {
  const out = [];
  for (const file of logFiles(dir)) {
    for await (const { data } of readLevelDBLog(file, { strict: true })) out.push(decodeWriteBatch(data));
  }
  return out;
}

function normalize(ops: readonly WriteBatchOp[] | BatchOps): unknown[] {
  return ops.map((op) =>
    op.type === 'put'
      ? ['put', Buffer.from(op.key).toString('hex'), Buffer.from(op.value).toString('hex')]
      : ['delete', Buffer.from(op.key).toString('hex')],
  );
}

function assertSameBatches(actual: { sequence: bigint; ops: WriteBatchOp[] }[], put: BatchOps[]): void {
  assert.equal(actual.length, put.length, 'number of WriteBatches');
  let sequence = 1n;
  for (let i = 0; i < put.length; i++) {
    assert.equal(actual[i]!.sequence, sequence, `sequence of batch ${i}`);
    assert.deepEqual(normalize(actual[i]!.ops), normalize(put[i]!), `ops of batch ${i}`);
    sequence += BigInt(put[i]!.length);
  }
}

/** The key/value state after applying the batches in order, sorted like LevelDB's bytewise comparator. */
function finalState(batches: BatchOps[]): [string, string][] {
  const state = new Map<string, string>();
  for (const ops of batches) {
    for (const op of ops) {
      const key = Buffer.from(op.key).toString('hex');
      if (op.type === 'put') state.set(key, Buffer.from(op.value).toString('hex'));
      else state.delete(key);
    }
  }
  return [...state.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')));
}

test(`LevelDB 1.23 (C++ DB::Write) logs decode to the batches put (seed ${SEED})`, async () => {
  const dir = path.join(tempDir('nodewal-ldbdb-'), 'db');
  const batches = randomBatches(new Rng(SEED), 60);
  levelDBPut(dir, batches);
  assertSameBatches(await readBatches(dir), batches);
  // Its MANIFEST uses the same format: we read the same records as LevelDB's reader, with no report.
  const manifests = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('MANIFEST-'))
    .map((f) => path.join(dir, f));
  assert.ok(manifests.length > 0);
  const theirs = levelDBReadMany(manifests.map((file) => ({ file, checksum: true, initialOffset: 0 })));
  for (let i = 0; i < manifests.length; i++) {
    const ours = [];
    for await (const r of readLevelDBLog(manifests[i]!, { strict: true }))
      ours.push({ offset: r.offset, length: r.data.length, hash: fnv64(r.data) });
    assert.ok(ours.length > 0);
    assert.deepEqual({ records: ours, reports: [] }, theirs[i]);
  }
});

test(`classic-level logs decode to the batches put (seed ${SEED})`, async () => {
  const dir = path.join(tempDir('nodewal-ldbcl-'), 'db');
  const batches = randomBatches(new Rng(SEED + 1), 60);
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  for (const ops of batches) {
    await db.batch(ops.map((op) => (op.type === 'put' ? { type: 'put', key: op.key, value: op.value } : { type: 'del', key: op.key })));
  }
  await db.close();
  assertSameBatches(await readBatches(dir), batches);
});

test(`RocksDB 6.17 (npm rocksdb) logs decode to the batches put (seed ${SEED})`, async () => {
  const dir = path.join(tempDir('nodewal-ldbrdb-'), 'db');
  const batches = randomBatches(new Rng(SEED + 2), 60, false);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const rocksdb = require('rocksdb') as (location: string) => RocksDb;
  const db = rocksdb(dir);
  await new Promise<void>((resolve, reject) => db.open({ createIfMissing: true }, (e) => (e ? reject(e) : resolve())));
  for (const ops of batches) {
    const list = ops.map((op) =>
      op.type === 'put'
        ? { type: 'put', key: Buffer.from(op.key), value: Buffer.from(op.value) }
        : { type: 'del', key: Buffer.from(op.key) },
    );
    await new Promise<void>((resolve, reject) => db.batch(list, (e) => (e ? reject(e) : resolve())));
  }
  await new Promise<void>((resolve, reject) => db.close((e) => (e ? reject(e) : resolve())));
  const files = logFiles(dir);
  const out = [];
  for (const file of files) {
    for await (const { data } of readLevelDBLog(file, { strict: true, format: 'rocksdb' })) out.push(decodeWriteBatch(data));
  }
  assertSameBatches(out, batches);
});

interface RocksDb {
  open(options: object, cb: (err?: Error) => void): void;
  batch(ops: object[], cb: (err?: Error) => void): void;
  close(cb: (err?: Error) => void): void;
}

/** A database LevelDB created and closed, whose (empty) log we then replace with ours. */
async function databaseWithOurLog(batches: BatchOps[], write: (file: string, records: Uint8Array[]) => Promise<void>) {
  const dir = path.join(tempDir('nodewal-ldbours-'), 'db');
  levelDBPut(dir, []);
  const logs = logFiles(dir);
  assert.equal(logs.length, 1, 'a fresh LevelDB database has one log');
  const file = logs[0]!;
  fs.rmSync(file);
  let sequence = 1n;
  const records = batches.map((ops) => {
    const record = encodeWriteBatch({ sequence, ops });
    sequence += BigInt(ops.length);
    return record;
  });
  await write(file, records);
  return dir;
}

test(`a log we write is recovered by LevelDB's DB::Open with every key (paranoid checks) (seed ${SEED})`, async () => {
  const batches = randomBatches(new Rng(SEED + 3), 80);
  const dir = await databaseWithOurLog(batches, async (file, records) => {
    const writer = await LevelDBLogWriter.open(file);
    await writer.addRecords(records.slice(0, 40));
    for (const r of records.slice(40)) await writer.addRecord(r);
    await writer.sync();
    await writer.close();
  });
  const dump = levelDBDump(dir, true);
  assert.equal(dump.status, 'OK');
  assert.deepEqual(dump.entries, finalState(batches));
});

test('classic-level opens a database whose log we wrote and sees every key', async () => {
  const batches = randomBatches(new Rng(SEED + 4), 40);
  const dir = await databaseWithOurLog(batches, async (file, records) => {
    const writer = await LevelDBLogWriter.open(file);
    await writer.addRecords(records);
    await writer.close();
  });
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const seen: [string, string][] = [];
  for await (const [k, v] of db.iterator()) seen.push([Buffer.from(k).toString('hex'), Buffer.from(v).toString('hex')]);
  await db.close();
  assert.deepEqual(seen, finalState(batches));
});

test('repairTail: appending after a torn tail keeps the log recoverable (google/leveldb#1287)', async () => {
  const batches = randomBatches(new Rng(SEED + 5), 30);
  const extra = randomBatches(new Rng(SEED + 6), 10);
  const all = [...batches, ...extra];
  const dir = await databaseWithOurLog(all, async (file, records) => {
    const writer = await LevelDBLogWriter.open(file);
    await writer.addRecords(records.slice(0, batches.length));
    await writer.close();
    // Tear the last record: cut 3 bytes off the end (a crash mid-write).
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 3);
    const lastBatch = batches.length - 1;
    // The torn batch must be written again after the repair; the reader loses it otherwise.
    const resumed = await LevelDBLogWriter.open(file, { repairTail: true });
    await resumed.addRecords(records.slice(lastBatch));
    await resumed.close();
  });
  const dump = levelDBDump(dir, true);
  assert.equal(dump.status, 'OK');
  assert.deepEqual(dump.entries, finalState(all));
});
