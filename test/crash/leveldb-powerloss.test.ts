// Power loss, LevelDB log writer: records appended with sync (and some without, made durable by a
// later sync) through the recording layer; every crash state is read back with the LevelDB reader
// (reports collected, as LevelDB's recovery with paranoid_checks off). Every acknowledged record
// must come back, intact and in order, with no corruption reported before the last of them;
// anything after it must be written records in increasing order (LevelDB may skip a torn one).
// Then the file is reopened with repairTail and must take a new record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { readLevelDBLog } from '../../src/leveldb/reader';
import type { CrashState, RecordingIo } from '../support/recording-io';
import { prng } from '../support/prng';
import { checkCrashStates, checkRecordedRounds, newRecording, scratchDir } from '../support/crash-states';

type Mark = { opened: true } | { acked: number };

/** Record i: a tag with its index, then deterministic bytes; sizes cross 32 KiB blocks at times. */
function payloadOf(i: number, seed: number): Uint8Array {
  const r = prng(seed * 15485863 + i);
  const roll = r();
  const n = roll < 0.1 ? 20000 + Math.floor(r() * 30000) : roll < 0.3 ? 1000 + Math.floor(r() * 3000) : 8 + Math.floor(r() * 200);
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (r() * 256) | 0;
  new DataView(b.buffer).setUint32(0, i, true);
  return b;
}

function indexOf(data: Uint8Array): number {
  return data.length >= 4 ? new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true) : -1;
}

async function workload(rec: RecordingIo, file: string, seed: number, sync = true): Promise<number> {
  const r = prng(seed);
  const opts = { io: rec };
  let w = await LevelDBLogWriter.open(file, opts);
  rec.mark({ opened: true } satisfies Mark);
  const total = 25 + Math.floor(r() * 10);
  let next = 1;
  while (next <= total) {
    const roll = r();
    if (roll < 0.05) {
      await w.close();
      w = await LevelDBLogWriter.open(file, { ...opts, repairTail: true });
      continue;
    }
    if (roll < 0.2) {
      // buffered in the OS only; made durable by the next sync
      await w.addRecord(payloadOf(next++, seed));
      continue;
    }
    if (roll < 0.4) {
      const batch: Uint8Array[] = [];
      for (let k = 0; k < 2 + Math.floor(r() * 3) && next <= total; k++) batch.push(payloadOf(next++, seed));
      await w.addRecords(batch, { sync });
    } else {
      await w.addRecord(payloadOf(next++, seed), { sync });
    }
    // With sync=false this acknowledgement is a lie (the not-vacuous test below).
    rec.mark({ acked: next - 1 } satisfies Mark);
  }
  await w.close();
  return total;
}

/** Reads the log; returns record indexes, their end offsets, and the corruption reports. */
async function readBack(file: string, seed: number): Promise<{ indexes: number[]; reports: { offset: number; reason: string }[] }> {
  const reports: { offset: number; reason: string }[] = [];
  const indexes: number[] = [];
  for await (const { data } of readLevelDBLog(file, { onCorruption: (c) => reports.push(c) })) {
    const i = indexOf(data);
    assert.ok(i >= 1, 'a record that was never written');
    assert.ok(Buffer.from(data.buffer, data.byteOffset, data.length).equals(payloadOf(i, seed)), `record ${i} garbled`);
    indexes.push(i);
  }
  return { indexes, reports };
}

function checkOrder(indexes: number[], acked: number, written: number): void {
  for (let k = 0; k < acked; k++) {
    assert.equal(indexes[k], k + 1, `acknowledged record ${k + 1} missing (got ${indexes.slice(0, acked).join(',')})`);
  }
  for (let k = 1; k < indexes.length; k++) assert.ok(indexes[k]! > indexes[k - 1]!, 'records out of order or repeated');
  assert.ok(indexes.length === 0 || indexes[indexes.length - 1]! <= written);
}

function makeCheck(written: number, seed: number, onReuse: () => void) {
  return async (dir: string, state: CrashState): Promise<void> => {
    const file = path.join(dir, 'db', '000003.log');
    const marks = state.marks as Mark[];
    const acked = marks.reduce((a, m) => ('acked' in m ? m.acked : a), 0);
    if (!fs.existsSync(file)) {
      assert.equal(acked, 0, `the log file vanished after ${acked} records were acknowledged`);
      return;
    }
    // A report before the last acknowledged record would have dropped one: checkOrder rules it out.
    const { indexes } = await readBack(file, seed);
    checkOrder(indexes, acked, written);
    if (state.at % 6 === 0) {
      const w = await LevelDBLogWriter.open(file, { repairTail: true });
      await w.addRecord(payloadOf(written + 1, seed), { sync: true });
      await w.close();
      const again = await readBack(file, seed);
      checkOrder(again.indexes, acked, written + 1);
      assert.equal(again.indexes[again.indexes.length - 1], written + 1, 'the record appended after recovery is missing');
      onReuse();
    }
  };
}

const STATES = Number(process.env['CRASH_STATES_LEVELDB'] ?? 3000);

test(`LevelDB log: every acknowledged record survives power loss (${STATES} crash states)`, { timeout: 240_000 }, async () => {
  let reused = 0;
  const res = await checkRecordedRounds({
    prefix: 'nodewal-pl-ldb-',
    states: STATES,
    firstSeed: 3000,
    variants: 6,
    subdirs: ['db'],
    record: async (rec, root, seed) => {
      const written = await workload(rec, path.join(root, 'db', '000003.log'), seed);
      return makeCheck(written, seed, () => reused++);
    },
  });
  console.log(
    `# LevelDB power loss: ${res.checked} distinct crash states checked (${res.generated} generated, ${reused} reused after recovery) in ${res.seconds.toFixed(1)} s`,
  );
  assert.ok(res.checked >= STATES);
});

test('the check is not vacuous: a LevelDB log acknowledged without sync is caught', async () => {
  const scratch = scratchDir('nodewal-pl-ldb-');
  const { root, rec } = newRecording(scratch, 'rec', ['db']);
  const written = await workload(rec, path.join(root, 'db', '000003.log'), 11, false);
  await assert.rejects(
    checkCrashStates({ rec, scratch, variants: 2, seed: 11, limit: 5000, check: makeCheck(written, 11, () => undefined) }),
    /crash state .* failed: /,
  );
});

test('regression: a record synced into a newly created log file survives losing un-fsynced directory entries', async () => {
  // The writer created the file but never fsynced its directory, so after a power cut the file
  // (and every record synced into it) could be gone.
  const scratch = scratchDir('nodewal-pl-ldb-');
  const { root, rec } = newRecording(scratch, 'rec', ['db']);
  const w = await LevelDBLogWriter.open(path.join(root, 'db', '000005.log'), { io: rec });
  await w.addRecord(payloadOf(1, 1), { sync: true });
  await w.close();
  let durableOnly = 0;
  for (const state of rec.crashStates({ variants: 0, seed: 1 })) {
    if (state.at !== rec.history.length || state.how !== 'durable only') continue;
    durableOnly++;
    const content = state.tree.get('db/000005.log');
    assert.ok(content !== undefined && content !== null, 'the synced log file is not durable');
  }
  assert.equal(durableOnly, 1);
});
