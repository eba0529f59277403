/**
 * Terminal behaviour, through a real pseudo-terminal (util-linux `script`): repair asks and obeys
 * the answer; long operations draw a progress bar. The pipe cases (no prompt, no bar) are in the
 * other cli-* tests.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/tmp';
import { etcdFrames, hashTree, makeEtcdWal, wal } from '../support/cli-helpers';

const ROOT = path.join(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'src', 'cli', 'main.ts');

/** Runs the CLI with stdin/stdout/stderr on a pty; `answer` is typed into it. */
function onTerminal(args: string[], answer = ''): { status: number | null; output: string } {
  const cmd = [process.execPath, '--import', 'tsx', MAIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
    cwd: ROOT,
    input: answer,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  assert.equal(r.error, undefined, 'util-linux script(1) is needed for the terminal tests');
  return { status: r.status, output: r.stdout };
}

async function tornWal(): Promise<{ dir: string; last: string; cut: number }> {
  const dir = path.join(tempDir(), 'wal');
  await makeEtcdWal(dir, 30);
  const last = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .pop()!;
  const frames = etcdFrames(path.join(dir, last));
  const cut = frames[frames.length - 1]!.offset;
  fs.truncateSync(path.join(dir, last), cut + 9);
  return { dir, last: path.join(dir, last), cut };
}

test('repair on a terminal asks first: "n" changes nothing, "y" repairs', async () => {
  const { dir, last, cut } = await tornWal();
  const before = hashTree(dir);
  const no = onTerminal(['repair', dir], 'n\n');
  assert.match(no.output, /Proceed\? \[y\/N\]/);
  assert.match(no.output, /aborted: nothing changed/);
  assert.equal(no.status, 1);
  assert.deepEqual(hashTree(dir), before);
  const yes = onTerminal(['repair', dir], 'y\n');
  assert.equal(yes.status, 0, yes.output);
  assert.match(yes.output, /repaired/);
  assert.equal(fs.statSync(last).size, cut);
});

test('a long operation draws a progress bar on a terminal, not in --json', () => {
  const bar = onTerminal(['bench', '--records', '20000', '--producers', '8', '--no-compare']);
  assert.equal(bar.status, 0, bar.output);
  assert.match(bar.output, /\rbench \(\w+\) \[[#-]+\]\s+\d+%/);
  // Same size as above, so a bar would have been drawn if --json allowed it.
  const json = onTerminal(['bench', '--json', '--records', '20000', '--producers', '8', '--no-compare']);
  assert.equal(json.status, 0, json.output);
  assert.doesNotMatch(json.output, /\[[#-]+\]/);
  // And the same run with stderr on a pipe: no bar either.
  const piped = wal(['bench', '--records', '20000', '--producers', '8', '--no-compare']);
  assert.equal(piped.status, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, /\[[#-]+\]/);
});
