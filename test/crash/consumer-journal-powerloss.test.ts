// Power loss with several consumers sharing the consumer journal: four consumers read and commit
// concurrently (their commits coalesced into shared writes), some are deleted and created again
// at a known index, the journal is checkpointed every few records (rename over itself), and the
// log is reopened between phases. Every crash state of the recorded history is reopened and, per
// consumer name, must satisfy:
//  - a consumer whose deletion resolved (and which was not being created again) does not exist;
//  - one whose creation resolved exists, with its committed position at or after the last commit
//    that resolved in its current life and at most the highest one asked for (never ahead);
//  - one being created or deleted at the crash is either absent or within those bounds.
// CRASH_STATES_CONSUMER sets the count (npm test: 2000 per backend; npm run test:crash:consumers: 6000).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultBackend } from '../../src/io/backend';
import type { IoBackend } from '../../src/io/types';
import { journalTuning } from '../../src/log/commit-journal';
import type { Consumer } from '../../src/log/consumer';
import { Log } from '../../src/log/log';
import { type CrashState, RecordingIo } from '../support/recording-io';
import { prng } from '../support/prng';
import { withoutDatasync } from '../support/undurable-io';
import { checkCrashStates, checkRecordedRounds, logSurvived, scratchDir } from '../support/crash-states';

type Mark =
  | { opened: true }
  | { createAsk: string; at: number }
  | { created: string; at: number }
  | { ask: string; v: number }
  | { committed: string; v: number }
  | { delAsk: string }
  | { deleted: string };

const NAMES = ['a', 'b', 'c', 'd'];
const OPTS = { segmentSize: 64 * 1024 };
let checkpoints = 0;
let deletions = 0;

async function workload(io: IoBackend, rec: RecordingIo, dir: string, seed: number): Promise<void> {
  const r = prng(seed);
  for (let phase = 0; phase < 2; phase++) {
    const log = await Log.open(dir, { ...OPTS, io });
    rec.mark({ opened: true } satisfies Mark);
    const records = 60 + Math.floor(r() * 40);
    await log.appendBatch(Array.from({ length: records }, (_, i) => `p${phase}r${i}`));
    const open = new Map<string, Consumer>();
    for (const name of NAMES) {
      // Start at a known index (its committed position is start - 1) so the check knows it.
      const at = Math.floor(r() * 10);
      rec.mark({ createAsk: name, at } satisfies Mark);
      const c = await log.consumer(name, { start: BigInt(at + 1) });
      rec.mark({ created: name, at: Number(c.committed) } satisfies Mark);
      open.set(name, c);
    }
    const loops = NAMES.map(async (name) => {
      for (let step = 0; step < 25; step++) {
        const c = open.get(name)!;
        const batch = await c.read({ maxRecords: 1 + Math.floor(r() * 5) });
        if (batch.length === 0) break;
        const v = Number(batch[batch.length - 1]!.index);
        rec.mark({ ask: name, v } satisfies Mark);
        await c.commit(BigInt(v));
        rec.mark({ committed: name, v } satisfies Mark);
        if (r() < 0.06) {
          await c.close();
          rec.mark({ delAsk: name } satisfies Mark);
          await log.deleteConsumer(name);
          rec.mark({ deleted: name } satisfies Mark);
          deletions++;
          const at = Math.floor(r() * 20);
          rec.mark({ createAsk: name, at } satisfies Mark);
          const again = await log.consumer(name, { start: BigInt(at + 1) });
          rec.mark({ created: name, at: Number(again.committed) } satisfies Mark);
          open.set(name, again);
        }
      }
    });
    await Promise.all(loops);
    for (const c of open.values()) await c.close();
    await log.close();
  }
  checkpoints += rec.history.filter((op) => op.kind === 'rename' && op.toName === 'consumers.journal.tmp').length;
}

/** What the marks say one name's state may be: absent allowed, present required, and the bounds. */
interface Expect {
  mayBeAbsent: boolean;
  mayBePresent: boolean;
  low: number;
  high: number;
}

