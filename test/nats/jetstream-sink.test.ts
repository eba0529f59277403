/**
 * The JetStream sink against a real nats-server (2.9.10 from Debian) on loopback: typed errors for
 * the permanent failures, the stream as the record of what was forwarded, and the server-side
 * expectation that keeps a subject gap-free and duplicate-free whatever a stale sender does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from 'nats';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { jetStreamSink } from '../../src/jetstream';
import type { SinkRecord } from '../../src/forward/sink';
import { readBack } from './support/read-back';
import { startServer } from './support/nats-servers';
import type { Servers } from './support/nats-servers';

const LOG = 'a'.repeat(32);
const recs = (from: number, to: number, size = 10, logId = LOG): SinkRecord[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ logId, index: BigInt(from + i), data: Buffer.alloc(size, (from + i) & 0xff) }));

describe('JetStream sink, single server', () => {
  let servers: Servers;
  let nc: NatsConnection;
  before(async () => {
    servers = await startServer();
    await servers.addStream({ name: 'S', subjects: ['logs.>'], max_msg_size: 64 * 1024 });
    nc = await servers.connect();
  });
  after(async () => {
    await nc?.close();
    await servers?.stop();
  });

  test('a stream that does not exist is ERR_WAL_FORWARD_STREAM_NOT_FOUND', async () => {
    await assert.rejects(jetStreamSink({ servers: servers.urls, stream: 'NOPE', subject: 'logs.x' }), (e) =>
      isWalError(e, WalErrorCodes.FORWARD_STREAM_NOT_FOUND),
    );
  });

  test('a subject the stream does not capture is ERR_WAL_FORWARD_WRONG_SUBJECT', async () => {
    await assert.rejects(jetStreamSink({ servers: servers.urls, stream: 'S', subject: 'other.x' }), (e) =>
      isWalError(e, WalErrorCodes.FORWARD_WRONG_SUBJECT),
    );
  });

  test('batches land one message each; lastForwarded reads the last index back from the stream', async () => {
    const sink = await jetStreamSink({ servers: servers.urls, stream: 'S', subject: 'logs.one' });
    assert.equal(await sink.lastForwarded(LOG), 0n);
    await sink.send(recs(1, 5));
    await sink.send(recs(6, 6));
    await sink.close();
    const again = await jetStreamSink({ servers: servers.urls, stream: 'S', subject: 'logs.one' });
    assert.equal(await again.lastForwarded(LOG), 6n);
    await again.close();
    const back = await readBack(nc, 'S', 'logs.one');
    assert.deepEqual(
      back.batches.map((b) => [b.first, b.last]),
      [
        [1n, 5n],
        [6n, 6n],
      ],
    );
    assert.deepEqual(
      back.records,
      recs(1, 6).map(({ index, data }) => ({ index, data: Uint8Array.from(data) })),
    );
  });

  test('a stale sender re-sending a stored range stores nothing twice; one skipping a range is refused', async () => {
    const a = await jetStreamSink({ servers: servers.urls, stream: 'S', subject: 'logs.stale' });
    const b = await jetStreamSink({ servers: servers.urls, stream: 'S', subject: 'logs.stale' });
    assert.equal(await a.lastForwarded(LOG), 0n);
    assert.equal(await b.lastForwarded(LOG), 0n);
    await a.send(recs(1, 10));
    // b still believes the subject is empty: its publish expects last subject sequence 0, the
    // server refuses, b reads the stream and finds its batch already there.
    await b.send(recs(1, 10));
    await a.send(recs(11, 20));
    // b believes the subject ends at 10; the server says otherwise and b must not write 11-15 again.
    await assert.rejects(b.send(recs(11, 15)), (e) => isWalError(e, WalErrorCodes.FORWARD_DIVERGED));
    await assert.rejects(a.send(recs(25, 30)), (e) => isWalError(e, WalErrorCodes.FORWARD_DIVERGED));
    await a.close();
    await b.close();
    const back = await readBack(nc, 'S', 'logs.stale');
    assert.deepEqual(
      back.batches.map((x) => [x.first, x.last]),
      [
        [1n, 10n],
        [11n, 20n],
      ],
    );
  });

  test('the same log to a second subject of the stream inside the duplicate window is stored there too', async () => {
    // The window is per stream: a message id without the subject would make the second copy a "duplicate".
    for (const subject of ['logs.twice1', 'logs.twice2']) {
      const sink = await jetStreamSink({ servers: servers.urls, stream: 'S', subject });
      await sink.lastForwarded(LOG);
      await sink.send(recs(1, 4));
      assert.equal(sink.stats().duplicates, 0);
      await sink.close();
      assert.deepEqual(
        (await readBack(nc, 'S', subject)).batches.map((b) => [b.first, b.last]),
        [[1n, 4n]],
      );
    }
  });

  test('a subject holding another log is ERR_WAL_FORWARD_WRONG_SUBJECT', async () => {
    const a = await jetStreamSink({ servers: servers.urls, stream: 'S', subject: 'logs.shared' });
    await a.lastForwarded(LOG);
    await a.send(recs(1, 3));
    await a.close();
    const other = 'b'.repeat(32);
    const b = await jetStreamSink({ servers: servers.urls, stream: 'S', subject: 'logs.shared' });
    await assert.rejects(b.lastForwarded(other), (e) => isWalError(e, WalErrorCodes.FORWARD_WRONG_SUBJECT));
    await b.close();
  });

  test("a record over the stream's max_msg_size is ERR_WAL_FORWARD_MESSAGE_TOO_LARGE, without a retry", async () => {
    const sink = await jetStreamSink({ servers: servers.urls, stream: 'S', subject: 'logs.big' });
    assert.ok(sink.maxBatchBytes < 64 * 1024);
    await sink.lastForwarded(LOG);
    await assert.rejects(sink.send(recs(1, 1, 64 * 1024)), (e) => isWalError(e, WalErrorCodes.FORWARD_MESSAGE_TOO_LARGE));
    assert.equal(sink.stats().publishes, 0);
    await sink.close();
    assert.deepEqual((await readBack(nc, 'S', 'logs.big')).batches, []);
  });
});

describe('JetStream sink, server with credentials', () => {
  let servers: Servers;
  before(async () => {
    servers = await startServer({
      extraConfig: 'authorization { users: [ { user: fwd, password: right } ] }',
      connectOptions: { user: 'fwd', pass: 'right' },
    });
    await servers.addStream({ name: 'A', subjects: ['a.>'] });
  });
  after(async () => servers?.stop());

  test('wrong credentials are ERR_WAL_FORWARD_AUTH, not an endless retry', async () => {
    const t0 = Date.now();
    await assert.rejects(
      jetStreamSink({ servers: servers.urls, stream: 'A', subject: 'a.x', connectOptions: { user: 'fwd', pass: 'wrong' } }),
      (e) => isWalError(e, WalErrorCodes.FORWARD_AUTH),
    );
    assert.ok(Date.now() - t0 < 10000);
    const ok = await jetStreamSink({ servers: servers.urls, stream: 'A', subject: 'a.x', connectOptions: { user: 'fwd', pass: 'right' } });
    await ok.close();
  });
});
