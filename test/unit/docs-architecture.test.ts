/**
 * docs/architecture.md cannot rot silently: every source path it names exists, every bare file
 * name it uses in a diagram or table is a file of src/ or native/, and every folder of src/ is
 * described. Read from the tree, not from a list kept here.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const root = path.join(__dirname, '..', '..');
const doc = fs.readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8');

/** Every file and folder below `dir` (relative to the repository root), folders ending in '/'. */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(`${rel}/`, ...walk(rel));
    else out.push(rel);
  }
  return out;
}

const tree = [...walk('src'), ...walk('native')];

/** `src/...` and `native/...` paths in the doc, without a trailing full stop or comma. */
function namedPaths(text: string): string[] {
  return [...new Set([...text.matchAll(/(?<![\w./-])(?:src|native)\/[\w./-]*/g)].map((m) => m[0].replace(/[.,]+$/, '')))];
}

/** File names such as `tail-writer.ts` or `sync_thread.cc` written without their folder. */
function bareFileNames(text: string): string[] {
  return [...new Set([...text.matchAll(/(?<![\w./-])[\w-][\w.-]*\.(?:ts|cc|h)(?![\w-])/g)].map((m) => m[0]))];
}

test('every src/ and native/ path named in docs/architecture.md exists', () => {
  const missing = namedPaths(doc).filter((p) => !fs.existsSync(path.join(root, p)));
  assert.deepEqual(missing, []);
});

test('every bare file name in docs/architecture.md is a file of src/ or native/', () => {
  const names = new Set(tree.filter((p) => !p.endsWith('/')).map((p) => path.basename(p)));
  const missing = bareFileNames(doc).filter((n) => !names.has(n));
  assert.deepEqual(missing, []);
});

test('docs/architecture.md describes every folder of src/', () => {
  const named = new Set(namedPaths(doc));
  const undescribed = tree.filter((p) => p.endsWith('/') && !named.has(p));
  assert.deepEqual(undescribed, []);
});

/** The rows of the "Who touches files" table: the files that call node:fs outside src/io. */
function nodeFsRows(text: string): string[] {
  const section = text.split(/^## Who touches files$/m)[1]!.split(/^## /m)[0]!;
  return [...section.matchAll(/^\| `(src\/[^`]+)` \|/gm)].map((m) => m[1]!);
}

test('the "Who touches files" table lists exactly the files outside src/io that import node:fs', () => {
  const importsFs = (p: string): boolean => /['"](node:)?fs(\/promises)?['"]/.test(fs.readFileSync(path.join(root, p), 'utf8'));
  const importers = tree.filter((p) => p.endsWith('.ts') && !p.startsWith('src/io/') && importsFs(p));
  const rows = nodeFsRows(doc).filter((p) => !p.startsWith('src/io/'));
  assert.deepEqual([...rows].sort(), [...importers].sort());
});

test('the path checks see what they must (a missing path and a bare name are caught)', () => {
  const sample = 'see `src/log/no-such-file.ts`, native/nope.cc and `tail-writer.ts`, not db/log_reader.cc.';
  assert.deepEqual(namedPaths(sample), ['src/log/no-such-file.ts', 'native/nope.cc']);
  assert.deepEqual(bareFileNames(sample), ['tail-writer.ts']);
  assert.deepEqual(nodeFsRows('## Who touches files\n| `src/a.ts` | x |\n## Next\n| `src/b.ts` | y |\n'), ['src/a.ts']);
});
