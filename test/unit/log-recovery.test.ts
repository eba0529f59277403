import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { readWithEtcdDecoder } from '../support/log-helpers';

async function filled(count: number, segmentSize = 64 * 1024): Promise<{ dir: string; datas: Buffer[] }> {
  const dir = tempDir();
  const log = await Log.open(dir, { segmentSize });
  const datas = Array.from({ length: count }, (_, i) => Buffer.alloc(200 + (i % 300), (i % 250) + 1));
  for (let i = 0; i < count; i += 7) await log.appendBatch(datas.slice(i, i + 7));
  await log.close();
  return { dir, datas };
}

function walFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => path.join(dir, n));
}

/** Frame start offsets of the entries in a segment, walking length words. */
function frameOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const lo = buf.readUInt32LE(off);
    const hi = buf.readUInt32LE(off + 4);
    if (lo === 0 && hi === 0) break;
    out.push(off);
    off += 8 + lo + (hi & 0x80000000 ? (hi >>> 24) & 7 : 0);
  }
  return out;
}

test('a torn tail (a zeroed sector or a cut inside the last record) is repaired, keeping a .broken copy', async () => {
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.integer({ min: 1, max: 5 }), async (zeroSector, back) => {
      const { dir, datas } = await filled(40);
      const tailPath = walFiles(dir).pop()!;
      const buf = fs.readFileSync(tailPath);
      const frames = frameOffsets(buf);
      const victim = frames[frames.length - back]!; // one of the last records
      const survivors = datas.length - back;
      if (zeroSector) {
        // The length word reached the disk, the sectors of the record body did not.
        buf.fill(0, victim + 8);
        fs.writeFileSync(tailPath, buf);
      } else {
        fs.truncateSync(tailPath, victim + 12);
      }
      const log = await Log.open(dir, { segmentSize: 64 * 1024 });
      try {
        assert.ok(log.stats().repaired?.endsWith('.broken'), 'repaired');
        assert.ok(fs.existsSync(`${tailPath}.broken`));
        assert.equal(log.lastIndex, BigInt(survivors));
        const next = await log.append('after repair');
        assert.equal(next, log.lastIndex);
        let n = 0;
        for await (const e of log.entries({ to: BigInt(survivors) })) {
          assert.deepEqual(Buffer.from(e.data), datas[Number(e.index) - 1]);
          n++;
        }
        assert.equal(n, survivors);
      } finally {
        await log.close();
      }
      const etcd = await readWithEtcdDecoder(dir);
      assert.equal(Buffer.from(etcd.entries[etcd.entries.length - 1]!.data!).toString(), 'after repair');
    }),
    { numRuns: 8 },
  );
});

test('a flipped bit in a closed segment is corruption, not a torn write', async () => {
  const { dir } = await filled(120, 8192);
  const files = walFiles(dir);
  assert.ok(files.length > 2);
  const victim = files[1]!;
  const buf = fs.readFileSync(victim);
  const frames = frameOffsets(buf);
  buf[frames[3]! + 30]! ^= 0x10;
  fs.writeFileSync(victim, buf);
  await assert.rejects(Log.open(dir, { segmentSize: 8192 }), { code: 'ERR_WAL_CRC_MISMATCH' });
});

test('reopening continues the index and the CRC chain', async () => {
  const { dir, datas } = await filled(30, 8192);
  const log = await Log.open(dir, { segmentSize: 8192 });
  assert.equal(log.lastIndex, 30n);
  assert.equal(await log.append('31'), 31n);
  await log.close();
  const { entries } = await readWithEtcdDecoder(dir);
  assert.equal(entries.length, 31);
  assert.deepEqual(Buffer.from(entries[0]!.data!), datas[0]);
  await assert.rejects(Log.open(tempDir(), { mustExist: true }), { code: 'ERR_WAL_FILE_NOT_FOUND' });
});