function expected(marks: Mark[], name: string): Expect {
  let e: Expect = { mayBeAbsent: true, mayBePresent: false, low: 0, high: -1 };
  // Opening a consumer that exists resumes it (its start is ignored); only a new one starts at `at`.
  let existed = false;
  for (const m of marks) {
    if ('createAsk' in m && m.createAsk === name) {
      existed = e.mayBePresent && !e.mayBeAbsent;
      if (!existed) e = { mayBeAbsent: true, mayBePresent: true, low: m.at, high: m.at };
    } else if ('created' in m && m.created === name) {
      e = existed
        ? { mayBeAbsent: false, mayBePresent: true, low: Math.max(e.low, m.at), high: Math.max(e.high, m.at) }
        : { mayBeAbsent: false, mayBePresent: true, low: m.at, high: m.at };
    } else if ('ask' in m && m.ask === name) e.high = Math.max(e.high, m.v);
    else if ('committed' in m && m.committed === name) e.low = Math.max(e.low, m.v);
    else if ('delAsk' in m && m.delAsk === name) e.mayBeAbsent = true;
    else if ('deleted' in m && m.deleted === name) e = { mayBeAbsent: true, mayBePresent: false, low: 0, high: -1 };
  }
  return e;
}

function check(dir: string, state: CrashState): Promise<void> {
  return checkState(path.join(dir, 'log'), state.marks as Mark[]);
}

async function checkState(logDir: string, marks: Mark[]): Promise<void> {
  if (!logSurvived(logDir, marks)) return;
  const log = await Log.open(logDir, { ...OPTS, mustExist: true });
  try {
    const listed = new Map((await log.consumers()).map((c) => [c.name, Number(c.committed)]));
    for (const name of NAMES) {
      const e = expected(marks, name);
      const got = listed.get(name);
      if (got === undefined) {
        assert.ok(e.mayBeAbsent, `consumer '${name}' vanished (its creation had resolved)`);
        continue;
      }
      assert.ok(e.mayBePresent, `consumer '${name}' came back after its deletion resolved (committed ${got})`);
      assert.ok(got >= e.low, `consumer '${name}' at ${got} went back behind a durable commit ${e.low}`);
      assert.ok(got <= e.high, `consumer '${name}' at ${got} is ahead of any commit asked for (${e.high})`);
    }
    // The journal stays usable: every listed consumer opens at the same position.
    for (const [name, committed] of listed) {
      const c = await log.consumer(name);
      assert.equal(Number(c.committed), committed);
      await c.close();
    }
  } finally {
    await log.close();
  }
}

const STATES = Number(process.env['CRASH_STATES_CONSUMER'] ?? 2000);

test(
  `shared consumer journal under power loss: coalesced commits, deletes, checkpoints (${STATES} crash states)`,
  { timeout: 600_000 },
  async () => {
    const saved = journalTuning.checkpointRecords;
    journalTuning.checkpointRecords = 24;
    try {
      const res = await checkRecordedRounds({
        prefix: 'nodewal-pl-journal-',
        states: STATES,
        firstSeed: 9100,
        variants: 4,
        perHistory: 250, // spread over all of each history: deletions and checkpoints come late
        spread: true,
        record: async (rec, root, seed) => {
          await workload(rec, rec, path.join(root, 'log'), seed);
          return check;
        },
      });
      console.log(
        `# consumer journal power loss: ${res.checked} distinct crash states (${res.generated} generated) in ${res.seconds.toFixed(1)} s; ` +
          `${checkpoints} checkpoints, ${deletions} deletions`,
      );
      assert.ok(checkpoints > 0 && deletions > 0, 'the workload exercised checkpoints and deletions');
    } finally {
      journalTuning.checkpointRecords = saved;
    }
  },
);

test('the journal check is not vacuous: commits that resolve without fdatasync are caught', async () => {
  const scratch = scratchDir('nodewal-pl-journal-');
  const root = path.join(scratch, 'rec');
  fs.mkdirSync(root);
  const rec = new RecordingIo(defaultBackend, root);
  await workload(
    withoutDatasync(rec, (name) => name.startsWith('consumers.journal')),
    rec,
    path.join(root, 'log'),
    12,
  );
  await assert.rejects(
    checkCrashStates({ rec, scratch, variants: 2, seed: 12, limit: 4000, check }),
    /went back behind a durable commit|vanished|came back/,
  );
});
