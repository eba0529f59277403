/**
 * Differential fuzzing: our reader against LevelDB 1.23's own log::Reader (linked from Debian's
 * libleveldb.a) on thousands of randomly corrupted logs. Same records (offset, length, content
 * hash) and the same corruption reports (bytes and reason), with and without checksums and
 * initial_offset. LEVELDB_FUZZ_FILES and LEVELDB_FUZZ_SEED change the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeLevelDBRecords } from '../../src/leveldb/writer';
import { readLevelDBLog, type LevelDBCorruption } from '../../src/leveldb/reader';
import { tempDir } from '../support/tmp';
import { Rng, corrupt, edgeRecords } from './leveldb/corpus';
import { fnv64, levelDBReadMany } from './leveldb/harness';

const FILES = Number(process.env['LEVELDB_FUZZ_FILES'] ?? 3000);
const SEED = Number(process.env['LEVELDB_FUZZ_SEED'] ?? Date.now() % 1_000_000);

interface Case {
  file: string;
  what: string;
  checksum: boolean;
  initialOffset: number;
}

async function ourRead(c: Case) {
  const records: { offset: number; length: number; hash: string }[] = [];
  const reports: { bytes: number; reason: string }[] = [];
  const reader = readLevelDBLog(c.file, {
    checksum: c.checksum,
    initialOffset: c.initialOffset,
    onCorruption: (r: LevelDBCorruption) => reports.push({ bytes: r.bytes, reason: r.reason }),
  });
  for await (const { offset, data } of reader) records.push({ offset, length: data.length, hash: fnv64(data) });
  return { records, reports };
}

test(`reader matches LevelDB 1.23 on ${FILES} corrupted logs (seed ${SEED})`, async () => {
  const dir = tempDir('nodewal-ldbfuzz-');
  const rng = new Rng(SEED);
  const cases: Case[] = [];
  for (let i = 0; i < FILES; i++) {
    const clean = encodeLevelDBRecords(edgeRecords(rng, 1 + rng.int(8))).bytes;
    const { log, what } = rng.int(10) === 0 ? { log: clean, what: 'clean' } : corrupt(rng, clean);
    const file = path.join(dir, `${String(i).padStart(6, '0')}.log`);
    fs.writeFileSync(file, log);
    const initialOffset = rng.int(10) < 4 ? rng.int(log.length + 10) : 0;
    cases.push({ file, what, checksum: rng.int(100) >= 15, initialOffset });
  }
  const expected = levelDBReadMany(cases);
  let reports = 0;
  let records = 0;
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    const ours = await ourRead(c);
    assert.deepEqual(ours, expected[i], `file ${i} (${c.what}; checksum=${c.checksum}, initialOffset=${c.initialOffset}; seed ${SEED})`);
    reports += ours.reports.length;
    records += ours.records.length;
  }
  // The corpus must actually exercise the reporting paths, or the comparison proves little.
  assert.ok(reports > FILES / 4, `only ${reports} reports in ${FILES} files`);
  assert.ok(records > FILES, `only ${records} records in ${FILES} files`);
});

test(`reader matches LevelDB 1.23 on 30 corrupted logs of 0.5-2 MB (read-ahead and prefetch paths; seed ${SEED})`, async () => {
  const dir = tempDir('nodewal-ldbfuzz-big-');
  const rng = new Rng(SEED ^ 0x2545f491);
  const cases: Case[] = [];
  for (let i = 0; i < 30; i++) {
    const records: Uint8Array[] = [];
    let total = 0;
    const target = 500_000 + rng.int(1_500_000);
    while (total < target) {
      const batch = edgeRecords(rng, 4);
      for (const r of batch) total += r.length + 7;
      records.push(...batch);
    }
    const clean = encodeLevelDBRecords(records).bytes;
    const { log, what } = corrupt(rng, clean);
    const file = path.join(dir, `${String(i).padStart(6, '0')}.log`);
    fs.writeFileSync(file, log);
    cases.push({ file, what, checksum: true, initialOffset: rng.int(3) === 0 ? rng.int(log.length) : 0 });
  }
  const expected = levelDBReadMany(cases);
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    assert.deepEqual(await ourRead(c), expected[i], `file ${i} (${c.what}; initialOffset=${c.initialOffset}; seed ${SEED})`);
  }
});
