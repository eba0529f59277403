// Power loss, Log: concurrent producers append through the recording layer (over the backend under
// test), with segment cuts, reopens, front and back truncations; every crash state of the history
// (durable writes + any mix of later writes lost, torn at sectors or zeroed; un-fsynced creates,
// renames and unlinks lost) must open (repairing a torn tail) and hold every acknowledged entry,
// intact, in a gap-free run that ends at or after the last acknowledged index.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { defaultBackend } from '../../src/io/backend';
import type { IoBackend } from '../../src/io/types';
import { Log } from '../../src/log/log';
import { checkCrashStates, scratchDir } from '../support/crash-states';
import { type CrashState, RecordingIo, prng } from '../support/recording-io';

type Mark = { created: true } | { acked: number } | { front: number } | { frontRequested: number } | { backRequested: number };

function payloadOf(i: number, seed: number): Buffer {
  const r = prng(seed * 7919 + i);
  const n = r() < 0.15 ? 600 + Math.floor(r() * 1400) : Math.floor(r() * 150);
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = (r() * 256) | 0;
  return b;
}

async function workload(io: IoBackend & { mark(l: unknown): void }, dir: string, seed: number, segmentSize: number, syncPolicy: 'always' | 'none'): Promise<number> {
  const r = prng(seed);
  const opts = { io, segmentSize, syncPolicy };
  let log = await Log.open(dir, opts);
  io.mark({ created: true } satisfies Mark);
  let next = 1;
  let acked = 0;
  const total = 40 + Math.floor(r() * 20);
  while (next <= total) {
    const roll = r();
    if (roll < 0.06) {
      await log.close();
      log = await Log.open(dir, opts);
      continue;
    }
    if (roll < 0.1 && acked > 2) {
      const at = Math.max(Number(log.firstIndex), Math.floor(acked * r()));
      // It may take effect on disk before it resolves: the check allows up to what was requested.
      io.mark({ frontRequested: at } satisfies Mark);
      await log.truncateFront(BigInt(at));
      io.mark({ front: at } satisfies Mark);
      continue;
    }
    if (roll < 0.14 && acked > 2) {
      // Drop a suffix; the same indexes are appended again with the same payloads, so every
      // crash state has one right content per index whether or not the truncation reached disk.
      const at = Math.max(Number(log.firstIndex) - 1, acked - 1 - Math.floor(r() * 4));
      io.mark({ backRequested: at } satisfies Mark);
      await log.truncateBack(BigInt(at));
      next = at + 1;
      acked = at;
      continue;
    }
    // A few concurrent producers: their appends coalesce into batches.
    const n = Math.min(1 + Math.floor(r() * 6), total - next + 1);
    const appends: Promise<bigint>[] = [];
    for (let k = 0; k < n; k++) appends.push(log.append(payloadOf(next++, seed)));
    for (const p of appends) {
      const index = Number(await p);
      if (index > acked) {
        acked = index;
        io.mark({ acked } satisfies Mark);
      }
    }
  }
  await log.close();
  return total;
}

function makeCheck(written: number, seed: number, segmentSize: number) {
  return async (dir: string, state: CrashState): Promise<void> => {
    const logDir = path.join(dir, 'log');
    const marks = state.marks as Mark[];
    const created = marks.some((m) => 'created' in m);
    // What must survive: the highest acknowledged index, lowered by any truncateBack requested since.
    const acked = marks.reduce((a, m) => ('acked' in m ? Math.max(a, m.acked) : 'backRequested' in m ? Math.min(a, m.backRequested) : a), 0);
    const front = marks.reduce((a, m) => ('front' in m ? m.front : a), 1);
    const requested = marks.reduce((a, m) => ('frontRequested' in m ? Math.max(a, m.frontRequested) : a), 1);
    if (!fs.existsSync(logDir) || !fs.readdirSync(logDir).some((n) => n.endsWith('.wal'))) {
      assert.ok(!created, 'the log vanished after open() resolved');
      return;
    }
    const log = await Log.open(logDir, { segmentSize, readBufferBytes: 4096 });
    try {
      assert.ok(log.lastIndex >= BigInt(acked), `lost acknowledged entries: last ${log.lastIndex}, acknowledged ${acked}`);
      assert.ok(log.lastIndex <= BigInt(written));
      assert.ok(log.firstIndex >= BigInt(front), `an acknowledged truncateFront(${front}) was undone`);
      assert.ok(log.firstIndex <= BigInt(requested), `front truncation ran ahead: first ${log.firstIndex} > ${requested}`);
      let expect = Number(log.firstIndex);
      for await (const e of log.entries()) {
        assert.equal(Number(e.index), expect, 'gap-free');
        assert.ok(Buffer.from(e.data).equals(payloadOf(expect, seed)), `entry ${expect} garbled`);
        expect++;
      }
      assert.equal(expect - 1, Number(log.lastIndex));
      if (state.at % 8 === 0) {
        // Usable after recovery: append, reopen, find it.
        const i = await log.append(payloadOf(expect, seed));
        await log.close();
        const again = await Log.open(logDir, { segmentSize });
        assert.ok(Buffer.from(await again.get(i)).equals(payloadOf(expect, seed)));
        await again.close();
      }
    } finally {
      await log.close();
    }
  };
}

const STATES = Number(process.env['CRASH_STATES_LOG'] ?? 1500);

test(`Log: every acknowledged append survives power loss (${STATES} crash states)`, { timeout: 240_000 }, async () => {
  const scratch = scratchDir('nodewal-pl-log-');
  const seen = new Set<string>();
  let checked = 0;
  for (let round = 0; checked < STATES; round++) {
    const seed = 2000 + round;
    const root = path.join(scratch, `rec${round}`);
    fs.mkdirSync(root);
    const rec = new RecordingIo(defaultBackend, root);
    const segmentSize = [4096, 6144][round % 2]!;
    const written = await workload(rec, path.join(root, 'log'), seed, segmentSize, 'always');
    const res = await checkCrashStates({ rec, scratch, variants: 4, seed, seen, limit: STATES - checked, check: makeCheck(written, seed, segmentSize) });
    checked += res.checked;
    fs.rmSync(root, { recursive: true, force: true });
  }
  assert.ok(checked >= STATES);
});

test("the check is not vacuous: syncPolicy 'none' acknowledges before fdatasync and is caught", async () => {
  const scratch = scratchDir('nodewal-pl-log-');
  const root = path.join(scratch, 'rec');
  fs.mkdirSync(root);
  const rec = new RecordingIo(defaultBackend, root);
  const written = await workload(rec, path.join(root, 'log'), 7, 4096, 'none');
  await assert.rejects(
    checkCrashStates({ rec, scratch, variants: 2, seed: 7, limit: 3000, check: makeCheck(written, 7, 4096) }),
    /failed: /,
  );
});
