/**
 * The README's examples run. Every ```ts block and every `npx wal …` line of a ```sh block in
 * README.md, docs/metrics.md and docs/consumers.md is executed, in order, in one scratch directory per file:
 * `from 'nodewal'` is pointed at src/index.ts and `npx wal` at src/cli/main.ts. A block must exit 0;
 * a line ending in `//=> text` must print a line equal to `text`. Each block is a fresh process
 * (an ES module, so top-level await works as in the README).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/tmp';
import { type Block, extractBlocks, walCommandLines } from '../support/markdown';

const repo = path.join(__dirname, '..', '..');
const entry = path.join(repo, 'src', 'index.ts');
const cli = path.join(repo, 'src', 'cli', 'main.ts');

function runTs(block: Block, cwd: string, where: string): void {
  const code = block.code.replace(/from 'nodewal'/g, `from ${JSON.stringify(entry)}`);
  const file = path.join(cwd, `block-${block.line}.mts`);
  fs.writeFileSync(file, code);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd, env: process.env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${where}: the ts block exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  const printed = r.stdout.split('\n').map((l) => l.trimEnd());
  for (const m of block.code.matchAll(/\/\/=> (.*)$/gm)) {
    const expected = m[1]!.trim();
    assert.ok(printed.includes(expected), `${where}: expected a line "${expected}", got:\n${r.stdout}`);
  }
}

function runSh(block: Block, cwd: string, where: string): number {
  let ran = 0;
  for (const args of walCommandLines(block)) {
    // `npm install` and the like are not run
    const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd, env: process.env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${where}: \`wal ${args.join(' ')}\` exited ${r.status}\n${r.stdout}\n${r.stderr}`);
    ran++;
  }
  return ran;
}

function runFile(relative: string): { ts: number; cli: number } {
  const markdown = fs.readFileSync(path.join(repo, relative), 'utf8');
  const cwd = tempDir('nodewal-readme-');
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(cwd, 'node_modules')); // for --import tsx
  const counts = { ts: 0, cli: 0 };
  for (const block of extractBlocks(markdown)) {
    const where = `${relative}:${block.line}`;
    if (block.lang === 'ts') {
      runTs(block, cwd, where);
      counts.ts++;
    } else counts.cli += runSh(block, cwd, where);
  }
  return counts;
}

test('docs/metrics.md: the prom-client example runs and prints what a scraper would read', () => {
  assert.equal(runFile('docs/metrics.md').ts, 1);
});

test('docs/consumers.md: the consumer, drain, read-only and retention examples run', () => {
  assert.ok(runFile('docs/consumers.md').ts >= 4);
});

test('README.md: every ts block and `npx wal` line runs, the Log, WAL and LevelDB quick starts among them', () => {
  assert.ok(fs.existsSync(path.join(repo, 'README.md')), 'README.md must exist');
  const counts = runFile('README.md');
  assert.ok(counts.ts >= 3, `only ${counts.ts} ts blocks`);
  assert.ok(counts.cli >= 3, `only ${counts.cli} wal command lines`);
});

test('the block extractor finds ts and sh blocks with their line numbers', () => {
  const md = 'intro\n```ts\nconst a = 1;\n```\ntext\n```sh\nnpx wal stat x\n```\n```js\nnot run\n```\n';
  assert.deepEqual(extractBlocks(md), [
    { lang: 'ts', code: 'const a = 1;\n', line: 2 },
    { lang: 'sh', code: 'npx wal stat x\n', line: 6 },
  ]);
});
