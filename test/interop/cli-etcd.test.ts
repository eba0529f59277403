/**
 * The `wal` CLI against WAL directories written by etcd 3.4.23's own `wal` package (the Go
 * harness in ./etcd), and its repair compared with etcd's Repair on the same torn directory.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/tmp';
import { runGo } from './etcd/harness';
import { type EntrySpec, type Op, dataOf, dumpDir, goCode } from './etcd/script';
import { copy, etcdFrames, flipByte, hashTree, jsonLines, wal } from '../support/cli-helpers';

// raftpb.ConfChange{ID: 9, Type: RemoveNode, NodeID: 3}
const CONF_CHANGE = Buffer.from([0x08, 0x09, 0x10, 0x01, 0x18, 0x03]).toString('base64');

function entry(i: number): EntrySpec {
  if (i === 7) return { term: '3', index: '7', type: 1, data: { b64: CONF_CHANGE } };
  return { term: i < 7 ? '2' : '3', index: String(i), type: 0, data: i % 11 === 0 ? null : { gen: [i, 20 + ((i * 37) % 300)] } };
}

/** etcd writes: metadata, 120 entries in saves of 3, a snapshot at 30, segments of 8 KiB. */
function etcdOps(dir: string): Op[] {
  const ops: Op[] = [{ op: 'create', dir, metadata: { b64: Buffer.from('etcd-node').toString('base64') }, segmentSize: 8192 }];
  for (let i = 1; i <= 120; i += 3) {
    ops.push({
      op: 'save',
      state: { term: i < 7 ? '2' : '3', vote: '1', commit: String(i - 1) },
      entries: [entry(i), entry(i + 1), entry(i + 2)],
    });
    if (i === 28) ops.push({ op: 'saveSnapshot', index: '30', term: '3' });
  }
  ops.push({ op: 'close' });
  return ops;
}

function segments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => path.join(dir, n));
}

test('etcd-written WAL: verify, dump and stat read every record as etcd wrote it; nothing modified', () => {
  const dir = path.join(tempDir(), 'etcd');
  const res = runGo(etcdOps(dir));
  assert.ok(
    res.every((r) => !r.error),
    JSON.stringify(res.find((r) => r.error)),
  );
  assert.ok(segments(dir).length >= 3);
  const before = hashTree(dir);

  const v = wal(['verify', '--json', dir]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.equal(jsonLines(v.stdout).pop()!['lastIndex'], 120);

  const d = wal(['dump', '--json', dir]);
  assert.equal(d.status, 0, d.stderr);
  const recs = jsonLines(d.stdout).filter((l) => l['kind'] === 'record');
  const entries = recs.filter((l) => l['type'] === 'entry');
  assert.equal(entries.length, 120);
  for (const e of entries) {
    const want = entry(e['index']);
    assert.equal(String(e['term']), want.term);
    assert.equal(e['entryType'], want.type === 1 ? 'conf-change' : 'normal');
    const data = dataOf(want.data);
    assert.deepEqual(e['data'] === null ? null : new Uint8Array(Buffer.from(e['data'], 'base64')), data, `entry ${e['index']}`);
  }
  assert.equal(entries[6]!['confChange']['summary'], 'RemoveNode 0x3');
  // Every frame etcd wrote is listed at its offset.
  const frames = segments(dir).flatMap((s) => etcdFrames(s).map((f) => `${path.basename(s)}@${f.offset}`));
  assert.deepEqual(
    recs.map((r) => `${r['segment']}@${r['offset']}`),
    frames,
  );
  assert.deepEqual(
    recs.filter((r) => r['type'] === 'snapshot').map((r) => [r['index'], r['term']]),
    [
      [0, 0],
      [30, 3],
    ],
  );

  const s = wal(['stat', '--json', dir]);
  assert.equal(s.status, 0);
  const summary = jsonLines(s.stdout).pop()!;
  assert.deepEqual(summary['hardState'], { term: 3, vote: 1, commit: 117 });
  assert.equal(summary['segments'], segments(dir).length);
  assert.deepEqual(hashTree(dir), before);
});

test('torn etcd WAL: wal repair leaves exactly the files etcd Repair leaves, and etcd reads the result', () => {
  const root = tempDir();
  const dir = path.join(root, 'etcd');
  runGo(etcdOps(dir));
  const last = segments(dir).pop()!;
  const frames = etcdFrames(last);
  fs.truncateSync(last, frames[frames.length - 2]!.offset + 13);
  const ours = copy(dir, path.join(root, 'ours'));
  const theirs = copy(dir, path.join(root, 'theirs'));
  const r = wal(['repair', '--yes', ours]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const go = runGo([{ op: 'repair', dir: theirs }]);
  assert.equal(go[0]!.ok, true, JSON.stringify(go));
  assert.deepEqual(dumpDir(ours), dumpDir(theirs));
  const read = runGo([{ op: 'openForRead', dir: ours, index: '0', term: '0' }, { op: 'readAll' }, { op: 'close' }]);
  assert.equal(read[1]!.error ?? null, null);
  const lastIndex = jsonLines(wal(['verify', '--json', ours]).stdout).pop()!['lastIndex'];
  assert.equal(read[1]!.count, lastIndex);
});

test('corrupted etcd WAL: verify reports the code etcd reports, at the damaged frame', () => {
  const root = tempDir();
  const dir = path.join(root, 'etcd');
  runGo(etcdOps(dir));
  const seg = segments(dir)[1]!;
  const f = etcdFrames(seg)[4]!;
  flipByte(seg, f.offset + 8 + f.recordBytes - 1);
  const v = wal(['verify', '--json', dir]);
  assert.equal(v.status, 1);
  const first = jsonLines(v.stdout).pop()!['firstProblem'];
  assert.equal(first['file'], seg);
  assert.equal(first['offset'], f.offset);
  const go = runGo([{ op: 'verify', dir, index: '0', term: '0' }]);
  assert.equal(goCode(go[0]!.error), first['code']);
});
