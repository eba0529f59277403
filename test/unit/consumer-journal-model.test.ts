// fast-check model test of the consumer journal: random sequences of open / group commit (several
// consumers at once, coalesced) / delete / reset (the CLI's path: a side journal beside the live
// writer) / reopen / power-loss crash (commits in flight at the crash) against a map of name ->
// committed position. Checkpoints every 8 records, so they interleave with everything else.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { defaultBackend } from '../../src/io/backend';
import { journalTuning } from '../../src/log/commit-journal';
import type { Consumer } from '../../src/log/consumer';
import { resetConsumer } from '../../src/log/consumer-admin';
import { Log } from '../../src/log/log';
import { RecordingIo, materialise } from '../support/recording-io';
import { tempDir } from '../support/tmp';

const NAMES = ['n0', 'n1', 'n2'];
const RECORDS = 120;
const OPTS = { segmentSize: 16 * 1024 };

type Op =
  | { kind: 'open'; name: number; start: number }
  | { kind: 'group'; names: number[]; step: number }
  | { kind: 'delete'; name: number }
  | { kind: 'reset'; name: number; to: number }
  | { kind: 'reopen' }
  | { kind: 'crash'; names: number[]; step: number; seed: number };

const name = fc.integer({ min: 0, max: NAMES.length - 1 });
const names = fc.uniqueArray(name, { minLength: 1, maxLength: NAMES.length });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('open' as const), name, start: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('group' as const), names, step: fc.integer({ min: 0, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), name }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reset' as const), name, to: fc.integer({ min: 0, max: RECORDS }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('crash' as const), names, step: fc.integer({ min: 1, max: 9 }), seed: fc.nat() }),
  },
);

test('property: the journal agrees with a model of commits, deletes, resets, reopens and crashes', async () => {
  const saved = journalTuning.checkpointRecords;
  journalTuning.checkpointRecords = 8;
  const seen = { groups: 0, crashes: 0, inFlightKept: 0, resets: 0, deletes: 0 };
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        let root = tempDir();
        let rec = new RecordingIo(defaultBackend, root);
        let dir = path.join(root, 'log');
        let log = await Log.open(dir, { ...OPTS, io: rec });
        await log.appendBatch(Array.from({ length: RECORDS }, (_, i) => `r${i}`));
        const model = new Map<string, number>();
        const open = new Map<string, Consumer>();
        const closeAll = async (): Promise<void> => {
          for (const c of open.values()) await c.close();
          open.clear();
        };
        const check = async (what: string): Promise<void> => {
          const listed = new Map((await log.consumers()).map((c) => [c.name, Number(c.committed)]));
          assert.deepEqual(listed, model, `after ${what}`);
        };
        try {
          for (const op of ops) {
            const n = 'name' in op ? NAMES[op.name]! : '';
            if (op.kind === 'open') {
              if (open.has(n)) continue;
              const c = await log.consumer(n, { start: BigInt(op.start) });
              if (!model.has(n)) model.set(n, op.start - 1);
              assert.equal(Number(c.committed), model.get(n), `open ${n}`);
              open.set(n, c);
            } else if (op.kind === 'group' || op.kind === 'crash') {
              const chosen = op.names.map((k) => open.get(NAMES[k]!)).filter((c): c is Consumer => c !== undefined);
              const asked = new Map<string, number>();
              for (const c of chosen) {
                const batch = await c.read({ maxRecords: 1 + op.step });
                if (batch.length > 0) asked.set(c.name, Number(batch[batch.length - 1]!.index));
              }
              // All at once: one journal round for the lot.
              const commits = [...asked].map(([cn, v]) => open.get(cn)!.commit(BigInt(v)));
              if (op.kind === 'group') {
                await Promise.all(commits);
                for (const [cn, v] of asked) model.set(cn, v);
                seen.groups++;
              } else {
                // Power loss now, the commits in flight: each consumer is at its old or its asked position.
                for (const p of commits) p.catch(() => undefined);
                // Sometimes the round's write has reached the page cache (not its fdatasync) at the crash.
                if (op.seed % 3 > 0) await new Promise((r) => setTimeout(r, op.seed % 3));
                let state;
                for (const s of rec.crashStates({ variants: 1, seed: op.seed, every: Number.MAX_SAFE_INTEGER })) state = s;
                const next = tempDir();
                materialise(state!.tree, next);
                await Promise.allSettled(commits);
                await closeAll();
                await log.close();
                fs.rmSync(root, { recursive: true, force: true });
                root = next;
                rec = new RecordingIo(defaultBackend, root);
                dir = path.join(root, 'log');
                log = await Log.open(dir, { ...OPTS, io: rec });
                const listed = new Map((await log.consumers()).map((c) => [c.name, Number(c.committed)]));
                for (const [cn, v] of asked) {
                  const got = listed.get(cn);
                  assert.ok(got === model.get(cn) || got === v, `crash: ${cn} at ${got}, expected ${model.get(cn)} or ${v}`);
                  if (got === v && v !== model.get(cn)) seen.inFlightKept++;
                  model.set(cn, got!);
                }
                seen.crashes++;
              }
            } else if (op.kind === 'delete') {
              await open.get(n)?.close();
              open.delete(n);
              if (model.has(n)) {
                await log.deleteConsumer(n);
                model.delete(n);
                seen.deletes++;
              } else await assert.rejects(log.deleteConsumer(n), /no consumer/);
            } else if (op.kind === 'reset') {
              await open.get(n)?.close();
              open.delete(n);
              if (!model.has(n)) continue;
              await resetConsumer(rec, dir, n, BigInt(op.to), log.id);
              model.set(n, op.to);
              seen.resets++;
            } else {
              await closeAll();
              await log.close();
              log = await Log.open(dir, { ...OPTS, io: rec });
            }
            await check(op.kind);
          }
        } finally {
          await closeAll();
          await log.close();
          fs.rmSync(root, { recursive: true, force: true });
        }
      }),
      { numRuns: Number(process.env['MODEL_RUNS'] ?? 100) },
    );
  } finally {
    journalTuning.checkpointRecords = saved;
  }
  console.log(`# journal model: ${JSON.stringify(seen)}`);
  assert.ok(seen.groups > 0 && seen.crashes > 0 && seen.resets > 0 && seen.deletes > 0, JSON.stringify(seen));
});
