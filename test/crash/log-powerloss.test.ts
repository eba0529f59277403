// Power loss, Log: concurrent appends (group commit) and batches through the recording layer; every
// crash state of the history is reopened with Log.open (which repairs a torn tail itself) and
// must hold every acknowledged record, intact, as a gap-free run 1..n.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Log } from '../../src/log/log';
import type { Preallocation } from '../../src/log/options';
import { defaultBackend } from '../../src/io/backend';
import { type CrashState, RecordingIo, prng } from '../support/recording-io';
import { checkCrashStates, scratchDir } from '../support/crash-states';

type Mark = { opened: true } | { acked: number } | { truncateFront: number };

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

let truncations = 0;

async function workload(rec: RecordingIo, dir: string, seed: number, setup: Setup, syncPolicy: 'always' | 'none' = 'always'): Promise<number> {
  const r = prng(seed);
  const opts = { io: rec, segmentSize: setup.segmentSize, preallocation: setup.preallocation, syncPolicy };
  let log = await Log.open(dir, opts);
  rec.mark({ opened: true } satisfies Mark);
  let next = 1;
  const total = 30 + Math.floor(r() * 12);
  let acked = 0;
  const ack = (i: bigint): void => {
    // resolutions come in index order; record the high-water mark once it is reached
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
      // Compaction: records below k may go; marked before the call, since a crash mid-way may
      // already have removed segments.
      const k = Number(log.firstIndex) + Math.floor(r() * (acked - Number(log.firstIndex) + 1));
      rec.mark({ truncateFront: k } satisfies Mark);
      await log.truncateFront(BigInt(k));
      truncations++;
      continue;
    }
    if (roll < 0.3) {
      const batch: Uint8Array[] = [];
      for (let k = 0; k < 2 + Math.floor(r() * 3) && next <= total; k++) batch.push(payloadOf(next++, seed));
      ack(await log.appendBatch(batch));
      continue;
    }
    // a burst of concurrent appends: group commit shares one write+fdatasync among them
    const burst: Promise<void>[] = [];
    for (let k = 0; k < 1 + Math.floor(r() * 4) && next <= total; k++) burst.push(log.append(payloadOf(next++, seed)).then(ack));
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
    const acked = marks.reduce((a, m) => ('acked' in m ? m.acked : a), 0);
    const hasSegment = fs.existsSync(logDir) && fs.readdirSync(logDir).some((n) => n.endsWith('.wal'));
    if (!hasSegment) {
      assert.ok(!opened, 'the log vanished after open() resolved');
      assert.equal(acked, 0);
      return;
    }
    const opts = { segmentSize: setup.segmentSize, preallocation: setup.preallocation, mustExist: true, readBufferBytes: 4096 };
    const log = await Log.open(logDir, opts);
    // Acknowledged records at or above the highest requested truncation point must all be there.
    const front = marks.reduce((a, m) => ('truncateFront' in m ? Math.max(a, m.truncateFront) : a), 1);
    let n = 0;
    let first = 0;
    try {
      for await (const e of log.entries()) {
        if (first === 0) first = Number(e.index);
        else assert.equal(e.index, BigInt(n + 1), 'records must form a gap-free run');
        n = Number(e.index);
        assert.deepEqual(e.data, payloadOf(n, seed), `record ${n} garbled`);
      }
      assert.ok(n >= acked, `lost acknowledged records: recovered up to ${n}, acknowledged ${acked}`);
      if (acked >= front) assert.ok(first <= front, `acknowledged records ${front}..${first - 1} lost (truncation requested only below ${front})`);
      assert.ok(n <= written, `recovered ${n} records, only ${written} written`);
      assert.equal(log.lastIndex, BigInt(n));
      if (state.at % 8 === 0) {
        assert.equal(await log.append(payloadOf(n + 1, seed)), BigInt(n + 1));
        await log.close();
        const again = await Log.open(logDir, opts);
        assert.equal(again.lastIndex, BigInt(n + 1));
        assert.deepEqual(await again.get(BigInt(n + 1)), payloadOf(n + 1, seed));
        await again.close();
        onReuse();
      }
    } finally {
      await log.close();
    }
  };
}

const STATES = Number(process.env['CRASH_STATES_LOG'] ?? 3000);
const SETUPS: Setup[] = [
  { segmentSize: 4096, preallocation: 'zero-fill' },
  { segmentSize: 8192, preallocation: 'fallocate' },
  { segmentSize: 4096, preallocation: 'fallocate' },
];

test(`Log: every acknowledged record survives power loss (${STATES} crash states)`, { timeout: 240_000 }, async () => {
  const scratch = scratchDir('nodewal-pl-log-');
  const seen = new Set<string>();
  let checked = 0;
  let generated = 0;
  let reused = 0;
  const started = Date.now();
  for (let round = 0; checked < STATES; round++) {
    const seed = 2000 + round;
    const setup = SETUPS[round % SETUPS.length]!;
    const root = path.join(scratch, `rec${round}`);
    fs.mkdirSync(root);
    const rec = new RecordingIo(defaultBackend, root);
    const written = await workload(rec, path.join(root, 'log'), seed, setup);
    const res = await checkCrashStates({
      rec,
      scratch,
      variants: 5,
      seed,
      seen,
      limit: STATES - checked,
      check: makeCheck(written, seed, setup, () => reused++),
    });
    checked += res.checked;
    generated += res.generated;
    fs.rmSync(root, { recursive: true, force: true });
  }
  const secs = (Date.now() - started) / 1000;
  console.log(`# Log power loss: ${checked} distinct crash states checked (${generated} generated, ${reused} reused after recovery, ${truncations} truncateFront calls) in ${secs.toFixed(1)} s`);
  assert.ok(checked >= STATES);
  assert.ok(truncations > 0, 'the workload never compacted');
});

test('the check is not vacuous: a Log that acknowledges without fdatasync is caught', async () => {
  const scratch = scratchDir('nodewal-pl-log-');
  const root = path.join(scratch, 'rec');
  fs.mkdirSync(root);
  const rec = new RecordingIo(defaultBackend, root);
  const setup = SETUPS[0]!;
  const written = await workload(rec, path.join(root, 'log'), 9, setup, 'none');
  await assert.rejects(
    checkCrashStates({ rec, scratch, variants: 2, seed: 9, limit: 5000, check: makeCheck(written, 9, setup, () => undefined) }),
    /lost acknowledged records/,
  );
});
