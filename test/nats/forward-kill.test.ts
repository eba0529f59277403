/**
 * The sidecar killed again and again: a producer appends FORWARD_KILL_RECORDS (default 1,000,000)
 * records to a Log while `wal forward` (another process, the log opened read-only) is started and
 * killed with SIGKILL at random moments, FORWARD_KILL_CYCLES times (default 30), then run to the end
 * and stopped with SIGTERM. Decoded from the stream's messages, every record is there exactly once,
 * in index order, with its bytes (checked one by one).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from 'nats';
import { prng } from '../support/prng';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { assertExactlyOnce, cleanupAfter, lastIndexOn, produce, until } from './support/forwarding';
import { startServer } from './support/nats-servers';
import type { Servers } from './support/nats-servers';

const N = Number(process.env['FORWARD_KILL_RECORDS'] ?? 1_000_000);
const CYCLES = Number(process.env['FORWARD_KILL_CYCLES'] ?? 30);
const SEED = Number(process.env['FORWARD_KILL_SEED'] ?? Date.now() % 100000);
const cli = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts');

function sidecar(dir: string, url: string): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', cli, 'forward', dir, '--to', url, '--stream', 'KILL', '--subject', 'kill.log', '--json', '--interval', '100'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

describe('wal forward, kill -9 at random moments', () => {
  let servers: Servers;
  let nc: NatsConnection;
  before(async () => {
    servers = await startServer();
    await servers.addStream({ name: 'KILL', subjects: ['kill.>'] });
    nc = await servers.connect();
  });
  after(async () => {
    await nc?.close();
    await servers?.stop();
  });

  test(`${N} records, ${CYCLES} kill -9 cycles of the forwarder (seed ${SEED}): exactly once, in order, bytes intact`, async (t) => {
    const dir = tempDir('nodewal-fwdk-');
    const log = await Log.open(dir);
    // Spread the appends over the kill cycles (about a second each) rather than writing everything up front.
    const producer = produce(log, N, 2000, Math.max(1, (CYCLES * 1000 * 2000) / N));
    const rand = prng(SEED);
    const progress: bigint[] = [];
    for (let c = 0; c < CYCLES; c++) {
      const p = sidecar(dir, servers.urls[0]!);
      cleanupAfter(t, p);
      const exited = new Promise((r) => p.once('exit', r));
      if (c % 3 === 0) {
        // Anywhere from start-up (connecting, resuming) on.
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 1500)));
      } else {
        // While forwarding: after its first status line, at a random moment.
        let out = '';
        p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        await until(() => out.includes('"forward-status"') || p.exitCode !== null, 30000, 'sidecar running');
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 600)));
      }
      p.kill('SIGKILL');
      await exited;
      progress.push(await lastIndexOn(nc, 'KILL', 'kill.log'));
    }
    await producer;
    const last = sidecar(dir, servers.urls[0]!);
    cleanupAfter(t, last, log);
    let stderr = '';
    let stdout = '';
    last.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    last.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = new Promise<number | null>((r) => last.once('exit', (c) => r(c)));
    await until(async () => (await lastIndexOn(nc, 'KILL', 'kill.log')) === BigInt(N), 240000, 'the last forwarder to finish');
    await until(() => stdout.includes('"forward-status"'), 30000, 'the last forwarder running');
    last.kill('SIGTERM');
    assert.equal(await code, 0, `clean stop on SIGTERM: ${stderr}`);
    const stopped = JSON.parse(stdout.trim().split('\n').at(-1)!) as { kind: string; committed: string };
    assert.equal(stopped.kind, 'forward-stopped');
    assert.equal(stopped.committed, String(N));
    const moved = progress.filter((v, i) => i > 0 && v > progress[i - 1]!).length;
    console.log(`# kill cycles: ${CYCLES}, cycles that moved the stream: ${moved}, stream index after each: ${progress.join(' ')}`);
    assert.ok(moved >= CYCLES / 3, `${moved} of ${CYCLES} killed forwarders got batches stored before dying`);
    const { batches } = await assertExactlyOnce(nc, 'KILL', 'kill.log', log.id, N);
    console.log(`# ${N} records in ${batches} messages`);
    // The consumer the sidecar committed, after the clean stop: everything.
    const c = await log.consumer('forward');
    assert.equal(c.committed, BigInt(N));
    await c.close();
    await log.close();
  });
});
