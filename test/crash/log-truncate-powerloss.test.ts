// Power loss during truncateBack, truncateFront and cuts, through the recording layer: nothing
// truncated comes back. Unlike log-crash.test.ts (which re-appends the same payloads after a
// truncateBack, so a resurrected entry would look right), every record carries its generation:
// after an acknowledged truncateBack(at), an entry above `at` from an older generation is a
// resurrected one. Every crash state must also hold every acknowledged record of its latest
// generation, and no acknowledged truncateFront may come undone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultBackend } from '../../src/io/backend';
import { Log } from '../../src/log/log';
import { checkCrashStates, scratchDir } from '../support/crash-states';
import { type CrashState, RecordingIo } from '../support/recording-io';
import { prng } from '../support/prng';

type Mark =
  | { created: true }
  | { acked: number; gen: number }
  | { back: number; gen: number }
  | { backRequested: number }
  | { front: number }
  | { frontRequested: number };

const SEGMENT = 4096;
const record = (index: number, gen: number): Buffer => Buffer.from(`${gen}:${index}:${'x'.repeat((index * 37 + gen * 11) % 300)}`);
const parse = (d: Uint8Array): { gen: number; index: number } => {
  const [g, i] = Buffer.from(d).toString().split(':');
  return { gen: Number(g), index: Number(i) };
};

async function workload(rec: RecordingIo, dir: string, seed: number): Promise<void> {
  const r = prng(seed);
  const log = await Log.open(dir, { io: rec, segmentSize: SEGMENT });
  rec.mark({ created: true } satisfies Mark);
  let gen = 0;
  let next = 1;
  for (let step = 0; step < 40; step++) {
    const roll = r();
    const last = Number(log.lastIndex);
    const first = Number(log.firstIndex);
    if (roll < 0.2 && last > first + 2) {
      // Back over one or more cuts sometimes: segments are unlinked newest first.
      const at = Math.max(first - 1, last - 1 - Math.floor(r() * 12));
      rec.mark({ backRequested: at } satisfies Mark);
      await log.truncateBack(BigInt(at));
      gen++;
      rec.mark({ back: at, gen } satisfies Mark);
      next = at + 1;
    } else if (roll < 0.28 && last > first + 2) {
      const at = first + 1 + Math.floor(r() * (last - first - 1));
      rec.mark({ frontRequested: at } satisfies Mark);
      await log.truncateFront(BigInt(at));
      rec.mark({ front: at } satisfies Mark);
    } else {
      const n = 1 + Math.floor(r() * 5);
      const batch = Array.from({ length: n }, (_, k) => log.append(record(next + k, gen)));
      next += n;
      for (const p of batch) rec.mark({ acked: Number(await p), gen } satisfies Mark);
    }
  }
  await log.close();
}

function check(dir: string, state: CrashState): Promise<void> {
  const marks = state.marks as Mark[];
  // Replay what the process was told: the generation each acknowledged index must show, the
  // truncations acknowledged, the front.
  const mustHave = new Map<number, number>();
  const backs: { at: number; gen: number }[] = [];
  let front = 1;
  let frontRequested = 1;
  for (const m of marks) {
    if ('acked' in m) mustHave.set(m.acked, m.gen);
    else if ('backRequested' in m) {
      for (const i of [...mustHave.keys()]) if (i > m.backRequested) mustHave.delete(i);
    } else if ('back' in m) backs.push({ at: m.back, gen: m.gen });
    else if ('frontRequested' in m) frontRequested = Math.max(frontRequested, m.frontRequested);
    else if ('front' in m) front = m.front;
  }
  return (async () => {
    const logDir = path.join(dir, 'log');
    if (!fs.existsSync(logDir) || !fs.readdirSync(logDir).some((n) => n.endsWith('.wal'))) {
      assert.ok(!marks.some((m) => 'created' in m), 'the log vanished after open() resolved');
      return;
    }
    const log = await Log.open(logDir, { segmentSize: SEGMENT });
    try {
      const firstIndex = Number(log.firstIndex);
      assert.ok(firstIndex >= front, `an acknowledged truncateFront(${front}) was undone: first ${firstIndex}`);
      assert.ok(firstIndex <= frontRequested, `front ran ahead: first ${firstIndex} > ${frontRequested}`);
      const seen = new Map<number, number>();
      for await (const e of log.entries()) {
        const { gen, index } = parse(e.data);
        assert.equal(index, Number(e.index), `entry ${e.index} holds the record of ${index}`);
        for (const b of backs) {
          assert.ok(
            index <= b.at || gen >= b.gen,
            `entry ${index} of generation ${gen} came back after the acknowledged truncateBack(${b.at})`,
          );
        }
        seen.set(index, gen);
      }
      for (const [index, gen] of mustHave) {
        if (index < firstIndex) continue;
        assert.equal(
          seen.get(index),
          gen,
          `acknowledged entry ${index} (generation ${gen}) is ${seen.has(index) ? `generation ${seen.get(index)}` : 'missing'}`,
        );
      }
    } finally {
      await log.close();
    }
  })();
}

const STATES = Number(process.env['CRASH_STATES_LOG_TRUNCATE'] ?? 600);

test(
  `power loss during truncateBack, truncateFront and cuts: nothing truncated comes back (${STATES} crash states)`,
  { timeout: 240_000 },
  async (t) => {
    const scratch = scratchDir('nodewal-pl-trunc-');
    const seen = new Set<string>();
    let checked = 0;
    let backs = 0;
    for (let round = 0; checked < STATES && round < 40; round++) {
      const root = path.join(scratch, `rec${round}`);
      fs.mkdirSync(root);
      const rec = new RecordingIo(defaultBackend, root);
      await workload(rec, path.join(root, 'log'), 500 + round);
      backs += rec.history.filter((h) => h.kind === 'mark' && typeof h.label === 'object' && h.label !== null && 'back' in h.label).length;
      const res = await checkCrashStates({ rec, scratch, variants: 4, seed: 500 + round, seen, limit: STATES - checked, check });
      checked += res.checked;
      fs.rmSync(root, { recursive: true, force: true });
    }
    t.diagnostic(`${checked} distinct crash states, ${backs} acknowledged truncateBack calls`);
    assert.ok(checked >= STATES / 2, `only ${checked} distinct states`);
    assert.ok(backs > 5, `only ${backs} truncateBack calls`);
  },
);
