/**
 * Our writer's bytes == LevelDB 1.23's log::Writer bytes (Debian libleveldb.a, via the harness)
 * for random record sets concentrated at the block edges, for fresh files and for appending to
 * an existing file cut at a random length (LevelDB's Writer(dest, dest_length)).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { tempDir } from '../support/tmp';
import { Rng, edgeRecords } from './leveldb/corpus';
import { levelDBWrite } from './leveldb/harness';

const SETS = Number(process.env['LEVELDB_WRITER_SETS'] ?? 150);
const SEED = Number(process.env['LEVELDB_FUZZ_SEED'] ?? Date.now() % 1_000_000);

async function ourWrite(file: string, records: Uint8Array[], batched: boolean): Promise<void> {
  const writer = await LevelDBLogWriter.open(file);
  if (batched) await writer.addRecords(records);
  else for (const r of records) await writer.addRecord(r);
  await writer.close();
}

test(`fresh files: ${SETS} random record sets byte-identical to LevelDB (seed ${SEED})`, async () => {
  const dir = tempDir('nodewal-ldbw-');
  const rng = new Rng(SEED);
  for (let i = 0; i < SETS; i++) {
    const records = edgeRecords(rng, 1 + rng.int(12));
    const theirs = path.join(dir, `${i}.theirs`);
    const ours = path.join(dir, `${i}.ours`);
    levelDBWrite(theirs, records, 'new');
    await ourWrite(ours, records, i % 2 === 0);
    assert.ok(fs.readFileSync(ours).equals(fs.readFileSync(theirs)), `set ${i} differs (seed ${SEED})`);
  }
});

test('every block offset 32755..32768 with empty, 1-byte and block-sized records', async () => {
  const dir = tempDir('nodewal-ldbw-');
  let n = 0;
  for (let left = 0; left <= 13; left++) {
    for (const next of [0, 1, 32761, 32762, 32768]) {
      // The first record leaves exactly `left` bytes in the first block.
      const first = new Uint8Array(Math.max(0, 32768 - 7 - left)).fill(0x61);
      const records = [first, new Uint8Array(next).fill(0x62), new Uint8Array(3).fill(0x63)];
      const theirs = path.join(dir, `${n}.theirs`);
      const ours = path.join(dir, `${n++}.ours`);
      levelDBWrite(theirs, records, 'new');
      await ourWrite(ours, records, left % 2 === 0);
      assert.ok(fs.readFileSync(ours).equals(fs.readFileSync(theirs)), `left=${left} next=${next}`);
    }
  }
});

test(`appending to a file cut at a random length matches LevelDB's Writer(dest, dest_length) (seed ${SEED})`, async () => {
  const dir = tempDir('nodewal-ldbw-');
  const rng = new Rng(SEED ^ 0x5bd1e995);
  for (let i = 0; i < Math.ceil(SETS / 2); i++) {
    const base = path.join(dir, `${i}.base`);
    levelDBWrite(base, edgeRecords(rng, 1 + rng.int(5)), 'new');
    const whole = fs.readFileSync(base);
    // Cut anywhere, including mid-header, mid-payload and inside a block's last 6 bytes.
    const cut = rng.int(3) === 0 ? whole.length - rng.int(8) : rng.int(whole.length + 1);
    const prefix = whole.subarray(0, Math.max(0, cut));
    const more = edgeRecords(rng, 1 + rng.int(6), prefix.length);
    const theirs = path.join(dir, `${i}.theirs`);
    const ours = path.join(dir, `${i}.ours`);
    fs.writeFileSync(theirs, prefix);
    fs.writeFileSync(ours, prefix);
    levelDBWrite(theirs, more, 'append');
    await ourWrite(ours, more, i % 2 === 1);
    assert.ok(fs.readFileSync(ours).equals(fs.readFileSync(theirs)), `set ${i} cut at ${cut} differs (seed ${SEED})`);
  }
});
