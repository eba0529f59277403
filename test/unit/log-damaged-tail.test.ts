// Damaged tails of every kind on a directory the Log wrote: Log.open, WAL.open + readAll (with
// WAL.repair, as etcd's server runs them) and `wal repair` / `wal verify` must take the same
// decision — cut the torn record, find nothing to cut, or refuse with one code — and it must be
// the decision etcd's rules give (test/support/damaged-tails.ts; test/interop/log-damaged-tail
// checks the same cases against etcd 3.4.23 itself). A refusal leaves every byte as it was; a cut
// leaves the same bytes and the same `.broken` copy whichever of them made it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import { WalError } from '../../src/errors';
import { DAMAGE_CASES, type Decision, expectedEntries, logDecision, treeBytes, walFiles, writeLogDir } from '../support/damaged-tails';
import { tempDir } from '../support/tmp';
import { jsonLines, wal } from '../support/cli-helpers';

const root = tempDir('damaged-tail-');
const pristine = path.join(root, 'pristine');

const bytes = treeBytes;

function copy(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true });
  return to;
}

/** etcd's server: Open + ReadAll; on ErrUnexpectedEOF, Repair. */
async function walDecision(dir: string): Promise<Decision> {
  let code: string | null = null;
  try {
    const w = await WAL.open(dir, { index: 0n, term: 0n });
    try {
      await w.readAll();
    } finally {
      await w.close();
    }
  } catch (err) {
    if (!(err instanceof WalError)) throw err;
    code = err.code;
  }
  const before = bytes(dir);
  const repaired = await WAL.repair(dir);
  const cut = JSON.stringify(bytes(dir)) !== JSON.stringify(before);
  if (code === 'ERR_WAL_UNEXPECTED_EOF') {
    assert.ok(repaired && cut, 'a torn tail is cut by WAL.repair');
    return 'cut';
  }
  assert.ok(!cut, `WAL.repair cut nothing when Open said ${code}`);
  return code ?? 'clean';
}

function cliDecision(dir: string, verb: 'repair' | 'verify'): Decision {
  const r = wal(verb === 'repair' ? ['repair', '--yes', '--json', dir] : ['verify', '--json', dir]);
  const lines = jsonLines(r.stdout);
  const problem = lines.find((l) => l['kind'] === 'problem');
  if (r.status === 0) {
    if (verb === 'verify') return 'clean';
    return lines.at(-1)!['repaired'] === true ? 'cut' : 'clean';
  }
  assert.equal(r.status, 1, r.stdout + r.stderr);
  if (verb === 'verify' && problem!['repairable'] === true) return 'cut';
  return problem!['code'] as string;
}

test("damaged tails: Log.open, WAL (Open/ReadAll + Repair), wal repair and wal verify take etcd's decision", async (t) => {
  await writeLogDir(pristine);
  for (const [i, c] of DAMAGE_CASES.entries()) {
    await t.test(c.name, async () => {
      const damaged = path.join(root, `case-${i}`);
      copy(pristine, damaged);
      c.damage(damaged);
      const before = bytes(damaged);
      const [forLog, forWal, forCli] = ['log', 'wal', 'cli'].map((n) => copy(damaged, path.join(root, `case-${i}-${n}`)));

      const viaLog = await logDecision(forLog!);
      const viaWal = await walDecision(forWal!);
      const viaVerify = cliDecision(damaged, 'verify');
      const viaRepair = cliDecision(forCli!, 'repair');
      assert.deepEqual(
        { log: viaLog.decision, wal: viaWal, verify: viaVerify, repair: viaRepair },
        { log: c.expect, wal: c.etcd ?? c.expect, verify: c.expect, repair: c.expect },
      );
      assert.deepEqual(bytes(damaged), before, 'wal verify changed nothing');
      if (c.expect !== 'cut' && c.expect !== 'clean') {
        assert.deepEqual(bytes(forLog!), before, 'a refused Log.open leaves every byte as it was');
        return;
      }
      assert.deepEqual(viaLog.entries, expectedEntries(c), 'the Log holds every record before the damage, in order');
      if (c.expect === 'cut') {
        // One cut: the .broken copies are the damaged file, and the Log's tail is WAL.repair's
        // cut followed by the zeros Log.open prepares.
        const tailName = path.basename(walFiles(damaged).at(-1)!);
        const broken = `${tailName}.broken`;
        for (const d of [forLog!, forWal!, forCli!])
          assert.equal(bytes(d)[broken], before[tailName], `${d}: .broken is the damaged segment`);
        const cutBytes = fs.readFileSync(path.join(forWal!, tailName));
        const logTail = fs.readFileSync(path.join(forLog!, tailName));
        assert.ok(logTail.subarray(0, cutBytes.length).equals(cutBytes), "the Log's tail starts with WAL.repair's cut");
        assert.ok(
          logTail.subarray(cutBytes.length).every((b) => b === 0),
          'then zeros',
        );
        assert.equal(bytes(forCli!)[tailName], bytes(forWal!)[tailName], 'wal repair cut the same bytes as WAL.repair');
      }
    });
  }
});
