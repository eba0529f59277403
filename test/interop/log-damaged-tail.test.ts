/**
 * The damaged Log directories of test/support/damaged-tails.ts run through etcd 3.4.23's own
 * code (Go harness): what etcd's server does at start — Open at {0,0} + ReadAll, and Repair when
 * that says ErrUnexpectedEOF — must be the decision each case expects and the one Log.open takes;
 * where etcd cuts, Log.open cuts the same bytes (its tail is etcd's repaired segment followed by
 * zeros, its `.broken` copy is etcd's), and the entries etcd reads afterwards are the Log's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runGo } from './etcd/harness';
import { goCode } from './etcd/script';
import { DAMAGE_CASES, type Decision, expectedEntries, logDecision, treeBytes, walFiles, writeLogDir } from '../support/damaged-tails';
import { tempDir } from '../support/tmp';

const root = tempDir('log-damaged-etcd-');

test("damaged Log tails: etcd's Open/ReadAll + Repair decide as Log.open does, and cut the same bytes", async (t) => {
  const pristine = path.join(root, 'pristine');
  await writeLogDir(pristine);
  for (const [i, c] of DAMAGE_CASES.entries()) {
    await t.test(c.name, async () => {
      const damaged = path.join(root, `case-${i}`);
      fs.cpSync(pristine, damaged, { recursive: true });
      c.damage(damaged);
      const before = treeBytes(damaged);
      const [goOpen, goRepair, forLog] = ['go-open', 'go-repair', 'log'].map((n) => {
        const d = path.join(root, `case-${i}-${n}`);
        fs.cpSync(damaged, d, { recursive: true });
        return d;
      });
      const rs = runGo([
        { op: 'open', dir: goOpen!, index: '0', term: '0' },
        { op: 'readAll' },
        { op: 'close' },
        { op: 'repair', dir: goRepair! },
        // what etcd reads once repaired (read mode: nothing is written)
        { op: 'openForRead', dir: goRepair!, index: '0', term: '0' },
        { op: 'readAll', fullData: true },
      ]);
      const openErr = goCode(rs[0]!.error) ?? goCode(rs[1]!.error);
      const goCut = JSON.stringify(treeBytes(goRepair!)) !== JSON.stringify(before);
      let etcd: Decision;
      if (openErr === 'ERR_WAL_UNEXPECTED_EOF') {
        assert.ok(rs[3]!.ok === true && goCut, 'etcd repairs what ReadAll calls torn');
        etcd = 'cut';
      } else {
        assert.ok(!goCut, `etcd's Repair cut nothing when ReadAll said ${openErr}`);
        etcd = openErr ?? 'clean';
      }
      const viaLog = await logDecision(forLog!);
      assert.deepEqual({ etcd, log: viaLog.decision }, { etcd: c.etcd ?? c.expect, log: c.expect });
      const logRefused = c.expect !== 'cut' && c.expect !== 'clean';
      if (logRefused) assert.deepEqual(treeBytes(forLog!), before, 'a refused Log.open leaves every byte as it was');
      if (etcd !== 'cut' && etcd !== 'clean') return;
      const etcdEntries = (rs[5]!.entries ?? []).map((e) => Buffer.from(e.b64 ?? '', 'base64'));
      assert.equal(goCode(rs[4]!.error) ?? goCode(rs[5]!.error), null);
      assert.deepEqual(etcdEntries, expectedEntries(c), 'etcd reads the records before the damage');
      if (logRefused) return;
      assert.deepEqual(viaLog.entries, etcdEntries, "etcd reads exactly the Log's entries");
      if (etcd === 'cut') {
        const tailName = path.basename(walFiles(damaged).at(-1)!);
        const etcdTail = fs.readFileSync(path.join(goRepair!, tailName));
        const logTail = fs.readFileSync(path.join(forLog!, tailName));
        assert.ok(logTail.subarray(0, etcdTail.length).equals(etcdTail), "the Log's tail starts with etcd's repaired segment");
        assert.ok(
          logTail.subarray(etcdTail.length).every((b) => b === 0),
          'then zeros',
        );
        const broken = `${tailName}.broken`;
        assert.equal(treeBytes(forLog!)[broken], treeBytes(goRepair!)[broken], 'the same .broken copy');
      }
    });
  }
});
