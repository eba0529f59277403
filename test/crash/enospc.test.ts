// A real full disk (npm run test:enospc; needs root: it mounts a 1 MiB tmpfs and unmounts it).
// For the etcd WAL, the Log and the LevelDB writer: append until the filesystem is full; the
// failing call must reject with a WalError naming ENOSPC, later writes must be refused
// (ERR_WAL_FAILED), every acknowledged record must be there after reopening, and once space is
// freed the log must accept records again. Injected ENOSPC (faults-resources.test.ts) covers the
// same paths in the unit suite without root.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import { isWalError, WalError, WalErrorCodes } from '../../src/errors';
import { Log } from '../../src/log/log';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { readLevelDBLog } from '../../src/leveldb/reader';
import { crashPayload, isPayload } from './payload';

const SEED = 3;
let mnt = '';

before(() => {
  mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-enospc-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`cannot mount a small tmpfs (needs root and mount): ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
});

/** Files under the mount this process still has open (a leak would keep the mount busy). */
function openFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) out.push(`${fd} -> ${target}`);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

after(() => {
  const leaked = openFilesUnder(mnt);
  try {
    execFileSync('umount', leaked.length > 0 ? ['-l', mnt] : [mnt], { stdio: 'pipe' });
  } finally {
    fs.rmSync(mnt, { recursive: true, force: true });
  }
  assert.deepEqual(leaked, [], 'file descriptors left open after every log was closed');
});

function namesEnospc(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC' || /ENOSPC/.test((e as Error).message ?? '')) return true;
  }
  return false;
}

interface Writer {
  append(i: number): Promise<void>;
  close(): Promise<void>;
}

async function fillUp(w: Writer): Promise<{ acked: number; failure: unknown }> {
  let acked = 0;
  for (let i = 1; i < 100_000; i++) {
    try {
      await w.append(i);
      acked = i;
    } catch (err) {
      return { acked, failure: err };
    }
  }
  return { acked, failure: null };
}

async function check(name: string, open: () => Promise<Writer>, recover: () => Promise<number[]>): Promise<void> {
  const w = await open();
  const { acked, failure } = await fillUp(w);
  assert.ok(failure !== null, `${name}: the disk never filled up`);
  assert.ok(failure instanceof WalError && namesEnospc(failure), `${name}: expected a WalError naming ENOSPC, got ${String(failure)}`);
  await assert.rejects(w.append(acked + 2), (e: unknown) => isWalError(e, WalErrorCodes.FAILED));
  await w.close().catch(() => undefined);
  // Free space (the filler), then recover and append.
  fs.rmSync(path.join(mnt, 'filler'), { force: true });
  const present = await recover();
  assert.ok(present.length >= acked, `${name}: ${acked} acknowledged, ${present.length} recovered`);
  present.forEach((v, k) => assert.equal(v, k + 1));
  const again = await open();
  await again.append(present.length + 1);
  await again.close();
  assert.equal((await recover()).length, present.length + 1);
  console.log(`# ${name}: disk full after ${acked} acknowledged records; all recovered; writable after space was freed`);
}

/** Leaves about `free` bytes on the filesystem. */
function fillExcept(free: number): void {
  const st = fs.statfsSync(mnt);
  const avail = st.bavail * st.bsize;
  fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(Math.max(0, avail - free)));
}

test('etcd WAL on a full disk', async () => {
  const dir = path.join(mnt, 'etcd');
  fillExcept(200 * 1024);
  const opts = { segmentSizeBytes: 64 * 1024 };
  const open = async (): Promise<Writer> => {
    let w: WAL;
    if (await WAL.exist(dir)) {
      w = await WAL.open(dir, { index: 0n, term: 0n }, opts);
      await w.readAll();
    } else w = await WAL.create(dir, null, opts);
    return {
      append: (i) => w.save({ term: 1n, vote: 1n, commit: 0n }, [{ term: 1n, index: BigInt(i), type: 0, data: crashPayload(i, SEED) }]),
      close: () => w.close(),
    };
  };
  const recover = async (): Promise<number[]> => {
    let w = await WAL.open(dir, { index: 0n, term: 0n }, opts);
    let entries;
    try {
      entries = (await w.readAll()).entries;
    } catch (err) {
      await w.close();
      if (!isWalError(err, WalErrorCodes.UNEXPECTED_EOF)) throw err;
      assert.equal(await WAL.repair(dir, opts), true);
      w = await WAL.open(dir, { index: 0n, term: 0n }, opts);
      entries = (await w.readAll()).entries;
    }
    await w.close();
    return entries.map((e) => (assert.ok(e.data && isPayload(e.data, Number(e.index), SEED)), Number(e.index)));
  };
  await check('etcd WAL', open, recover);
});

test('Log on a full disk', async () => {
  const dir = path.join(mnt, 'log');
  fillExcept(200 * 1024);
  const opts = { segmentSize: 64 * 1024 };
  const open = async (): Promise<Writer> => {
    const l = await Log.open(dir, opts);
    return { append: async (i) => void (await l.append(crashPayload(i, SEED))), close: () => l.close() };
  };
  const recover = async (): Promise<number[]> => {
    const l = await Log.open(dir, { ...opts, mustExist: true });
    const out: number[] = [];
    for await (const e of l.entries()) {
      assert.ok(isPayload(e.data, Number(e.index), SEED));
      out.push(Number(e.index));
    }
    await l.close();
    return out;
  };
  await check('Log', open, recover);
});

test('LevelDB writer on a full disk', async () => {
  const file = path.join(mnt, '000003.log');
  fillExcept(100 * 1024);
  const open = async (): Promise<Writer> => {
    const w = await LevelDBLogWriter.open(file, { repairTail: true });
    return { append: async (i) => w.addRecord(crashPayload(i, SEED), { sync: true }), close: () => w.close() };
  };
  const recover = async (): Promise<number[]> => {
    const out: number[] = [];
    let k = 0;
    for await (const { data } of readLevelDBLog(file, { onCorruption: () => undefined })) {
      k++;
      assert.ok(isPayload(data, k, SEED));
      out.push(k);
    }
    return out;
  };
  await check('LevelDB writer', open, recover);
});
