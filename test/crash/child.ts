/**
 * The process that gets SIGKILLed. Usage: child.ts <format> <dir> <seed> <segmentSize> [preallocation]
 * format: etcd | log | leveldb. It recovers whatever is in <dir> (as the library documents:
 * etcd server style Open+ReadAll with one Repair on a torn tail; Log.open; the LevelDB writer with
 * repairTail), prints `R <n>` (records recovered), then appends records n+1, n+2, ... with sync
 * and prints `A <i>` once record i is acknowledged (its promise resolved). It never exits on its
 * own before `maxRecords`; the parent kills it.
 *
 * Lines go out with fs.writeSync so a line the parent read was written before the kill.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import type { Entry } from '../../src/etcd/codec';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { Log } from '../../src/log/log';
import type { Preallocation } from '../../src/log/options';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { readLevelDBLog } from '../../src/leveldb/reader';
import { crashPayload, indexOfPayload } from './payload';

const [format, dir, seedArg, segArg, preallocArg] = process.argv.slice(2);
const seed = Number(seedArg);
const segmentSize = Number(segArg);
const preallocation = (preallocArg ?? 'zero-fill') as Preallocation;
const maxRecords = 200_000;
const SNAP0 = { index: 0n, term: 0n };

function say(line: string): void {
  fs.writeSync(1, `${line}\n`);
}

function rng(): number {
  return Math.random();
}

async function etcd(): Promise<void> {
  const opts = { segmentSizeBytes: segmentSize };
  let w: WAL;
  let n = 0;
  if (await WAL.exist(dir)) {
    w = await WAL.open(dir, SNAP0, opts);
    try {
      n = (await w.readAll()).entries.length;
    } catch (err) {
      await w.close();
      if (!isWalError(err, WalErrorCodes.UNEXPECTED_EOF)) throw err;
      if (!(await WAL.repair(dir, opts))) throw new Error('repair refused a torn tail');
      w = await WAL.open(dir, SNAP0, opts);
      n = (await w.readAll()).entries.length;
    }
  } else {
    w = await WAL.create(dir, new Uint8Array([7]), opts);
  }
  say(`R ${n}`);
  while (n < maxRecords) {
    const batch: Entry[] = [];
    const k = rng() < 0.3 ? 2 + Math.floor(rng() * 4) : 1;
    for (let j = 0; j < k; j++) {
      n++;
      batch.push({ term: 1n, index: BigInt(n), type: 0, data: crashPayload(n, seed) });
    }
    await w.save({ term: 1n, vote: 1n, commit: BigInt(n - k) }, batch);
    say(`A ${n}`);
  }
}

async function log(): Promise<void> {
  const l = await Log.open(dir, { segmentSize, preallocation });
  let n = Number(l.lastIndex);
  say(`R ${n}`);
  while (n < maxRecords) {
    // a burst of concurrent appends (group commit), or a batch
    if (rng() < 0.3) {
      const batch: Uint8Array[] = [];
      const k = 2 + Math.floor(rng() * 4);
      for (let j = 0; j < k; j++) batch.push(crashPayload(++n, seed));
      const last = await l.appendBatch(batch);
      say(`A ${last}`);
    } else {
      const k = 1 + Math.floor(rng() * 6);
      const all: Promise<void>[] = [];
      for (let j = 0; j < k; j++) all.push(l.append(crashPayload(++n, seed)).then((i) => say(`A ${i}`)));
      await Promise.all(all);
    }
  }
}

async function leveldb(): Promise<void> {
  const file = path.join(dir, '000003.log');
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  if (fs.existsSync(file)) {
    for await (const { data } of readLevelDBLog(file, { onCorruption: () => undefined })) n = Math.max(n, indexOfPayload(data));
  }
  const w = await LevelDBLogWriter.open(file, { repairTail: true });
  say(`R ${n}`);
  while (n < maxRecords) {
    if (rng() < 0.3) {
      const batch: Uint8Array[] = [];
      const k = 2 + Math.floor(rng() * 4);
      for (let j = 0; j < k; j++) batch.push(crashPayload(++n, seed));
      await w.addRecords(batch, { sync: true });
    } else {
      await w.addRecord(crashPayload(++n, seed), { sync: true });
    }
    say(`A ${n}`);
  }
}

const run = format === 'etcd' ? etcd : format === 'log' ? log : format === 'leveldb' ? leveldb : null;
if (run === null) {
  say(`E unknown format ${format}`);
  process.exit(2);
}
run().then(
  () => process.exit(0),
  (err: unknown) => {
    say(`E ${JSON.stringify(String((err as Error)?.stack ?? err))}`);
    process.exit(1);
  },
);
