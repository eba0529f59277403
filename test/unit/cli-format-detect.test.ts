// Files whose name says nothing (backup.log, wal.bin) are recognised by their first record, and
// LevelDB WriteBatches are decoded whatever the file is called.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { tempDir } from '../support/tmp';
import { copy, jsonLines, makeEtcdWal, makeLevelDBLog, wal } from '../support/cli-helpers';

test('a LevelDB log named backup.log: detected from its content, WriteBatches decoded as for 000009.log', async () => {
  const dir = tempDir();
  const named = path.join(dir, '000009.log');
  await makeLevelDBLog(named, 20);
  const backup = copy(named, path.join(dir, 'backup.log'));
  const a = wal(['verify', named]);
  const b = wal(['verify', backup]);
  assert.equal(b.status, 0, b.stderr);
  assert.match(a.stdout, /20 records, 40 operations/);
  assert.match(b.stdout, /20 records, 40 operations/);
  // --format leveldb on the same file gives the same decoding.
  const f = wal(['verify', backup, '--format', 'leveldb']);
  assert.match(f.stdout, /20 records, 40 operations/);
  const dump = wal(['dump', backup]);
  assert.match(dump.stdout, /put\s+#1 "k0"/);
  const stat = wal(['stat', backup]);
  assert.match(stat.stdout, /operations: 20 puts, 20 deletes; sequence 1\.\.40/);
});

test('an etcd segment renamed wal.bin is read as a one-segment etcd WAL', async () => {
  const dir = path.join(tempDir(), 'wal');
  await makeEtcdWal(dir, 10, 1 << 20);
  const seg = fs.readdirSync(dir).find((n) => n.endsWith('.wal'))!;
  const bin = copy(path.join(dir, seg), path.join(tempDir(), 'wal.bin'));
  const r = wal(['verify', bin]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^etcd WAL .*wal\.bin: 1 segment, .*10 entries/m);
});

test('a LevelDB-format log of other payloads (not WriteBatches) is healthy, shown as bytes; a MANIFEST is never decoded', async () => {
  const dir = tempDir();
  for (const name of ['events.log', 'MANIFEST-000005']) {
    const file = path.join(dir, name);
    const w = await LevelDBLogWriter.open(file);
    await w.addRecord(Buffer.from('not a write batch'));
    await w.addRecord(Buffer.alloc(40_000, 0x62)); // a first+last record
    await w.close();
    const v = wal(['verify', file, '--format', 'leveldb']);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /2 records, 0 operations/);
    const d = wal(['dump', file, '--format', 'leveldb']);
    assert.match(d.stdout, /full\s+size=17 crc=ok "not a write batch"/);
    assert.match(d.stdout, /first\+last size=40000/);
  }
});

test('a file neither by name nor by content: a usage error that says what was tried', () => {
  const file = path.join(tempDir(), 'notes.txt');
  fs.writeFileSync(file, 'just some text that is not a log\n');
  const r = wal(['verify', file]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /neither its name \(NNNNNN\.log, \*\.wal\) nor its first record/);
  const empty = path.join(tempDir(), 'empty.bin');
  fs.writeFileSync(empty, '');
  assert.match(wal(['verify', empty]).stderr, /the file is empty/);
});

test('--json summaries of a renamed LevelDB log count its operations', async () => {
  const file = path.join(tempDir(), 'copy-of-log');
  await makeLevelDBLog(file, 5);
  const summary = jsonLines(wal(['verify', file, '--json']).stdout).find((o) => o['kind'] === 'summary')!;
  assert.equal(summary['operations'], 10);
  assert.equal(summary['healthy'], true);
});
