/**
 * The reference docs stay complete: every runtime export of the package is documented in
 * docs/api.md, every WalError code has its own heading in docs/troubleshooting.md, and every
 * relative link between the docs points at a file that exists.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as api from '../../src/index';

const docs = path.join(__dirname, '..', '..', 'docs');
const read = (name: string): string => fs.readFileSync(path.join(docs, name), 'utf8');

test('docs/api.md names every runtime export of src/index.ts', () => {
  const text = read('api.md');
  const missing = Object.keys(api).filter((name) => !new RegExp('`[^`]*\\b' + name + '\\b[^`]*`').test(text));
  assert.deepEqual(missing, []);
});

test('docs/troubleshooting.md has a heading for every WalError code', () => {
  const text = read('troubleshooting.md');
  const missing = Object.values(api.WalErrorCodes).filter((code) => !text.includes(`#### \`${code}\``));
  assert.deepEqual(missing, []);
});

/** Relative links in `file` that do not resolve from `base`. */
function brokenLinks(file: string, base: string): string[] {
  const broken: string[] = [];
  for (const m of fs.readFileSync(file, 'utf8').matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
    const target = m[1]!;
    if (/^[a-z]+:/.test(target)) continue; // http(s): and the like
    if (!fs.existsSync(path.join(base, target))) broken.push(`${path.relative(root, file)} -> ${target}`);
  }
  return broken;
}

const root = path.join(docs, '..');

test('relative links in docs/*.md point at existing files', () => {
  const broken = fs
    .readdirSync(docs)
    .filter((f) => f.endsWith('.md'))
    .flatMap((f) => brokenLinks(path.join(docs, f), docs));
  assert.deepEqual(broken, []);
});

test('links in README.md and CONTRIBUTING.md point at existing files', () => {
  const files = ['README.md', 'CONTRIBUTING.md'].map((f) => path.join(root, f));
  for (const f of files) assert.ok(fs.existsSync(f), `${path.basename(f)} must exist`);
  assert.deepEqual(
    files.flatMap((f) => brokenLinks(f, root)),
    [],
  );
});
