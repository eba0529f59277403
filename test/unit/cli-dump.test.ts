import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  batchOps,
  CONF_CHANGE_ADD_2,
  copy,
  entryData,
  etcdFrames,
  flipByte,
  freshEtcdWal,
  freshLevelDBLog,
  hashTree,
  jsonLines,
  levelDBFragments,
  wal,
} from '../support/cli-helpers';

test('dump: etcd WAL, text — every entry, conf change decoded, hard state, snapshot; files unchanged', async () => {
  const { dir } = await freshEtcdWal(40);
  const before = hashTree(dir);
  const r = wal(['dump', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(hashTree(dir), before);
  for (let i = 1; i <= 40; i++) assert.match(r.stdout, new RegExp(`entry\\s+index=${i} term=\\d`), `entry ${i}`);
  assert.match(r.stdout, /index=5 term=2 conf-change size=6 .*AddNode 0x2/);
  assert.match(r.stdout, /index=7 term=2 normal size=\d+ crc=0x[0-9a-f]{8} ok "entry-7:xxxxxxx"/);
  assert.match(r.stdout, /hardstate term=2 vote=0x1 commit=39/);
  assert.match(r.stdout, /snapshot\s+index=10 term=2/);
  assert.match(r.stdout, /metadata\s+size=8 .*"cli-test"/);
  assert.ok(!r.stdout.includes('\x1b['), 'no colour when piped');
});

test('dump --json: one object per line, locations match the frames on disk, data round-trips', async () => {
  const { dir } = await freshEtcdWal(40);
  const r = wal(['dump', '--json', dir]);
  assert.equal(r.status, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const records = lines.filter((l) => l['kind'] === 'record');
  assert.equal(lines[lines.length - 1]!['kind'], 'summary');
  // Every frame of every segment appears, at its offset, in order.
  const expected: string[] = [];
  for (const name of fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()) {
    for (const f of etcdFrames(path.join(dir, name))) expected.push(`${name}@${f.offset}+${f.length}`);
  }
  assert.deepEqual(
    records.map((l) => `${l['segment']}@${l['offset']}+${l['frameLength']}`),
    expected,
  );
  const entries = records.filter((l) => l['type'] === 'entry');
  assert.deepEqual(
    entries.map((l) => l['index']),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  for (const e of entries) {
    assert.equal(e['crcOk'], true);
    const want = e['index'] === 5 ? CONF_CHANGE_ADD_2 : entryData(e['index']);
    assert.deepEqual(new Uint8Array(Buffer.from(e['data'], 'base64')), want);
  }
  assert.equal(entries[4]!['entryType'], 'conf-change');
  assert.deepEqual(entries[4]!['confChange']['changes'], [{ type: 'AddNode', nodeId: 2 }]);
  const states = records.filter((l) => l['type'] === 'hardstate');
  assert.deepEqual(states[states.length - 1], { ...states[states.length - 1], term: 2, vote: 1, commit: 39 });
  assert.deepEqual(
    records.filter((l) => l['type'] === 'snapshot').map((l) => [l['index'], l['term']]),
    [
      [0, 0],
      [10, 2],
    ],
  );
});

test('dump --from/--to limits entries; --snapshot marks entries ReadAll skips', async () => {
  const { dir } = await freshEtcdWal(40);
  const r = wal(['dump', '--json', '--from', '12', '--to', '15', dir]);
  assert.equal(r.status, 0, r.stderr);
  const idx = jsonLines(r.stdout)
    .filter((l) => l['type'] === 'entry')
    .map((l) => l['index']);
  assert.deepEqual(idx, [12, 13, 14, 15]);
  const s = wal(['dump', '--json', '--snapshot', '10:2', dir]);
  assert.equal(s.status, 0, s.stderr);
  const ents = jsonLines(s.stdout).filter((l) => l['type'] === 'entry');
  assert.ok(ents.length > 0);
  for (const e of ents) assert.equal(e['inRange'], e['index'] > 10, `entry ${e['index']}`);
  const bad = wal(['dump', '--snapshot', '10:3', dir]);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /ERR_WAL_SNAPSHOT_MISMATCH/);
  assert.equal(wal(['dump', '--snapshot', 'ten', dir]).status, 2);
});

test('dump of a corrupted copy: records before the damage, then the CRC error at the damaged frame; exit 1; file unchanged', async () => {
  const { root, dir } = await freshEtcdWal(40);
  const bad = copy(dir, path.join(root, 'bad'));
  const seg = path.join(
    bad,
    fs
      .readdirSync(bad)
      .filter((n) => n.endsWith('.wal'))
      .sort()[0]!,
  );
  const frames = etcdFrames(seg);
  const victim = frames[Math.floor(frames.length / 2)]!;
  // The last byte of the record (inside the entry's data, covered by the CRC; never padding).
  flipByte(seg, victim.offset + 8 + victim.recordBytes - 1);
  const before = hashTree(bad);
  const r = wal(['dump', '--json', bad]);
  assert.equal(r.status, 1, r.stderr);
  assert.deepEqual(hashTree(bad), before);
  const lines = jsonLines(r.stdout);
  const problem = lines.find((l) => l['kind'] === 'problem')!;
  assert.ok(problem, r.stdout);
  assert.equal(problem['name'], path.basename(seg));
  assert.equal(problem['offset'], victim.offset);
  assert.match(problem['code'], /^ERR_WAL_(CRC_MISMATCH|CORRUPT_RECORD)$/);
  const recs = lines.filter((l) => l['kind'] === 'record');
  assert.equal(recs.length, frames.indexOf(victim));
  const text = wal(['dump', bad]);
  assert.equal(text.status, 1);
  assert.match(text.stdout, new RegExp(`!! ERR_WAL_\\w+ at ${seg.replace(/[.]/g, '\\.')} offset ${victim.offset}`));
});

test('dump: LevelDB log — WriteBatches decoded, binary keys escaped, JSON keys round-trip, fragments counted', async () => {
  const { file } = await freshLevelDBLog('000007.log', 12);
  const before = hashTree(file);
  const r = wal(['dump', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /put\s+#1 "k0" = "value 0\\n\\x00end"/);
  assert.match(r.stdout, /delete #2 "\\x00\\xff\\x00"/);
  assert.match(r.stdout, /seq=7 count=2/);
  const j = wal(['dump', '--json', file]);
  assert.equal(j.status, 0);
  const recs = jsonLines(j.stdout).filter((l) => l['kind'] === 'record');
  assert.equal(recs.length, 12);
  // Record starts are the offsets of FULL/FIRST fragments on disk.
  const starts = levelDBFragments(file)
    .filter((f) => f.type === 1 || f.type === 2)
    .map((f) => f.offset);
  assert.deepEqual(
    recs.map((l) => l['offset']),
    starts,
  );
  recs.forEach((rec, i) => {
    assert.equal(rec['sequence'], 2 * i + 1);
    const ops = batchOps(i);
    assert.deepEqual(new Uint8Array(Buffer.from(rec['ops'][0]['keyBase64'], 'base64')), ops[0]!.key);
    assert.deepEqual(new Uint8Array(Buffer.from(rec['ops'][0]['valueBase64'], 'base64')), (ops[0] as { value: Uint8Array }).value);
    assert.equal(rec['ops'][1]['op'], 'delete');
    assert.equal(rec['fragments'] > 1, (ops[0] as { value: Uint8Array }).value.length > 32768 - 7);
  });
  const ranged = jsonLines(wal(['dump', '--json', '--from', '5', '--to', '8', file]).stdout).filter((l) => l['kind'] === 'record');
  assert.deepEqual(
    ranged.map((l) => l['sequence']),
    [5, 7],
  );
  assert.deepEqual(hashTree(file), before);
});
