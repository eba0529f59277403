// Damaged cursor files of earlier versions (still read: docs/format.md): every byte flipped,
// truncated at every interesting length, zeroed, grown, torn writes at sector granularity. The
// result is always a typed error or a position that was durably committed (the last or the one
// before it), never one ahead of the last commit. The journal's own damage tests:
// consumer-journal-damage.test.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { defaultBackend } from '../../src/io/backend';
import { WalErrorCodes, isWalError } from '../../src/errors';
import {
  CURSOR_FILE_BYTES,
  SLOT_STRIDE,
  createCursorFile,
  decodeCursor,
  encodeSlot,
  writeCursor,
  type CursorState,
} from '../../src/log/cursor-file';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';

const io = defaultBackend;
const ID = '0123456789abcdef0123456789abcdef';

/** A log with 40 records and an earlier version's cursor file for 'dmg', committed 3, 9, 17, 30 (seq 2..5). */
async function cursorWithCommits(): Promise<{ dir: string; bytes: Buffer; commits: bigint[] }> {
  const dir = tempDir();
  const log = await Log.open(dir, { segmentSize: 8192 });
  const datas = Array.from({ length: 40 }, (_, i) => Buffer.from(`r${i}`));
  await log.appendBatch(datas);
  const logId = log.id;
  await log.close();
  const state = (seq: bigint, committed: bigint): CursorState => ({ seq, committed, lastCommitAt: Number(seq), truncations: 0, logId });
  await createCursorFile(io, dir, 'dmg', state(1n, 0n));
  const f = await io.open(path.join(dir, 'consumer.dmg.tmp'), { read: true, write: true });
  const commits: bigint[] = [];
  let seq = 1n;
  for (const n of [3, 9, 17, 30]) {
    await writeCursor(io, f, state(++seq, BigInt(n)));
    commits.push(BigInt(n));
  }
  await f.close();
  return { dir, bytes: fs.readFileSync(path.join(dir, 'consumer.dmg.tmp')), commits };
}

function outcome(bytes: Uint8Array, logId: string | null): bigint | 'error' {
  try {
    return decodeCursor(io, bytes, 'x', logId).committed;
  } catch (err) {
    assert.ok(isWalError(err, WalErrorCodes.CONSUMER_CORRUPT), String(err));
    return 'error';
  }
}

test('every byte of a cursor file flipped (three patterns): the last or the previous commit, or a typed error', async () => {
  const { dir, bytes, commits } = await cursorWithCommits();
  const logId = fs.readFileSync(path.join(dir, 'log-id.tmp'), 'latin1').split(' ')[2]!;
  const last = commits[commits.length - 1]!;
  const prev = commits[commits.length - 2]!;
  assert.equal(bytes.length, CURSOR_FILE_BYTES);
  assert.equal(outcome(bytes, logId), last);
  const counts = { last: 0, prev: 0, error: 0 };
  for (let at = 0; at < bytes.length; at++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const b = Buffer.from(bytes);
      b[at]! ^= mask;
      const got = outcome(b, logId);
      assert.ok(got === last || got === prev || got === 'error', `flip ${mask} at ${at}: ${String(got)}`);
      if (got === last) counts.last++;
      else if (got === prev) counts.prev++;
      else counts.error++;
    }
  }
  // One slot damaged at a time: always a fallback, never an error; the older slot's damage is invisible.
  assert.equal(counts.error, 0);
  assert.equal(counts.prev, 64 * 3, 'every flip inside the newest slot falls back to the previous commit');
});

