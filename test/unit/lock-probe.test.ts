// Issue 12, findings 1 and 4: a native writer and a fallback opener on one directory (and the
// reverse) — the second always gets ERR_WAL_LOCKED, for Log, WAL and the LevelDB writer; and a
// live writer that keeps writing through many cuts while other processes and its own process
// probe it with Log.open, WAL.open and every `wal` subcommand that takes a path (`wal forward`
// needs a NATS server and is not probed here, see test/nats/; `wal bench` takes no path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Log } from '../../src/log/log';
import { WAL } from '../../src/etcd/wal';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { isWalError } from '../../src/errors';
import { tempDir, expectedBackend } from '../support/tmp';
import { TEST_LOCK, Worker, snapshot } from '../support/lock-helpers';

const other = expectedBackend === 'native' ? '0' : '1';
const locked = (e: unknown): boolean => isWalError(e, 'ERR_WAL_LOCKED');
const cli = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts');

type Kind = 'log' | 'wal' | 'leveldb';

async function prepare(kind: Kind): Promise<string> {
  const base = tempDir();
  if (kind === 'log') return path.join(base, 'log');
  if (kind === 'leveldb') return path.join(base, '000003.log');
  const dir = path.join(base, 'wal');
  await (await WAL.create(dir, null, { segmentSizeBytes: 1 << 20 })).close();
  return dir;
}

async function openHere(kind: Kind, p: string): Promise<{ close(): Promise<void> }> {
  if (kind === 'log') return Log.open(p, { lock: TEST_LOCK });
  if (kind === 'wal') return WAL.open(p, { index: 0n, term: 0n }, { lock: TEST_LOCK });
  return LevelDBLogWriter.open(p, { lock: TEST_LOCK });
}

for (const kind of ['log', 'wal', 'leveldb'] as const) {
  test(`${kind}: a writer on the other backend (WAL_NATIVE=${other}) excludes this one, and this one excludes it`, async () => {
    const p = await prepare(kind);
    const holder = await Worker.start({ native: other });
    try {
      assert.deepEqual(await holder.request({ cmd: 'open', kind, path: p, lock: TEST_LOCK }), { ok: true });
      assert.ok('acked' in (await holder.request({ cmd: 'append', n: 10, tag: 'other' })));
      const dir = kind === 'leveldb' ? path.dirname(p) : p;
      const before = snapshot(dir);
      for (let i = 0; i < 3; i++) await assert.rejects(openHere(kind, p), locked);
      assert.deepEqual(snapshot(dir), before, 'the refused opens changed nothing');
      assert.ok('acked' in (await holder.request({ cmd: 'append', n: 10, tag: 'other' })), 'the holder writes on');
      assert.deepEqual(await holder.request({ cmd: 'close' }), { closed: true });

      const mine = await openHere(kind, p);
      try {
        for (let i = 0; i < 3; i++) {
          const r = await holder.request({ cmd: 'open', kind, path: p, lock: TEST_LOCK });
          assert.equal(r['code'], 'ERR_WAL_LOCKED', JSON.stringify(r));
        }
      } finally {
        await mine.close();
      }
    } finally {
      await holder.kill9();
    }
  });
}

function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

test('a live writer keeps writing through many cuts while it is probed from outside and from inside', async () => {
  const dir = path.join(tempDir(), 'log');
  const writer = await Worker.start();
  try {
    assert.deepEqual(await writer.request({ cmd: 'open', kind: 'log', path: dir, lock: TEST_LOCK, segmentSize: 4096 }), { ok: true });
    writer.send({ cmd: 'stream', tag: 'live' });
    const wait = async (n: bigint): Promise<void> => {
      while (writer.acked < n && writer.streamFailure === null) await new Promise((r) => setTimeout(r, 5));
    };
    await wait(20n);
    for (let round = 0; round < 2; round++) {
      await assert.rejects(Log.open(dir), locked);
      await assert.rejects(WAL.open(dir, { index: 0n, term: 0n }), locked);
      await assert.rejects(WAL.repair(dir), locked);
      // Every CLI command that takes a path (once: each costs a process start): the readers read,
      // repair refuses or finds nothing to do.
      for (const args of round === 0
        ? [
            ['dump', dir],
            ['verify', dir],
            ['stat', dir],
            ['repair', dir, '--yes'],
            ['consumer', dir, 'list'],
            ['consumer', dir, 'delete', 'no-such-consumer', '--yes'],
          ]
        : []) {
        const r = await runCli(args);
        assert.ok(r.code === 0 || r.code === 1, `wal ${args.join(' ')}: exit ${r.code}: ${r.out}`);
        if (args[0] === 'repair') assert.ok(r.code === 0 || /ERR_WAL_LOCKED/.test(r.out), r.out);
        // `wal consumer DIR list` only reads (the writer has no consumers): it must succeed.
        if (args[0] === 'consumer' && args[2] === 'list') assert.equal(r.code, 0, r.out);
      }
      // The writer's own process, while its stream runs.
      writer.send({ cmd: 'probe', path: dir });
      assert.deepEqual(await writer.next(), { log: 'ERR_WAL_LOCKED', wal: 'ERR_WAL_LOCKED' });
      await wait(writer.acked + 200n);
    }
    assert.equal(writer.streamFailure, null, `the live writer failed: ${JSON.stringify(writer.streamFailure)}`);
    const acked = writer.acked;
    await writer.kill9();
    assert.equal(fs.readdirSync(dir).filter((n) => n.includes('.broken')).length, 0, 'nothing was cut');
    const log = await Log.open(dir, { mustExist: true });
    let n = 0n;
    for await (const { index, data } of log.entries()) {
      const k = Number(index) - 1;
      assert.equal(Buffer.from(data).toString(), `live/${Math.floor(k / 20)}/${k % 20}`);
      n = index;
    }
    await log.close();
    assert.ok(n >= acked, `acknowledged up to ${acked}, the log holds ${n}`);
    const segments = fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).length;
    assert.ok(segments >= 5, `the writer cut segments meanwhile (${segments})`);
  } finally {
    await writer.kill9();
  }
});
