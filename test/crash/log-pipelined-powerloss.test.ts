// Power loss, Log, pipelined group commit: appends keep arriving while an fdatasync is in flight,
// so the next batches are written after its bytes before it completes. The recording layer orders
// events by completion; here each sync completes (is recorded) at once but reaches the Log only a
// little later, so writes the Log issues meanwhile are recorded after it, as they happen on a
// disk: that sync does not cover them. Every crash state must hold every acknowledged record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Log } from '../../src/log/log';
import type { IoBackend, WalFile, WriteOptions } from '../../src/io/types';
import { defaultBackend } from '../../src/io/backend';
import { type CrashState, RecordingIo, prng } from '../support/recording-io';
import { checkCrashStates, scratchDir } from '../support/crash-states';

type Mark = { opened: true } | { acked: number };

function payloadOf(i: number, seed: number): Uint8Array {
  const r = prng(seed * 7919 + i);
  const n = r() < 0.1 ? 300 + Math.floor(r() * 900) : 1 + Math.floor(r() * 120);
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (r() * 256) | 0;
  return b;
}

/** Counts writes issued while a sync was in flight: the pipelined path ran. */
const seen = { writesDuringSync: 0, cuts: 0 };

/** Delays what a sync reports to the Log by 0-1 ms after it completed (and was recorded). */
function delayedSyncs(inner: IoBackend, seed: number): IoBackend {
  const r = prng(seed);
  let inFlight = 0;
  const later = (): Promise<void> => new Promise((resolve) => (r() < 0.5 ? setImmediate(resolve) : setTimeout(resolve, 1)));
  const wrapFile = (f: WalFile): WalFile =>
    new Proxy(f, {
      get(target, prop) {
        if (prop === 'write') {
          return async (buffers: readonly Uint8Array[], position: number, opts?: WriteOptions) => {
            if (opts?.datasync !== true) {
              if (inFlight > 0) seen.writesDuringSync++;
              return target.write(buffers, position, opts);
            }
            inFlight++;
            try {
              await target.write(buffers, position, opts);
              await later();
            } finally {
              inFlight--;
            }
          };
        }
        if (prop === 'datasync') {
          return async () => {
            inFlight++;
            try {
              await target.datasync();
              await later();
            } finally {
              inFlight--;
            }
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'open') return async (p: string, o?: Parameters<IoBackend['open']>[1]) => wrapFile(await target.open(p, o));
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function workload(rec: RecordingIo, dir: string, seed: number): Promise<number> {
  const r = prng(seed);
  const log = await Log.open(dir, { io: delayedSyncs(rec, seed + 1), segmentSize: 4096, preallocation: 'zero-fill' });
  rec.mark({ opened: true } satisfies Mark);
  let acked = 0;
  const ack = (i: bigint): void => {
    assert.ok(Number(i) > acked, 'appends resolve in index order');
    acked = Number(i);
    rec.mark({ acked } satisfies Mark);
  };
  const total = 40 + Math.floor(r() * 20);
  const pending: Promise<void>[] = [];
  for (let next = 1; next <= total;) {
    // A few appends, then give the loop a turn without waiting for them: the next ones arrive
    // while the previous batch is still syncing.
    for (let k = 0; k < 1 + Math.floor(r() * 3) && next <= total; k++) pending.push(log.append(payloadOf(next++, seed)).then(ack));
    await new Promise((resolve) => (r() < 0.7 ? setImmediate(resolve) : setTimeout(resolve, 0)));
  }
  await Promise.all(pending);
  seen.cuts += log.stats().segments - 1;
  await log.close();
  return total;
}

function makeCheck(written: number, seed: number) {
  return async (dir: string, state: CrashState): Promise<void> => {
    const logDir = path.join(dir, 'log');
    const marks = state.marks as Mark[];
    const acked = marks.reduce((a, m) => ('acked' in m ? m.acked : a), 0);
    if (!(fs.existsSync(logDir) && fs.readdirSync(logDir).some((n) => n.endsWith('.wal')))) {
      assert.ok(!marks.some((m) => 'opened' in m), 'the log vanished after open() resolved');
      return;
    }
    const log = await Log.open(logDir, { segmentSize: 4096, preallocation: 'zero-fill', mustExist: true, readBufferBytes: 4096 });
    try {
      let n = 0;
      for await (const e of log.entries()) {
        assert.equal(e.index, BigInt(n + 1), 'records must form a gap-free run from 1');
        n = Number(e.index);
        assert.deepEqual(e.data, payloadOf(n, seed), `record ${n} garbled`);
      }
      assert.ok(n >= acked, `lost acknowledged records: recovered up to ${n}, acknowledged ${acked}`);
      assert.ok(n <= written);
    } finally {
      await log.close();
    }
  };
}

const STATES = Number(process.env['CRASH_STATES_LOG_PIPELINED'] ?? 1500);

test(
  `Log, pipelined group commit: every acknowledged record survives power loss (${STATES} crash states)`,
  { timeout: 240_000 },
  async () => {
    const scratch = scratchDir('nodewal-pl-pipe-');
    const distinct = new Set<string>();
    let checked = 0;
    seen.writesDuringSync = 0;
    seen.cuts = 0;
    for (let round = 0; checked < STATES; round++) {
      const seed = 5000 + round;
      const root = path.join(scratch, `rec${round}`);
      fs.mkdirSync(root);
      const rec = new RecordingIo(defaultBackend, root);
      const written = await workload(rec, path.join(root, 'log'), seed);
      const res = await checkCrashStates({
        rec,
        scratch,
        variants: 5,
        seed,
        seen: distinct,
        limit: STATES - checked,
        check: makeCheck(written, seed),
      });
      checked += res.checked;
      fs.rmSync(root, { recursive: true, force: true });
    }
    console.log(
      `# pipelined Log power loss: ${checked} crash states, ${seen.writesDuringSync} batches written while a sync was in flight, ${seen.cuts} segment cuts`,
    );
    assert.ok(seen.writesDuringSync > 0, 'the workload never wrote a batch during a sync: the pipelined path did not run');
    assert.ok(seen.cuts > 0, 'the workload never cut a segment while appends were in flight');
  },
);
