// Issue 12, "every public reader gives the same code for the same bytes", for the one public reader
// log-damaged-tail.test.ts leaves out: a read-only open (`Log.open(dir, { readOnly: true })`).
// On every damaged tail Log.open refuses, reading the durable entries read-only must fail with
// Log.open's code, naming a file and an offset, and change no byte. Before, a tail segment whose
// header was zeroed or torn gave ERR_WAL_OUT_OF_RANGE ("entry 24 not found", no offset) where
// Log.open and `wal verify` give ERR_WAL_CHAIN_MISMATCH at offset 0 of that segment.
// The cases Log.open cuts or reads as clean are not here: their damage removes records the
// writer's durable.tmp says are durable, which a read-only reader rightly reports as missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Log } from '../../src/log/log';
import { WalError } from '../../src/errors';
import { DAMAGE_CASES, logDecision, treeBytes, writeLogDir } from '../support/damaged-tails';
import { tempDir } from '../support/tmp';

const root = tempDir('read-only-damage-');
const pristine = path.join(root, 'pristine');

/** What reading every durable entry read-only ends with: 'read N', or the error's code. */
async function readOnlyDecision(dir: string): Promise<string> {
  const log = await Log.open(dir, { readOnly: true });
  try {
    let n = 0;
    for await (const e of log.entries()) {
      assert.equal(e.index, BigInt(n + 1));
      n++;
    }
    return `read ${n}`;
  } catch (err) {
    if (!(err instanceof WalError)) throw err;
    assert.ok(err.file !== undefined && err.offset !== undefined, `${err.code} names a file and an offset: ${err.message}`);
    return err.code;
  } finally {
    await log.close();
  }
}

test('damaged tails Log.open refuses: a read-only open reads to the damage and gives the same code', async (t) => {
  await writeLogDir(pristine);
  const refused = DAMAGE_CASES.filter((c) => c.expect !== 'cut' && c.expect !== 'clean');
  assert.ok(refused.length >= 6, `${refused.length} refused cases`);
  for (const [i, c] of refused.entries()) {
    await t.test(c.name, async () => {
      const damaged = path.join(root, `case-${i}`);
      fs.cpSync(pristine, damaged, { recursive: true });
      c.damage(damaged);
      const forLog = path.join(root, `case-${i}-log`);
      fs.cpSync(damaged, forLog, { recursive: true });
      const viaLog = (await logDecision(forLog)).decision;
      assert.equal(viaLog, c.expect, 'Log.open decides as the damage table says');
      const before = treeBytes(damaged);
      assert.equal(await readOnlyDecision(damaged), viaLog);
      assert.deepEqual(treeBytes(damaged), before, 'the read-only open changed nothing');
    });
  }
});
