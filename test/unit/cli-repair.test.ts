import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { encodeWriteBatch } from '../../src/leveldb/write-batch';
import {
  batchOps,
  etcdFrames,
  etcdSegments,
  flipByte,
  freshEtcdWal,
  freshLevelDBLog,
  hashTree,
  jsonLines,
  levelDBFragments,
  wal,
} from '../support/cli-helpers';

test('repair etcd torn tail: refuses without a TTY and --yes; --dry-run changes nothing; --yes cuts at the torn frame and keeps a backup', async () => {
  const { dir } = await freshEtcdWal(60);
  const last = etcdSegments(dir).pop()!;
  const frames = etcdFrames(last);
  const victim = frames[frames.length - 2]!; // cut in the middle of the second-to-last frame
  fs.truncateSync(last, victim.offset + 11);
  const torn = fs.readFileSync(last);
  const before = hashTree(dir);

  const refused = wal(['repair', dir]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /not a terminal; pass --yes/);
  assert.deepEqual(hashTree(dir), before);

  const dry = wal(['repair', '--dry-run', dir]);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`truncate it at offset ${victim.offset.toLocaleString('en-US')}`));
  assert.deepEqual(hashTree(dir), before);

  const r = wal(['repair', '--yes', '--json', dir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const lines = jsonLines(r.stdout);
  assert.equal(lines.find((l) => l['kind'] === 'plan')!['truncateAt'], victim.offset);
  assert.equal(lines.pop()!['healthy'], true);
  assert.equal(fs.statSync(last).size, victim.offset);
  assert.deepEqual(fs.readFileSync(last), torn.subarray(0, victim.offset));
  assert.deepEqual(fs.readFileSync(`${last}.broken`), torn, 'the backup holds the whole segment as it was');
  assert.equal(wal(['verify', dir]).status, 0);
});

test('repair etcd: an earlier .broken backup is kept, never overwritten', async () => {
  const { dir } = await freshEtcdWal(60);
  const last = etcdSegments(dir).pop()!;
  fs.writeFileSync(`${last}.broken`, 'earlier backup');
  const frames = etcdFrames(last);
  fs.truncateSync(last, frames[frames.length - 1]!.offset + 3);
  const r = wal(['repair', '-y', dir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(fs.readFileSync(`${last}.broken.1`, 'utf8'), 'earlier backup');
  assert.ok(fs.statSync(`${last}.broken`).size > 0);
});

test('repair etcd: a CRC mismatch in the middle is refused as etcd refuses it; nothing changes', async () => {
  const { dir } = await freshEtcdWal(60);
  const seg = etcdSegments(dir)[1]!;
  const f = etcdFrames(seg)[2]!;
  flipByte(seg, f.offset + 8 + f.recordBytes - 1);
  const before = hashTree(dir);
  const r = wal(['repair', '--yes', dir]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /cannot be repaired/);
  assert.deepEqual(hashTree(dir), before);
});

test('repair LevelDB torn tail: the result is byte-identical to a log of the complete records; backup kept', async () => {
  const { root, file: log } = await freshLevelDBLog('000009.log', 20);
  // The same first 19 batches written separately: what the repaired log must equal.
  const expected = path.join(root, 'expected', '000009.log');
  fs.mkdirSync(path.dirname(expected));
  const w = await LevelDBLogWriter.open(expected);
  for (let i = 0; i < 19; i++) await w.addRecord(encodeWriteBatch({ sequence: BigInt(2 * i + 1), ops: batchOps(i) }));
  await w.close();
  const lastStart = levelDBFragments(log)
    .filter((f) => f.type === 1 || f.type === 2)
    .pop()!;
  fs.truncateSync(log, lastStart.offset + 20);
  const torn = fs.readFileSync(log);
  const r = wal(['repair', '--yes', log]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.deepEqual(fs.readFileSync(log), fs.readFileSync(expected));
  assert.deepEqual(fs.readFileSync(`${log}.broken`), torn);
  assert.equal(wal(['verify', log]).status, 0);
});

test('repair LevelDB: damage followed by intact records is refused unless --force', async () => {
  const { root, file: log } = await freshLevelDBLog('000004.log', 20);
  const full = levelDBFragments(log).filter((f) => f.type === 1);
  const victim = full[2]!;
  flipByte(log, victim.offset + 7 + 1);
  const before = hashTree(root);
  const r = wal(['repair', '--yes', log]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /complete record\(s\) start at or after the damage/);
  assert.deepEqual(hashTree(root), before);
  const forced = wal(['repair', '--yes', '--force', log]);
  assert.equal(forced.status, 0, forced.stdout + forced.stderr);
  assert.equal(fs.statSync(log).size, victim.offset);
  assert.equal(jsonLines(wal(['dump', '--json', log]).stdout).filter((l) => l['kind'] === 'record').length, 2);
});
