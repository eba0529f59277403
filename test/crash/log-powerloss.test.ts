// Power loss, Log: concurrent producers (group commit) and batches append through the recording
// layer (over the backend under test), with segment cuts, reopens, front and back truncations, on
// zero-filled and fallocated segments. Every crash state of the history (durable writes + any mix
// of later writes lost, torn at sectors or zeroed; un-fsynced creates, renames and unlinks lost)
// must open with Log.open (which repairs a torn tail itself) and hold every acknowledged record,
// intact, in a gap-free run that ends at or after the last acknowledged index, and stay usable.
// (This file merges the two Log power-loss tests, crash-log-powerloss and log-crash, keeping the
// checks of both.)
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Log } from '../../src/log/log';
import type { Preallocation } from '../../src/log/options';
import { checkCrashStates, checkRecordedRounds, newRecording, scratchDir } from '../support/crash-states';
import type { CrashState, RecordingIo } from '../support/recording-io';
import { prng } from '../support/prng';

type Mark = { opened: true } | { acked: number } | { front: number } | { frontRequested: number } | { backRequested: number };

function payloadOf(i: number, seed: number): Uint8Array {
  const r = prng(seed * 104729 + i);
  const n = r() < 0.15 ? 500 + Math.floor(r() * 1500) : Math.floor(r() * 150);
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (r() * 256) | 0;
  return b;
}

interface Setup {
  segmentSize: number;
  preallocation: Preallocation;
}

const counts = { truncateFront: 0, truncateBack: 0, batches: 0 };

async function workload(
  rec: RecordingIo,
  dir: string,
  seed: number,
  setup: Setup,
  syncPolicy: 'always' | 'none' = 'always',
): Promise<number> {
  const r = prng(seed);
  const opts = { io: rec, segmentSize: setup.segmentSize, preallocation: setup.preallocation, syncPolicy };
  let log = await Log.open(dir, opts);
  rec.mark({ opened: true } satisfies Mark);
  let next = 1;
  const total = 40 + Math.floor(r() * 20);
  let acked = 0;
  const ack = (i: bigint): void => {
    // Resolutions come in index order; record the high-water mark once it is reached.
    if (Number(i) > acked) {
      acked = Number(i);
      rec.mark({ acked } satisfies Mark);
    }
  };
  while (next <= total) {
    const roll = r();
    if (roll < 0.06) {
      await log.close();
      log = await Log.open(dir, opts);
      continue;
    }
    if (roll < 0.1 && acked > 3) {
      // Compaction: records below k may go. Marked before the call, since a crash mid-way may
      // already have removed segments; the check allows up to what was requested.
      const k = Number(log.firstIndex) + Math.floor(r() * (acked - Number(log.firstIndex) + 1));
      rec.mark({ frontRequested: k } satisfies Mark);
      await log.truncateFront(BigInt(k));
      rec.mark({ front: k } satisfies Mark);
      counts.truncateFront++;
      continue;
    }
    if (roll < 0.14 && acked > 2) {
      // Drop a suffix; the same indexes are appended again with the same payloads, so every
      // crash state has one right content per index whether or not the truncation reached disk.
      const at = Math.max(Number(log.firstIndex) - 1, acked - 1 - Math.floor(r() * 4));
      rec.mark({ backRequested: at } satisfies Mark);
      await log.truncateBack(BigInt(at));
      next = at + 1;
      acked = at;
      counts.truncateBack++;
      continue;
    }
    if (roll < 0.3) {
      const batch: Uint8Array[] = [];
      for (let k = 0; k < 2 + Math.floor(r() * 3) && next <= total; k++) batch.push(payloadOf(next++, seed));
      ack(await log.appendBatch(batch));
      counts.batches++;
      continue;
    }
    // A burst of concurrent producers: group commit shares one write+fdatasync among them.
    const burst: Promise<void>[] = [];
    for (let k = 0; k < 1 + Math.floor(r() * 6) && next <= total; k++) burst.push(log.append(payloadOf(next++, seed)).then(ack));
    await Promise.all(burst);
  }
  await log.close();
  return total;
}

