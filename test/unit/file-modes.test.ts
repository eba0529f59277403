// What docs/troubleshooting.md ("File modes") promises: files 0600, directories 0700 (before the
// umask), parents created for a LevelDB log as for a Log, existing modes left alone.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Log } from '../../src/log/log';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { readLevelDBLog } from '../../src/leveldb/reader';
import { tempDir } from '../support/tmp';

const mode = (p: string): number => fs.statSync(p).mode & 0o777;

test('Log: its directory 0700, its segments 0600', async () => {
  const old = process.umask(0o022);
  try {
    const dir = path.join(tempDir(), 'a', 'log');
    const log = await Log.open(dir, { segmentSize: 64 * 1024 });
    await log.append('x');
    await log.close();
    assert.equal(mode(dir), 0o700);
    for (const n of fs.readdirSync(dir)) assert.equal(mode(path.join(dir, n)), 0o600, n);
  } finally {
    process.umask(old);
  }
});

test('LevelDBLogWriter.open creates missing parents (0700) and the log (0600), like Log.open', async () => {
  const old = process.umask(0o022);
  try {
    const root = tempDir();
    const file = path.join(root, 'data', 'db', '000003.log');
    const w = await LevelDBLogWriter.open(file);
    await w.addRecord(Buffer.from('r'), { sync: true });
    await w.close();
    assert.equal(mode(path.join(root, 'data')), 0o700);
    assert.equal(mode(path.join(root, 'data', 'db')), 0o700);
    assert.equal(mode(file), 0o600);
    const seen: string[] = [];
    for await (const r of readLevelDBLog(file)) seen.push(Buffer.from(r.data).toString());
    assert.deepEqual(seen, ['r']);
    // An existing directory keeps its mode.
    const shared = path.join(root, 'shared');
    fs.mkdirSync(shared, { mode: 0o755 });
    fs.chmodSync(shared, 0o755);
    await (await LevelDBLogWriter.open(path.join(shared, '000001.log'))).close();
    assert.equal(mode(shared), 0o755);
  } finally {
    process.umask(old);
  }
});
