/**
 * forward() + the JetStream sink against one real nats-server: three logs ("machines") to one
 * stream on three subjects at once, each exactly once and in order; and the permanent errors — no
 * stream, wrong credentials, an oversized record — stop the forwarder with the typed error and
 * leave the consumer's position where it was (after the last acknowledged batch).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from 'nats';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { forward } from '../../src/forward/forward';
import { jetStreamSink } from '../../src/jetstream';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { assertExactlyOnce, cleanupAfter, lastIndexOn, payload, until } from './support/forwarding';
import { startServer } from './support/nats-servers';
import type { Servers } from './support/nats-servers';

describe('forwarding to one server', () => {
  let servers: Servers;
  let nc: NatsConnection;
  before(async () => {
    servers = await startServer({
      extraConfig: 'authorization { users: [ { user: fwd, password: right } ] }',
      connectOptions: { user: 'fwd', pass: 'right' },
    });
    await servers.addStream({ name: 'INGEST', subjects: ['ingest.>'], max_msg_size: 256 * 1024 });
    nc = await servers.connect();
  });
  after(async () => {
    await nc?.close();
    await servers?.stop();
  });
  const creds = { user: 'fwd', pass: 'right' };

  test('three logs to one stream on three subjects, concurrently: each subject exactly once, in order', async (t) => {
    const N = 30000;
    const logs = await Promise.all([1, 2, 3].map(() => Log.open(tempDir('nodewal-fwd3-'))));
    const sinks = await Promise.all(
      logs.map((_, k) => jetStreamSink({ servers: servers.urls, connectOptions: creds, stream: 'INGEST', subject: `ingest.m${k}` })),
    );
    const fws = await Promise.all(logs.map((log, k) => forward(log, { consumer: 'js', sink: sinks[k]! })));
    cleanupAfter(t, ...fws, ...sinks, ...logs);
    // Producers append while the forwarders run: 100 groups of concurrent appends per log.
    await Promise.all(
      logs.map(async (log) => {
        for (let g = 0; g < 100; g++) {
          const base = g * (N / 100);
          await Promise.all(Array.from({ length: N / 100 }, (_, i) => log.append(payload(base + i + 1))));
        }
      }),
    );
    for (let k = 0; k < 3; k++)
      await until(async () => (await lastIndexOn(nc, 'INGEST', `ingest.m${k}`)) === BigInt(N), 60000, `m${k} forwarded`);
    for (const fw of fws) await fw.stop();
    for (let k = 0; k < 3; k++) {
      const { batches } = await assertExactlyOnce(nc, 'INGEST', `ingest.m${k}`, logs[k]!.id, N);
      assert.ok(batches < N / 10, `${batches} batches for ${N} records: records travel in batches`);
      assert.equal(fws[k]!.stats().committed, BigInt(N));
    }
    for (const s of sinks) await s.close();
    for (const l of logs) await l.close();
  });

  test('no stream: forward() rejects with ERR_WAL_FORWARD_STREAM_NOT_FOUND; the consumer stays at 0', async () => {
    const log = await Log.open(tempDir('nodewal-fwdp-'));
    await log.appendBatch([payload(1), payload(2)]);
    await assert.rejects(jetStreamSink({ servers: servers.urls, connectOptions: creds, stream: 'MISSING', subject: 'ingest.x' }), (e) =>
      isWalError(e, WalErrorCodes.FORWARD_STREAM_NOT_FOUND),
    );
    const c = await log.consumer('js');
    assert.equal(c.committed, 0n);
    await c.close();
    await log.close();
  });

  test('a stream deleted under a running forwarder: it stops with ERR_WAL_FORWARD_STREAM_NOT_FOUND, commit at the last ack', async () => {
    await servers.addStream({ name: 'DOOMED', subjects: ['doomed.>'] });
    const log = await Log.open(tempDir('nodewal-fwdp-'));
    await log.appendBatch(Array.from({ length: 100 }, (_, i) => payload(i + 1)));
    const sink = await jetStreamSink({
      servers: servers.urls,
      connectOptions: creds,
      stream: 'DOOMED',
      subject: 'doomed.x',
      backoff: { maxMs: 100 },
    });
    const fw = await forward(log, { consumer: 'js', sink });
    await until(() => fw.stats().committed === 100n, 10000, 'first records committed');
    await (await nc.jetstreamManager()).streams.delete('DOOMED');
    await log.append(payload(101));
    await assert.rejects(fw.done, (e) => isWalError(e, WalErrorCodes.FORWARD_STREAM_NOT_FOUND));
    const c = await log.consumer('js');
    assert.equal(c.committed, 100n);
    await c.close();
    await sink.close();
    await log.close();
  });

  test('wal forward: a missing stream or wrong credentials exit 1 with the code; the consumer stays', async () => {
    const dir = tempDir('nodewal-fwdcli-');
    const log = await Log.open(dir);
    await log.appendBatch([payload(1), payload(2)]);
    await log.close();
    const cli = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts');
    const run = (...extra: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', cli, 'forward', dir, '--to', servers.urls[0]!, '--subject', 'ingest.cli', ...extra], {
        encoding: 'utf8',
        timeout: 60000,
      });
    const noStream = run('--stream', 'MISSING', '--user', 'fwd', '--password', 'right');
    assert.equal(noStream.status, 1, noStream.stderr);
    assert.match(noStream.stderr, /ERR_WAL_FORWARD_STREAM_NOT_FOUND/);
    const badAuth = run('--stream', 'INGEST', '--user', 'fwd', '--password', 'nope', '--json');
    assert.equal(badAuth.status, 1, badAuth.stderr);
    assert.match(badAuth.stderr, /ERR_WAL_FORWARD_AUTH/);
    assert.equal(JSON.parse(badAuth.stdout.trim().split('\n').at(-1)!).code, 'ERR_WAL_FORWARD_AUTH');
    const again = await Log.open(dir);
    const c = await again.consumer('forward');
    assert.equal(c.committed, 0n);
    await c.close();
    await again.close();
  });

  test('wal forward on a terminal: a progress line, then a clean stop on SIGTERM with the summary', async () => {
    const dir = tempDir('nodewal-fwdtty-');
    const log = await Log.open(dir);
    await log.appendBatch(Array.from({ length: 500 }, (_, i) => payload(i + 1)));
    await log.close();
    const cli = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts');
    const args = [
      process.execPath,
      '--import',
      'tsx',
      cli,
      'forward',
      dir,
      '--to',
      servers.urls[0]!,
      '--stream',
      'INGEST',
      '--subject',
      'ingest.tty',
      '--user',
      'fwd',
      '--password',
      'right',
      '--interval',
      '200',
    ];
    // util-linux script(1) gives it a pty; timeout(1) sends the SIGTERM after 6 s.
    const cmd = ['timeout', '-s', 'TERM', '6', ...args].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60000, env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.error, undefined);
    assert.match(
      r.stdout,
      /\rforward → INGEST\/ingest\.tty: 500 records \(.*\), last 500, lag 0, in flight 0, ack p50 [\d.]+ ms p99 [\d.]+ ms/,
    );
    assert.match(r.stdout, /stopped: 500 records \(.*\) forwarded in \d+ batches; committed through 500/);
    assert.equal(await lastIndexOn(nc, 'INGEST', 'ingest.tty'), 500n);
  });

  test('wrong credentials: ERR_WAL_FORWARD_AUTH at once, the consumer untouched', async () => {
    const log = await Log.open(tempDir('nodewal-fwdp-'));
    await log.append(payload(1));
    await assert.rejects(
      jetStreamSink({ servers: servers.urls, connectOptions: { user: 'fwd', pass: 'nope' }, stream: 'INGEST', subject: 'ingest.auth' }),
      (e) => isWalError(e, WalErrorCodes.FORWARD_AUTH),
    );
    const c = await log.consumer('js');
    assert.equal(c.committed, 0n);
    await c.close();
    await log.close();
  });

  test('an oversized record: the batches before it are forwarded and committed, then ERR_WAL_FORWARD_MESSAGE_TOO_LARGE', async () => {
    const log = await Log.open(tempDir('nodewal-fwdp-'));
    await log.appendBatch(Array.from({ length: 50 }, (_, i) => payload(i + 1)));
    await log.append(Buffer.alloc(300 * 1024, 1)); // index 51, over the stream's 256 KiB max_msg_size
    await log.append(payload(52));
    const sink = await jetStreamSink({ servers: servers.urls, connectOptions: creds, stream: 'INGEST', subject: 'ingest.big' });
    const fw = await forward(log, { consumer: 'js', sink });
    await assert.rejects(fw.done, (e) => isWalError(e, WalErrorCodes.FORWARD_MESSAGE_TOO_LARGE) && /record 51/.test((e as Error).message));
    assert.equal(await lastIndexOn(nc, 'INGEST', 'ingest.big'), 50n);
    const c = await log.consumer('js');
    assert.equal(c.committed, 50n);
    await c.close();
    // Restarting does not skip it: the same error again, nothing more downstream.
    const again = await forward(log, { consumer: 'js', sink });
    await assert.rejects(again.done, (e) => isWalError(e, WalErrorCodes.FORWARD_MESSAGE_TOO_LARGE));
    assert.equal(await lastIndexOn(nc, 'INGEST', 'ingest.big'), 50n);
    await sink.close();
    await log.close();
  });
});
