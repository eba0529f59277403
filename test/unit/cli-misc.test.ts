import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { tempDir } from '../support/tmp';
import { makeEtcdWal, wal } from '../support/cli-helpers';

test('--help for the command and every subcommand; unknown command is a usage error', () => {
  const top = wal(['--help']);
  assert.equal(top.status, 0);
  for (const name of ['dump', 'verify', 'repair', 'stat', 'bench']) {
    assert.match(top.stdout, new RegExp(`\\n  ${name} `));
    const h = wal([name, '--help']);
    assert.equal(h.status, 0, name);
    assert.match(h.stdout, new RegExp(`^Usage: wal ${name}`));
    assert.match(h.stdout, /Exit status:/);
  }
  const bad = wal(['frobnicate']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command 'frobnicate'/);
  assert.equal(wal([]).status, 2);
});

test('colours: only when forced on a pipe, never with NO_COLOR or --no-color or --json', async () => {
  const dir = path.join(tempDir(), 'wal');
  await makeEtcdWal(dir, 10);
  const forced = wal(['dump', dir], { env: { FORCE_COLOR: '1' } });
  assert.match(forced.stdout, /\x1b\[\d+m/);
  const no = wal(['dump', dir], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
  assert.doesNotMatch(no.stdout, /\x1b\[/);
  assert.equal(no.stdout, wal(['dump', dir]).stdout);
  assert.doesNotMatch(wal(['dump', '--no-color', dir], { env: { FORCE_COLOR: '1' } }).stdout, /\x1b\[/);
  assert.doesNotMatch(wal(['verify', '--json', dir], { env: { FORCE_COLOR: '1' } }).stdout, /\x1b\[/);
});

test('--format forces the reader: an etcd directory read as LevelDB is a usage error, not a crash', async () => {
  const dir = path.join(tempDir(), 'wal');
  await makeEtcdWal(dir, 5);
  const r = wal(['verify', '--format', 'leveldb', dir]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no LevelDB log files/);
  assert.equal(wal(['verify', '--format', 'xml', dir]).status, 2);
  assert.equal(wal(['verify', '--format', 'etcd', dir]).status, 0);
});
