// Hostile layouts of a Log directory: a 0-byte first segment, the tail replaced by a symlink
// (to a file outside the directory, to /dev/null, to /dev/zero, to nothing) or by a directory,
// and a directory the opener may not write. Log.open, WAL.open (+ readAll) and `wal verify`
// must agree: the same WalError code naming a file from all three (verify: the same code as its
// first problem, exit 1), or all three accept. A refused open changes no byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import { Log } from '../../src/log/log';
import { RECORDS, payload, treeBytes, walFiles, writeLogDir } from '../support/damaged-tails';
import { tempDir } from '../support/tmp';
import { jsonLines, wal } from '../support/cli-helpers';
import { openDecision, walDecision } from '../support/hostile-layout-open';

const root = tempDir('hostile-');
const pristine = path.join(root, 'pristine');

function verifyDecision(dir: string): string {
  const r = wal(['verify', '--json', dir]);
  if (r.status === 0) return 'ok';
  assert.equal(r.status, 1, r.stdout + r.stderr);
  return jsonLines(r.stdout).find((l) => l['kind'] === 'problem')!['code'] as string;
}

async function logEntries(dir: string): Promise<Buffer[]> {
  const log = await Log.open(dir, { mustExist: true, segmentSize: 16 * 1024 });
  try {
    const out: Buffer[] = [];
    for await (const e of log.entries()) out.push(Buffer.from(e.data));
    return out;
  } finally {
    await log.close();
  }
}

/** Symlinks are compared by where they point, files by content. */
function withoutLease(l: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(l).filter(([n]) => !/^nodewal-lock\.\d+\.tmp$/.test(n)));
}

function layout(dir: string): Record<string, string> {
  const links = Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((n) => fs.lstatSync(path.join(dir, n)).isSymbolicLink())
      .map((n) => [n, `-> ${fs.readlinkSync(path.join(dir, n))}`]),
  );
  const kinds = Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((n) => fs.statSync(path.join(dir, n), { throwIfNoEntry: false })?.isDirectory())
      .map((n) => [n, 'dir']),
  );
  return { ...treeBytes(dir), ...kinds, ...links };
}

interface Layout {
  name: string;
  expect: string;
  make(dir: string): void;
}

const tailOf = (dir: string): string => walFiles(dir).at(-1)!;
const replaceTail = (dir: string, by: (tail: string) => void): void => {
  const t = tailOf(dir);
  fs.rmSync(t);
  by(t);
};

const LAYOUTS: Layout[] = [
  {
    name: 'a 0-byte first (and only) segment',
    expect: 'ERR_WAL_SNAPSHOT_NOT_FOUND',
    make(dir) {
      const first = walFiles(dir)[0]!;
      for (const f of walFiles(dir)) fs.rmSync(f);
      fs.writeFileSync(first, '');
    },
  },
  {
    name: 'a first segment of zeros (preallocated, header never written)',
    expect: 'ERR_WAL_SNAPSHOT_NOT_FOUND',
    make(dir) {
      const first = walFiles(dir)[0]!;
      for (const f of walFiles(dir)) fs.rmSync(f);
      fs.writeFileSync(first, Buffer.alloc(16 * 1024));
    },
  },
  {
    name: 'the tail is a symlink to /dev/null',
    expect: 'ERR_WAL_IO',
    make: (dir) => replaceTail(dir, (t) => fs.symlinkSync('/dev/null', t)),
  },
  {
    name: 'the tail is a symlink to /dev/zero',
    expect: 'ERR_WAL_IO',
    make: (dir) => replaceTail(dir, (t) => fs.symlinkSync('/dev/zero', t)),
  },
  {
    name: 'the tail is a dangling symlink',
    expect: 'ERR_WAL_IO',
    make: (dir) => replaceTail(dir, (t) => fs.symlinkSync(path.join(root, 'nowhere'), t)),
  },
  { name: 'the tail is a directory', expect: 'ERR_WAL_IO', make: (dir) => replaceTail(dir, (t) => fs.mkdirSync(t)) },
];

test('hostile layouts: Log.open, WAL.open + readAll and wal verify agree, and a refusal changes nothing', async (t) => {
  await writeLogDir(pristine);
  for (const [i, l] of LAYOUTS.entries()) {
    await t.test(l.name, async () => {
      const dir = path.join(root, `layout-${i}`);
      fs.cpSync(pristine, dir, { recursive: true });
      l.make(dir);
      const before = layout(dir);
      const viaLog = await openDecision(
        () => Log.open(dir, { mustExist: true, segmentSize: 16 * 1024 }),
        (x) => x.close(),
      );
      assert.deepEqual(layout(dir), before, 'a refused Log.open changes nothing');
      const viaWal = await walDecision(() => WAL.open(dir, { index: 0n, term: 0n }));
      assert.deepEqual({ log: viaLog, wal: viaWal, verify: verifyDecision(dir) }, { log: l.expect, wal: l.expect, verify: l.expect });
      // WAL.open (write mode) succeeds on some of these (etcd's Open does; ReadAll refuses), and its
      // close() rightly replaces the lease generation: every file but the lease stays as it was.
      assert.deepEqual(withoutLease(layout(dir)), withoutLease(before));
    });
  }
});

test('the tail is a symlink to a regular file outside the directory: followed by all three, as etcd follows it', async () => {
  const dir = path.join(root, 'symlink-out');
  fs.cpSync(pristine, dir, { recursive: true });
  const tail = tailOf(dir);
  const outside = path.join(tempDir('hostile-outside-'), 'segment');
  fs.renameSync(tail, outside);
  fs.symlinkSync(outside, tail);
  assert.equal(verifyDecision(dir), 'ok');
  assert.deepEqual(
    await logEntries(dir),
    Array.from({ length: RECORDS }, (_, k) => payload(k + 1)),
  );
  assert.ok(fs.lstatSync(tail).isSymbolicLink(), 'the link is still a link: the Log wrote through it');
  assert.equal(await walDecision(() => WAL.open(dir, { index: 0n, term: 0n })), 'ok');
});

/** Runs the child without the right to write `dir`: as root, with CAP_DAC_OVERRIDE and CAP_FOWNER dropped. */
function openWithoutWriteAccess(dir: string): { log: string; wal: string } {
  const child = path.join(__dirname, '..', 'support', 'hostile-layout-child.ts');
  const node = [process.execPath, '--import', 'tsx', child, dir];
  const argv = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search,-fowner', ...node] : node;
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim()) as { log: string; wal: string };
}

test('a read-only directory: Log.open and WAL.open fail at open (ERR_WAL_IO), not at the first cut; wal verify reads it', async () => {
  const dir = path.join(root, 'read-only');
  fs.cpSync(pristine, dir, { recursive: true });
  fs.chmodSync(dir, 0o500);
  try {
    const before = layout(dir);
    assert.deepEqual(openWithoutWriteAccess(dir), { log: 'ERR_WAL_IO', wal: 'ERR_WAL_IO' });
    assert.deepEqual(layout(dir), before);
    // verify never writes: the data is intact and it says so.
    assert.equal(verifyDecision(dir), 'ok');
  } finally {
    fs.chmodSync(dir, 0o700);
  }
  // The check is not vacuous: with write access the same child opens both.
  assert.deepEqual(openWithoutWriteAccess(dir), { log: 'ok', wal: 'ok' });
});
