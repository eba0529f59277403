// The CLI wording an operator could misread (issue 16): a wrong --snapshot is not "CORRUPT", stat
// says which entries a reader at the newest snapshot sees, counts agree with their nouns and carry
// separators, fragment counts read as words.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { Log } from '../../src/log/log';
import { WAL } from '../../src/etcd/wal';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { count } from '../../src/cli/output';
import { tempDir } from '../support/tmp';
import { wal } from '../support/cli-helpers';

test('verify with a --snapshot the WAL does not hold: not reported as corruption', async () => {
  const dir = tempDir();
  const w = await WAL.create(dir, null);
  await w.save({ term: 1n, vote: 1n, commit: 1n }, [{ term: 1n, index: 1n, type: 0, data: Buffer.from('x') }]);
  await w.close();
  const r = wal(['verify', dir, '--snapshot', '5:3']);
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stdout, /CORRUPT/);
  assert.match(r.stdout, /SNAPSHOT NOT USABLE: .*5/);
  assert.match(r.stdout, /the files were not found damaged/);
  // A healthy verify: "1 snapshot", "1 hard state", singular nouns.
  const ok = wal(['verify', dir]);
  assert.match(ok.stdout, /1 segment, .*1 entry, entries 1\.\.1; 1 hard state, 1 snapshot\)/);
});

test('stat of a Log after truncateFront(3): the entries a reader at the newest snapshot sees', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, { segmentSize: 64 * 1024 });
  await log.appendBatch(['a', 'b', 'c', 'd']);
  await log.truncateFront(3n);
  assert.equal(log.firstIndex, 3n);
  await log.close();
  const r = wal(['stat', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /entries: 1\.\.4 \(last term 1\); after the newest snapshot \(2:1\): 3\.\.4/);
  assert.doesNotMatch(r.stdout, /\(\)/);
});

test('counts: singular and plural, thousands separators', () => {
  assert.equal(count(1, 'snapshot'), '1 snapshot');
  assert.equal(count(0, 'snapshot'), '0 snapshots');
  assert.equal(count(200_003n, 'record'), '200,003 records');
  assert.equal(count(2, 'entry', 'entries'), '2 entries');
});

test('stat of a LevelDB log: block count with its noun; records line without an empty "()"', async () => {
  const file = path.join(tempDir(), '000001.log');
  const w = await LevelDBLogWriter.open(file);
  await w.close();
  const r = wal(['stat', file]);
  assert.match(r.stdout, /size: 0 B \(0 bytes\), 0 blocks of 32 KiB/);
  assert.match(r.stdout, /records: 0, payload/);
});