test('truncated, zeroed, grown or foreign cursor files of an earlier version, opened through the Log', async () => {
  const { dir, bytes, commits } = await cursorWithCommits();
  const file = path.join(dir, 'consumer.dmg.tmp');
  const last = commits[commits.length - 1]!;
  const prev = commits[commits.length - 2]!;
  const openCommitted = async (content: Buffer): Promise<bigint | 'error'> => {
    fs.writeFileSync(file, content);
    const log = await Log.open(dir, { segmentSize: 8192 });
    try {
      const c = await log.consumer('dmg');
      const v = c.committed;
      await c.close();
      return v;
    } catch (err) {
      assert.ok(isWalError(err, WalErrorCodes.CONSUMER_CORRUPT), String(err));
      return 'error';
    } finally {
      await log.close();
    }
  };
  // The newest commit (30, seq 5) is in slot 1 (odd seq): cutting into it falls back to slot 0.
  const newestAt = SLOT_STRIDE;
  for (const len of [0, 1, 63, 64, 100, newestAt - 1, newestAt, newestAt + 1, newestAt + 63]) {
    const got = await openCommitted(bytes.subarray(0, len));
    assert.ok(got === prev || got === 'error', `truncated to ${len}: ${String(got)}`);
    if (len >= 64) assert.equal(got, prev, `truncated to ${len}`);
  }
  assert.equal(await openCommitted(Buffer.alloc(CURSOR_FILE_BYTES)), 'error', 'zeroed');
  assert.equal(await openCommitted(Buffer.concat([bytes, Buffer.alloc(5000, 7)])), last, 'grown: trailing bytes ignored');
  // A cursor copied from another log is refused.
  const foreign = Buffer.from(bytes);
  const s: CursorState = { seq: 9n, committed: 39n, lastCommitAt: 1, truncations: 0, logId: ID };
  Buffer.from(encodeSlot(io, s)).copy(foreign, SLOT_STRIDE);
  assert.equal(await openCommitted(foreign), 'error');
  // Both slots damaged: a typed error, not a guess.
  const both = Buffer.from(bytes);
  both[10]! ^= 1;
  both[SLOT_STRIDE + 10]! ^= 1;
  assert.equal(await openCommitted(both), 'error');
  // The error names the file; the consumer can still be deleted and recreated.
  const log = await Log.open(dir, { segmentSize: 8192 });
  await assert.rejects(log.consumer('dmg'), (e: unknown) => isWalError(e, WalErrorCodes.CONSUMER_CORRUPT) && e.file === file);
  await log.deleteConsumer('dmg');
  const fresh = await log.consumer('dmg');
  assert.equal(fresh.committed, 0n);
  await log.close();
});

test('property: commits with sector-torn or lost last writes never read back ahead of the last completed commit', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 12 }),
      fc.constantFrom('lost', 'torn-zero', 'torn-garbage', 'complete'),
      fc.integer({ min: 0, max: 59 }), // a tear inside the 60 bytes that matter
      (steps, fate, tearAt) => {
        // Commits only grow: c[k] = sum of steps so far.
        let committed = 0n;
        const file = new Uint8Array(CURSOR_FILE_BYTES);
        let seq = 1n;
        const first: CursorState = { seq, committed, lastCommitAt: 0, truncations: 0, logId: ID };
        file.set(encodeSlot(io, first), SLOT_STRIDE);
        const done: bigint[] = [0n];
        for (let k = 0; k < steps.length; k++) {
          seq++;
          const next = committed + BigInt(steps[k]!);
          const slot = encodeSlot(io, { seq, committed: next, lastCommitAt: 1 + k, truncations: 0, logId: ID });
          const at = (seq & 1n) === 1n ? SLOT_STRIDE : 0;
          const lastOne = k === steps.length - 1;
          if (!lastOne || fate === 'complete') {
            file.set(slot, at);
            committed = next;
            done.push(next);
          } else if (fate === 'torn-zero') {
            file.set(slot.subarray(0, tearAt), at);
            file.fill(0, at + tearAt, at + 64);
          } else if (fate === 'torn-garbage') {
            file.set(slot.subarray(0, tearAt), at);
            for (let i = tearAt; i < 64; i++) file[at + i] = (i * 37) & 0xff;
          }
          // A tear whose lost bytes happened to equal the new ones (a CRC byte of 0 torn to zeros) is
          // a completed write: the disk holds exactly the new slot.
          if (lastOne && fate !== 'complete' && fate !== 'lost' && Buffer.from(file.subarray(at, at + 64)).equals(Buffer.from(slot))) {
            committed = next;
            done.push(next);
          }
        }
        const got = decodeCursor(io, file, 'x', ID).committed;
        assert.ok(got <= committed, `read ${got}, last completed commit ${committed}`);
        assert.ok(done.includes(got), `read ${got}, which was never committed`);
        assert.ok(got >= (done[done.length - 2] ?? 0n), 'at most one commit lost');
      },
    ),
    { numRuns: 2000 },
  );
});
