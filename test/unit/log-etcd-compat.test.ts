import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { RecordType } from '../../src/etcd/codec';
import { parseWalName } from '../../src/etcd/segments';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { readWithEtcdDecoder } from '../support/log-helpers';

test('etcd rules read the directory: crc, metadata, snapshot {0,0}, then the entries in order', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, { segmentSize: 4096, term: 7n });
  const datas = Array.from({ length: 200 }, (_, i) => Buffer.from(`entry ${i} `.repeat(i % 5)));
  for (let i = 0; i < datas.length; i += 25) await log.appendBatch(datas.slice(i, i + 25));
  await log.close();
  const { entries, snapshots, types } = await readWithEtcdDecoder(dir);
  assert.deepEqual(types.slice(0, 3), [RecordType.Crc, RecordType.Metadata, RecordType.Snapshot]);
  assert.deepEqual(snapshots, [{ index: 0n, term: 0n }]);
  assert.equal(entries.length, datas.length);
  entries.forEach((e, i) => {
    assert.equal(e.index, BigInt(i + 1));
    assert.equal(e.term, 7n);
    assert.equal(e.type, 0);
    assert.deepEqual(Buffer.from(e.data ?? []), datas[i]);
  });
});

test('segment names follow etcd: seq +1, index = first entry; closed segments end at their last frame; the tail is zeros after it', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, { segmentSize: 4096 });
  for (let i = 0; i < 120; i++) await log.appendBatch([Buffer.alloc(100, i), Buffer.alloc(50, i)]);
  const lastIndex = log.lastIndex;
  await log.close();
  const names = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
  assert.ok(names.length > 3, `several segments (${names.length})`);
  const { entries } = await readWithEtcdDecoder(dir);
  let expectSeq = 0n;
  for (const [k, name] of names.entries()) {
    const p = parseWalName(name)!;
    assert.equal(p.seq, expectSeq++);
    if (k > 0) {
      // The first entry of segment k is the one after the last entry of the segments before it.
      const first = entries.find((e) => e.index === p.index);
      assert.ok(first !== undefined, `entry ${p.index} exists`);
    }
  }
  assert.equal(entries[entries.length - 1]!.index, lastIndex);
  // Closed segments: etcd's decoder read them to the end without hitting a zero word; check sizes are 8-aligned.
  for (const name of names.slice(0, -1)) assert.equal(fs.statSync(path.join(dir, name)).size % 8, 0);
  const tail = fs.readFileSync(path.join(dir, names[names.length - 1]!));
  assert.ok(tail.length >= 4096, 'the tail keeps its preallocated size');
  // Find the end of the data by walking frames, then everything after must be zero.
  let off = 0;
  while (off + 8 <= tail.length) {
    const lo = tail.readUInt32LE(off);
    const hi = tail.readUInt32LE(off + 4);
    if (lo === 0 && hi === 0) break;
    off += 8 + lo + (hi & 0x80000000 ? (hi >>> 24) & 7 : 0);
  }
  assert.ok(
    tail.subarray(off).every((b) => b === 0),
    'zero tail after the last record',
  );
  // The side files (lease, log id, durable index: all *.tmp, ignored by etcd) stay; no prepared segment does.
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => /^[01]\.tmp$/.test(n)),
    [],
    'no prepared segment left after close',
  );
});
