// Whole-file write locks across processes and within one, through the backend WAL_NATIVE selects.
// Native: OFD fcntl locks; fallback: a process-local registry (src/io/fallback.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultBackend as io } from '../../src/io/backend';
import { expectedBackend, tempDir } from '../support/tmp';

const holderScript = path.join(__dirname, '..', 'support', 'io-lock-holder.ts');

interface Holder {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the child's next output line. */
  nextLine(): Promise<string>;
}

function startHolder(file: string): Holder {
  const child = spawn(process.execPath, ['--import', 'tsx', holderScript, file], {
    env: process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let buffered = '';
  const waiting: ((line: string) => void)[] = [];
  const lines: string[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return {
    child,
    nextLine: () =>
      new Promise((resolve, reject) => {
        const early = lines.shift();
        if (early !== undefined) return resolve(early);
        waiting.push(resolve);
        child.once('exit', (code) => reject(new Error(`holder exited (${code}) before a line: ${stderr}`)));
      }),
  };
}

const exited = (child: ChildProcessWithoutNullStreams): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', r));

// The fallback's file lock is process-local by design: between processes the formats are excluded
// by their directory lease (src/lock/lease.ts; lock-*.test.ts), which has no stale-pid failure modes.
async function fallbackLockIsProcessLocal(): Promise<void> {
  const dir = tempDir();
  const file = path.join(dir, 'local.wal');
  const f = await io.open(file, { write: true, create: true });
  await f.lock({ wait: false });
  const other = startHolder(file);
  assert.equal(await other.nextLine(), 'locked', 'another process is not excluded by the fallback file lock');
  other.child.stdin.end();
  assert.equal(await other.nextLine(), 'released');
  assert.deepEqual(fs.readdirSync(dir), ['local.wal']);
  await f.close();
}

test('a lock held by another process: native refuses a try and a waiting lock gets it on release; the fallback lock is process-local', async () => {
  if (expectedBackend === 'fallback') return fallbackLockIsProcessLocal();
  const file = path.join(tempDir(), 'held.wal');
  const holder = startHolder(file);
  assert.equal(await holder.nextLine(), 'locked');

  const f = await io.open(file, { write: true });
  await assert.rejects(f.lock({ wait: false }), { code: 'EAGAIN' });

  let acquired = false;
  const waiting = f.lock({ wait: true }).then(() => (acquired = true));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(acquired, false, 'the waiting lock must not succeed while the other process holds it');

  holder.child.stdin.write('release\n');
  assert.equal(await holder.nextLine(), 'released');
  await waiting;
  assert.equal(acquired, true);
  assert.equal(await exited(holder.child), 0);

  // Now we hold it: a new process is refused.
  const second = startHolder(file);
  assert.equal(await second.nextLine(), 'refused EAGAIN');
  assert.equal(await exited(second.child), 0);

  await f.unlock();
  const third = startHolder(file);
  assert.equal(await third.nextLine(), 'locked', 'unlock releases the lock');
  third.child.stdin.end();
  assert.equal(await third.nextLine(), 'released');
  await f.close();
});

test('two opens in one process exclude each other; close releases', async () => {
  const file = path.join(tempDir(), 'twice.wal');
  const a = await io.open(file, { write: true, create: true });
  const b = await io.open(file, { write: true });
  await a.lock({ wait: false });
  await a.lock({ wait: false }); // re-locking our own lock is fine
  await assert.rejects(b.lock({ wait: false }), { code: 'EAGAIN' });
  await a.close();
  await b.lock({ wait: false });
  await b.close();
});

// Native: OFD locks exclude other programs' OFD locks (and so etcd). Fallback: its process-local
// lock does not — the documented limitation (docs/native.md); this test pins both behaviours.
test('OFD lock interplay with another program (python3 fcntl): native excludes it, the fallback documents it does not', async () => {
  const file = path.join(tempDir(), 'ofd.wal');
  const f = await io.open(file, { write: true, create: true });
  await f.lock({ wait: false });
  // struct flock on Linux 64-bit: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid.
  const probe = `
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
lk = struct.pack('hhqqi4x', fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
try:
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, lk)
    print('acquired')
except OSError as e:
    print('refused', e.errno)
`;
  const held = spawnSync('python3', ['-c', probe, file], { encoding: 'utf8' });
  assert.equal(held.error, undefined, 'python3 is needed for this check');
  if (expectedBackend === 'native') assert.match(held.stdout, /^refused (11|13)\b/, held.stdout + held.stderr);
  else assert.equal(held.stdout.trim(), 'acquired', 'the fallback lock cannot exclude an OFD lock');
  await f.close();
  const free = spawnSync('python3', ['-c', probe, file], { encoding: 'utf8' });
  assert.equal(free.stdout.trim(), 'acquired', free.stderr);
});
