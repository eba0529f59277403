// Power loss, etcd WAL: a workload runs through the recording layer (over the backend under test);
// every crash state of its history (durable writes + any mix of later writes lost, whole, torn at
// 512-byte sectors or zeroed; un-fsynced creates/renames lost) is recovered the way etcd's server
// does it (Open + ReadAll, on ERR_WAL_UNEXPECTED_EOF one Repair and again) and must hold every
// acknowledged entry, intact, as a gap-free prefix of what was written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import type { Entry } from '../../src/etcd/codec';
import { isWalError, WalErrorCodes } from '../../src/errors';
import type { CrashState, RecordingIo } from '../support/recording-io';
import { prng } from '../support/prng';
import { checkCrashStates, checkRecordedRounds, newRecording, scratchDir } from '../support/crash-states';

type Mark = { created: true } | { acked: number };

const SNAP0 = { index: 0n, term: 0n };

/** The payload of entry `i` (deterministic, so recovered bytes can be compared). */
function payloadOf(i: number, seed: number): Uint8Array {
  const r = prng(seed * 7919 + i);
  // mostly small, sometimes several sectors, so frames straddle 512-byte boundaries
  const n = r() < 0.15 ? 600 + Math.floor(r() * 1600) : Math.floor(r() * 200);
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (r() * 256) | 0;
  return b;
}

function entry(i: number, seed: number): Entry {
  return { term: 1n, index: BigInt(i), type: 0, data: payloadOf(i, seed) };
}

/** Writes a WAL through `rec`; returns how many entries were handed to save. */
async function workload(rec: RecordingIo, dir: string, seed: number, segmentSizeBytes: number, unsafeNoFsync = false): Promise<number> {
  const r = prng(seed);
  const opts = { io: rec, segmentSizeBytes, unsafeNoFsync };
  let w = await WAL.create(dir, new Uint8Array([1, 2, 3]), opts);
  rec.mark({ created: true } satisfies Mark);
  let next = 1;
  const total = 28 + Math.floor(r() * 10);
  while (next <= total) {
    const roll = r();
    if (roll < 0.08) {
      // commit-only change: written, not synced (etcd MustSync is false), not acknowledged
      await w.save({ term: 1n, vote: 1n, commit: BigInt(next - 1) }, []);
      continue;
    }
    if (roll < 0.12) {
      // restart: exercises ReadAll's zeroing of the tail and appending after it
      await w.close();
      w = await WAL.open(dir, SNAP0, opts);
      await w.readAll();
      continue;
    }
    const batch = roll < 0.3 ? 2 + Math.floor(r() * 3) : 1;
    const entries: Entry[] = [];
    for (let k = 0; k < batch && next <= total; k++) entries.push(entry(next++, seed));
    await w.save({ term: 1n, vote: 1n, commit: BigInt(next - 2) }, entries);
    rec.mark({ acked: next - 1 } satisfies Mark);
  }
  await w.close();
  return total;
}

/** etcd server recovery: Open + ReadAll; on a torn tail, Repair once and again. */
async function recover(dir: string, segmentSizeBytes: number): Promise<{ entries: Entry[]; w: WAL }> {
  // The server runs with the same segment size (a global in etcd); a default 64 MB preallocation
  // per state would dominate the run time on a memory filesystem.
  // Small read chunks: more chunk-boundary cases, and no 1 MiB buffer per state (see fuzz-etcd).
  const opts = { segmentSizeBytes, readChunkSize: 4096 };
  let w = await WAL.open(dir, SNAP0, opts);
  try {
    return { entries: (await w.readAll()).entries, w };
  } catch (err) {
    await w.close();
    if (!isWalError(err, WalErrorCodes.UNEXPECTED_EOF)) throw err;
  }
  assert.equal(await WAL.repair(dir), true, 'repair of a torn tail must succeed');
  w = await WAL.open(dir, SNAP0, opts);
  try {
    return { entries: (await w.readAll()).entries, w };
  } catch (err) {
    await w.close();
    throw err;
  }
}

function checkEntries(entries: Entry[], acked: number, written: number, seed: number): void {
  assert.ok(entries.length >= acked, `lost acknowledged entries: recovered ${entries.length}, acknowledged ${acked}`);
  assert.ok(entries.length <= written, `recovered ${entries.length} entries, only ${written} written`);
  entries.forEach((e, k) => {
    assert.equal(e.index, BigInt(k + 1), 'entries must form a gap-free prefix');
    assert.deepEqual(e.data, payloadOf(k + 1, seed), `entry ${k + 1} garbled`);
  });
}

/** The invariants every crash state must satisfy after recovery. */
function makeCheck(written: number, seed: number, segmentSize: number, onReuse: () => void) {
  return async (dir: string, state: CrashState): Promise<void> => {
    const walDir = path.join(dir, 'wal');
    const marks = state.marks as Mark[];
    const created = marks.some((m) => 'created' in m);
    const acked = marks.reduce((a, m) => ('acked' in m ? m.acked : a), 0);
    if (!(await WAL.exist(walDir))) {
      assert.ok(!created, 'the WAL vanished after create() resolved');
      return;
    }
    // Read-only first: must never fail on a crash state and never see less than what is acked.
    const ro = await WAL.openForRead(walDir, SNAP0, { readChunkSize: 4096 });
    checkEntries((await ro.readAll()).entries, acked, written, seed);
    await ro.close();
    const { entries, w } = await recover(walDir, segmentSize);
    checkEntries(entries, acked, written, seed);
    if (state.at % 8 === 0) {
      // Reusable: append after recovery, reopen, and find it.
      const n = entries.length + 1;
      await w.save({ term: 1n, vote: 1n, commit: 0n }, [entry(n, seed)]);
      await w.close();
      const again = await WAL.open(walDir, SNAP0, { segmentSizeBytes: segmentSize, readChunkSize: 4096 });
      checkEntries((await again.readAll()).entries, n, n, seed);
      await again.close();
      onReuse();
    } else {
      await w.close();
    }
  };
}

const STATES = Number(process.env['CRASH_STATES_ETCD'] ?? 4000);

test(`etcd WAL: every acknowledged entry survives power loss (${STATES} crash states)`, { timeout: 240_000 }, async () => {
  let reused = 0;
  const res = await checkRecordedRounds({
    prefix: 'nodewal-pl-etcd-',
    states: STATES,
    firstSeed: 1000,
    variants: 6,
    record: async (rec, root, seed, round) => {
      const segmentSize = [2048, 4096, 6000][round % 3]!;
      const written = await workload(rec, path.join(root, 'wal'), seed, segmentSize);
      return makeCheck(written, seed, segmentSize, () => reused++);
    },
  });
  console.log(
    `# etcd power loss: ${res.checked} distinct crash states checked (${res.generated} generated, ${reused} reused after recovery) in ${res.seconds.toFixed(1)} s`,
  );
  assert.ok(res.checked >= STATES);
});

test('the check is not vacuous: a WAL that acknowledges without fdatasync is caught', async () => {
  const scratch = scratchDir('nodewal-pl-etcd-');
  const { root, rec } = newRecording(scratch, 'rec');
  const written = await workload(rec, path.join(root, 'wal'), 7, 4096, true);
  await assert.rejects(
    checkCrashStates({ rec, scratch, variants: 2, seed: 7, limit: 5000, check: makeCheck(written, 7, 4096, () => undefined) }),
    /crash state at event \d+.* failed: /,
  );
});
