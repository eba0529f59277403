/**
 * The `wal` CLI against logs written by LevelDB 1.23 itself (the C++ harness in ./leveldb): a real
 * database's log decodes into the batches that were applied, and a repaired torn log reads back
 * through LevelDB's own log::Reader with no corruption and every complete record.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/tmp';
import { type BatchOps, levelDBPut, levelDBReadMany, levelDBWrite } from './leveldb/harness';
import { enc, hashTree, jsonLines, levelDBFragments, wal } from '../support/cli-helpers';

test('a database written by LevelDB: dump lists every put/delete with its sequence number', () => {
  const dir = path.join(tempDir(), 'db');
  const batches: BatchOps[] = [];
  for (let i = 0; i < 30; i++) {
    batches.push([
      { type: 'put', key: enc.encode(`key-${i}`), value: i % 10 === 9 ? new Uint8Array(50_000).fill(i) : enc.encode(`v${i}`) },
      ...(i > 0 ? [{ type: 'delete' as const, key: enc.encode(`key-${i - 1}`) }] : []),
    ]);
  }
  levelDBPut(dir, batches);
  const before = hashTree(dir);
  const r = wal(['dump', '--json', dir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const recs = jsonLines(r.stdout).filter((l) => l['kind'] === 'record');
  assert.equal(recs.length, 30);
  let seq = 1;
  recs.forEach((rec, i) => {
    assert.equal(rec['sequence'], seq);
    const ops = rec['ops'] as Record<string, any>[];
    assert.deepEqual(
      ops.map((o) => o['op']),
      batches[i]!.map((o) => o.type),
    );
    ops.forEach((o, k) => assert.deepEqual(new Uint8Array(Buffer.from(o['keyBase64'], 'base64')), batches[i]![k]!.key));
    seq += ops.length;
  });
  assert.equal(wal(['verify', dir]).status, 0);
  assert.deepEqual(hashTree(dir), before);
});

test("a torn log written by LevelDB's log::Writer: repair leaves what LevelDB's reader accepts without complaint", () => {
  const root = tempDir();
  const file = path.join(root, '000012.log');
  const records = Array.from({ length: 40 }, (_, i) => new Uint8Array(i % 9 === 4 ? 70_000 : 100 + i * 13).fill(i + 1));
  levelDBWrite(file, records, 'new');
  const starts = levelDBFragments(file).filter((f) => f.type === 1 || f.type === 2);
  fs.truncateSync(file, starts[starts.length - 1]!.offset + 30);
  const torn = levelDBReadMany([{ file, checksum: true, initialOffset: 0 }])[0]!;
  assert.equal(torn.records.length, 39);
  const r = wal(['repair', '--yes', file]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const after = levelDBReadMany([{ file, checksum: true, initialOffset: 0 }])[0]!;
  assert.deepEqual(after.reports, []);
  assert.deepEqual(after.records, torn.records);
  assert.equal(fs.statSync(file).size, starts[starts.length - 1]!.offset);
  // These payloads are not WriteBatches: fine for the log format (--raw), not for a database.
  assert.equal(wal(['verify', '--raw', file]).status, 0);
  assert.match(wal(['verify', file]).stdout, /ERR_WAL_BAD_WRITE_BATCH/);
  // Appending with LevelDB's writer after the repair gives a log LevelDB reads in full.
  levelDBWrite(file, [new Uint8Array(10).fill(0xee)], 'append');
  const appended = levelDBReadMany([{ file, checksum: true, initialOffset: 0 }])[0]!;
  assert.equal(appended.records.length, 40);
  assert.deepEqual(appended.reports, []);
});
