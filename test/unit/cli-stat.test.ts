import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/tmp';
import { etcdFrames, hashTree, jsonLines, makeEtcdWal, makeLevelDBLog, wal } from '../support/cli-helpers';

test('stat etcd: per-segment size, used and preallocated bytes match the files; ranges, snapshots, HardState', async () => {
  const dir = path.join(tempDir(), 'wal');
  await makeEtcdWal(dir, 60);
  const before = hashTree(dir);
  const r = wal(['stat', '--json', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(hashTree(dir), before);
  const lines = jsonLines(r.stdout);
  const segs = lines.filter((l) => l['kind'] === 'segment');
  const names = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
  assert.deepEqual(
    segs.map((s) => s['name']),
    names,
  );
  let entries = 0;
  for (const s of segs) {
    const file = path.join(dir, s['name']);
    const frames = etcdFrames(file);
    const used = frames.length === 0 ? 0 : frames[frames.length - 1]!.offset + frames[frames.length - 1]!.length;
    assert.equal(s['size'], fs.statSync(file).size);
    assert.equal(s['used'], used, s['name']);
    assert.equal(s['preallocated'], s['size'] - used);
    entries += s['entries'];
  }
  assert.equal(entries, 60);
  // The last segment is preallocated by the writer: some of it must be unused zeros.
  assert.ok(segs[segs.length - 1]!['preallocated'] > 0);
  assert.equal(segs[0]!['firstIndex'], 1);
  assert.equal(segs[segs.length - 1]!['lastIndex'], 60);
  const summary = lines[lines.length - 1]!;
  assert.equal(summary['kind'], 'summary');
  assert.deepEqual(summary['hardState'], { term: 2, vote: 1, commit: 59 });
  assert.deepEqual(summary['snapshots'], [
    { index: 0, term: 0 },
    { index: 10, term: 2 },
  ]);
  assert.equal(summary['metadataBytes'], 8);
  const text = wal(['stat', dir]);
  assert.match(text.stdout, /entries: 1\.\.60 \(last term 2\)/);
  assert.match(text.stdout, /hard state: term=2 vote=0x1 commit=59/);
});

test('stat LevelDB: records, operations and sequence range', async () => {
  const file = path.join(tempDir(), '000002.log');
  await makeLevelDBLog(file, 15);
  const r = wal(['stat', '--json', file]);
  assert.equal(r.status, 0, r.stderr);
  const log = jsonLines(r.stdout).find((l) => l['kind'] === 'log')!;
  assert.equal(log['records'], 15);
  assert.equal(log['puts'], 15);
  assert.equal(log['deletes'], 15);
  assert.equal(log['firstSequence'], 1);
  assert.equal(log['lastSequence'], 30);
  assert.equal(log['size'], fs.statSync(file).size);
  assert.equal(log['endOfLastRecord'], fs.statSync(file).size);
});

test('stat etcd with damage: exit 1; bytes at and after the damage are unread, not counted as preallocated', async () => {
  const dir = path.join(tempDir(), 'wal');
  await makeEtcdWal(dir, 60);
  const names = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
  const seg = path.join(dir, names[1]!);
  const f = etcdFrames(seg)[2]!;
  fs.truncateSync(seg, f.offset + 4); // a truncated middle segment: the decoder cannot go on
  const r = wal(['stat', '--json', dir]);
  assert.equal(r.status, 1);
  const lines = jsonLines(r.stdout);
  const segs = lines.filter((l) => l['kind'] === 'segment');
  assert.equal(segs[1]!['used'], f.offset);
  assert.equal(segs[1]!['preallocated'], null);
  for (const s of segs.slice(2)) assert.equal(s['scanned'], false);
  const summary = lines[lines.length - 1]!;
  const unread = segs.slice(1).reduce((a, s) => a + s['size'] - s['used'], 0);
  assert.equal(summary['unreadBytes'], unread);
  assert.equal(summary['preallocatedBytes'], segs[0]!['preallocated']);
});
