// Symbol.asyncDispose: `await using` closes a Log, WAL, LevelDBLogWriter and LevelDBLogReader, also
// when the scope is left by an exception.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { Log } from '../../src/log/log';
import { WAL } from '../../src/etcd/wal';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { readLevelDBLog } from '../../src/leveldb/reader';
import { isWalError } from '../../src/errors';
import { tempDir } from '../support/tmp';

test('the symbol exists on this Node (20.4+) and every owner of files implements it', () => {
  assert.equal(typeof Symbol.asyncDispose, 'symbol');
  for (const proto of [Log.prototype, WAL.prototype, LevelDBLogWriter.prototype, Object.getPrototypeOf(readLevelDBLog('/nonexistent'))]) {
    assert.equal(typeof (proto as Record<symbol, unknown>)[Symbol.asyncDispose], 'function');
  }
});

test('await using closes a Log at the end of the scope: the directory can be opened again', async () => {
  const dir = tempDir();
  let kept: Log;
  {
    await using log = await Log.open(dir, { segmentSize: 64 * 1024 });
    await log.append('a');
    kept = log;
  }
  await assert.rejects(kept.append('b'), (err) => isWalError(err, 'ERR_WAL_CLOSED'));
  await using again = await Log.open(dir);
  assert.equal(again.lastIndex, 1n);
});

test('await using closes a Log when the scope throws (the lock is released)', async () => {
  const dir = tempDir();
  await assert.rejects(async () => {
    await using log = await Log.open(dir, { segmentSize: 64 * 1024 });
    await log.append('a');
    throw new Error('boom');
  }, /boom/);
  await using again = await Log.open(dir); // would be ERR_WAL_LOCKED had the first stayed open
  assert.equal(again.lastIndex, 1n);
});

test('await using closes a WAL (its locks released) and a LevelDB writer and reader', async () => {
  const dir = tempDir();
  {
    await using wal = await WAL.create(dir, null);
    await wal.save({ term: 1n, vote: 0n, commit: 0n }, []);
  }
  {
    await using wal = await WAL.open(dir, { index: 0, term: 0 }); // ERR_WAL_LOCKED if still held
    await wal.readAll();
  }
  const file = path.join(tempDir(), '000001.log');
  let writer: LevelDBLogWriter;
  {
    await using w = await LevelDBLogWriter.open(file);
    await w.addRecord(Buffer.from('r1'), { sync: true });
    writer = w;
  }
  await assert.rejects(writer.addRecord(Buffer.from('r2')), (err) => isWalError(err, 'ERR_WAL_CLOSED'));
  const seen: string[] = [];
  {
    await using reader = readLevelDBLog(file);
    for (;;) {
      const r = await reader.next();
      if (r.done === true) break;
      seen.push(Buffer.from(r.value.data).toString());
    }
  }
  assert.deepEqual(seen, ['r1']);
});