function makeCheck(written: number, seed: number, setup: Setup, onReuse: () => void) {
  return async (dir: string, state: CrashState): Promise<void> => {
    const logDir = path.join(dir, 'log');
    const marks = state.marks as Mark[];
    const opened = marks.some((m) => 'opened' in m);
    // What must survive: the highest acknowledged index, lowered by any truncateBack requested since.
    const acked = marks.reduce(
      (a, m) => ('acked' in m ? Math.max(a, m.acked) : 'backRequested' in m ? Math.min(a, m.backRequested) : a),
      0,
    );
    const front = marks.reduce((a, m) => ('front' in m ? m.front : a), 1);
    const requested = marks.reduce((a, m) => ('frontRequested' in m ? Math.max(a, m.frontRequested) : a), 1);
    const hasSegment = fs.existsSync(logDir) && fs.readdirSync(logDir).some((n) => n.endsWith('.wal'));
    if (!hasSegment) {
      assert.ok(!opened, 'the log vanished after open() resolved');
      assert.equal(acked, 0);
      return;
    }
    const opts = { segmentSize: setup.segmentSize, preallocation: setup.preallocation, mustExist: true, readBufferBytes: 4096 };
    const log = await Log.open(logDir, opts);
    try {
      assert.ok(log.lastIndex >= BigInt(acked), `lost acknowledged records: last ${log.lastIndex}, acknowledged ${acked}`);
      assert.ok(log.lastIndex <= BigInt(written), `recovered up to ${log.lastIndex}, only ${written} written`);
      assert.ok(log.firstIndex >= BigInt(front), `an acknowledged truncateFront(${front}) was undone`);
      assert.ok(log.firstIndex <= BigInt(requested), `front truncation ran ahead: first ${log.firstIndex} > ${requested}`);
      let expect = Number(log.firstIndex);
      for await (const e of log.entries()) {
        assert.equal(Number(e.index), expect, 'records must form a gap-free run');
        assert.deepEqual(new Uint8Array(e.data), payloadOf(expect, seed), `record ${expect} garbled`);
        expect++;
      }
      assert.equal(expect - 1, Number(log.lastIndex));
      if (state.at % 8 === 0) {
        // Usable after recovery: append, reopen, find it.
        const n = Number(log.lastIndex);
        assert.equal(await log.append(payloadOf(n + 1, seed)), BigInt(n + 1));
        await log.close();
        const again = await Log.open(logDir, opts);
        assert.equal(again.lastIndex, BigInt(n + 1));
        assert.deepEqual(new Uint8Array(await again.get(BigInt(n + 1))), payloadOf(n + 1, seed));
        await again.close();
        onReuse();
      }
    } finally {
      await log.close();
    }
  };
}

// The two files this one merges checked 3000 and 1500 states.
const STATES = Number(process.env['CRASH_STATES_LOG'] ?? 4500);
const SETUPS: Setup[] = [
  { segmentSize: 4096, preallocation: 'zero-fill' },
  { segmentSize: 8192, preallocation: 'fallocate' },
  { segmentSize: 4096, preallocation: 'fallocate' },
  { segmentSize: 6144, preallocation: 'zero-fill' },
];

test(`Log: every acknowledged record survives power loss (${STATES} crash states)`, { timeout: 240_000 }, async () => {
  let reused = 0;
  const res = await checkRecordedRounds({
    prefix: 'nodewal-pl-log-',
    states: STATES,
    firstSeed: 2000,
    variants: 5,
    record: async (rec, root, seed, round) => {
      const setup = SETUPS[round % SETUPS.length]!;
      const written = await workload(rec, path.join(root, 'log'), seed, setup);
      return makeCheck(written, seed, setup, () => reused++);
    },
  });
  console.log(
    `# Log power loss: ${res.checked} distinct crash states checked (${res.generated} generated, ${reused} reused after recovery; ` +
      `${counts.truncateFront} truncateFront, ${counts.truncateBack} truncateBack, ${counts.batches} appendBatch calls) in ${res.seconds.toFixed(1)} s`,
  );
  assert.ok(res.checked >= STATES);
  assert.ok(counts.truncateFront > 0, 'the workload never compacted');
  assert.ok(counts.truncateBack > 0, 'the workload never truncated a suffix');
  assert.ok(counts.batches > 0, 'the workload never appended a batch');
});

test("the check is not vacuous: syncPolicy 'none' acknowledges before fdatasync and is caught", async () => {
  for (const [seed, setup] of [
    [9, SETUPS[0]!],
    [7, SETUPS[1]!],
  ] as const) {
    const scratch = scratchDir('nodewal-pl-log-');
    const { root, rec } = newRecording(scratch, 'rec');
    const written = await workload(rec, path.join(root, 'log'), seed, setup, 'none');
    await assert.rejects(
      checkCrashStates({ rec, scratch, variants: 2, seed, limit: 5000, check: makeCheck(written, seed, setup, () => undefined) }),
      /lost acknowledged records/,
    );
  }
});
