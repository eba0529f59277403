import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/tmp';
import { expectedBackend } from '../support/tmp';
import { jsonLines, wal } from '../support/cli-helpers';

test('bench: small run on both backends — every record verified, figures consistent, temp dir removed', () => {
  const parent = tempDir();
  const r = wal(['bench', '--json', '--records', '3000', '--producers', '6', '--size', '100', '--dir', parent]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const lines = jsonLines(r.stdout);
  const runs = lines.filter((l) => l['kind'] === 'bench');
  assert.equal(runs.length, 2);
  // This process's backend first, then the other one in a child process.
  assert.equal(runs[0]!['backend'], expectedBackend);
  assert.equal(runs[1]!['backend'], expectedBackend === 'native' ? 'fallback' : 'native');
  for (const b of runs) {
    assert.equal(b['records'], 3000);
    assert.equal(b['recovery']['verified'], 3000);
    assert.equal(b['etcdCheck']['problems'], 0);
    assert.equal(b['etcdCheck']['records'] >= 3000, true);
    const ing = b['ingest'];
    assert.ok(ing['fsyncs'] > 0 && ing['fsyncs'] <= 3000 + 10, `fsyncs ${ing['fsyncs']}`);
    assert.ok(Math.abs(ing['recordsPerSec'] * ing['seconds'] - 3000) < 1);
    assert.ok(ing['latency']['count'] === 3000);
    assert.ok(ing['latency']['p50'] <= ing['latency']['p99'] && ing['latency']['p99'] <= ing['latency']['max']);
  }
  assert.equal(lines[lines.length - 1]!['ok'], true);
  assert.deepEqual(fs.readdirSync(parent), [], 'the benchmark directories are removed');
});

test('bench: usage errors', () => {
  assert.equal(wal(['bench', '--records', 'many']).status, 2);
  assert.equal(wal(['bench', '--size', '4']).status, 2);
  assert.equal(wal(['bench', 'somewhere']).status, 2);
});

test('bench: Ctrl-C mid-run removes the benchmark directory and exits 130', async () => {
  const parent = tempDir();
  const main = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'bench', '--no-compare', '--records', '2000000', '--dir', parent], {
    cwd: path.join(__dirname, '..', '..'),
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Wait until the run has created its directory and written into it.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const dirs = fs.readdirSync(parent);
    if (dirs.length > 0 && fs.existsSync(path.join(parent, dirs[0]!, 'log'))) break;
    assert.ok(Date.now() < deadline, 'bench did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  assert.deepEqual(fs.readdirSync(parent), []);
});

test('bench text (npm run demo): entries counted alike in both rows, the ratio line says which way it goes', () => {
  const r = wal(['bench', '--records', '2000', '--producers', '4', '--size', '100', '--dir', tempDir()]);
  assert.equal(r.status, 0, r.stderr);
  const verified = /records verified\s+(\S+)\s+(\S+)/.exec(r.stdout);
  assert.ok(verified, r.stdout);
  assert.deepEqual([verified[1], verified[2]], ['2,000', '2,000']);
  // Same unit as "records verified": 2,000 entries, not 2,003 WAL records.
  assert.match(r.stdout, /etcd-format check\s+OK, 2,000 entries\s+OK, 2,000 entries/);
  assert.match(
    r.stdout,
    /native \/ fallback, records\/s of this run: ingest \d+\.\d\dx \((native faster|fallback faster|about the same)\), recovery \d+\.\d\dx \(/,
  );
  assert.match(r.stdout, />1: the native addon was faster/);
});
