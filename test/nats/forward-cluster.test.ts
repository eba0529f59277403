/**
 * A 3-node JetStream cluster (three nats-server processes on loopback) and an R3 stream: while a
 * producer appends and the forwarder runs, kill -9 one node (a follower), restart it, then kill -9
 * the stream's current leader, restart it. Afterwards the subject holds every record exactly once,
 * in order, with its bytes; the sink's retries show it lived through the outages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from 'nats';
import { forward } from '../../src/forward/forward';
import { jetStreamSink } from '../../src/jetstream';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { assertExactlyOnce, cleanupAfter, lastIndexOn, produce, until } from './support/forwarding';
import { startCluster } from './support/nats-servers';
import type { Servers } from './support/nats-servers';

const N = Number(process.env['FORWARD_CLUSTER_RECORDS'] ?? 200_000);

describe('forwarding to a 3-node cluster, R3 stream', () => {
  let servers: Servers;
  let nc: NatsConnection;
  before(async () => {
    servers = await startCluster();
    await servers.addStream({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 });
    nc = await servers.connect();
  });
  after(async () => {
    await nc?.close();
    await servers?.stop();
  });

  test(`kill -9 a follower, then the stream leader, while forwarding ${N} records: exactly once, in order`, async (t) => {
    const log = await Log.open(tempDir('nodewal-fwdc-'));
    const sink = await jetStreamSink({
      servers: servers.urls,
      stream: 'R3',
      subject: 'r3.log',
      requestTimeoutMs: 2000,
      backoff: { maxMs: 500 },
    });
    const fw = await forward(log, { consumer: 'js', sink });
    cleanupAfter(t, fw, sink, log);
    // Paced over about 12 s, so that both kills land while records are still coming.
    const producer = produce(log, N, 500, Math.max(1, (12000 * 500) / N));
    const forwarded = async (): Promise<bigint> => fw.stats().lastForwarded;

    await until(async () => (await forwarded()) > BigInt(N / 10), 60000, 'first tenth forwarded');
    const leader = await servers.leaderOf('R3');
    const follower = servers.nodes.find((n) => n !== leader)!;
    await follower.kill();
    const mark1 = await forwarded();
    await until(async () => (await forwarded()) > mark1 + BigInt(N / 10), 60000, 'progress with a follower down');
    await follower.start();

    await until(async () => (await forwarded()) > BigInt((4 * N) / 10), 60000, 'four tenths forwarded');
    // The restarted follower must have caught up: killing the leader before leaves no quorum.
    await servers.replicasCurrent('R3');
    const current = await servers.leaderOf('R3');
    await current.kill();
    const mark2 = await forwarded();
    assert.ok(mark2 < BigInt(N), 'the leader died while forwarding');
    const target = mark2 + BigInt(N / 20) < BigInt(N) ? mark2 + BigInt(N / 20) : BigInt(N);
    await until(async () => (await forwarded()) >= target, 60000, 'progress after the leader died');
    await current.start();

    await producer;
    await until(async () => (await forwarded()) === BigInt(N), 120000, 'everything forwarded');
    await fw.stop();
    const s = sink.stats();
    console.log(
      `# cluster: ${N} records, ${s.publishes} publishes, ${s.retries} retries, ${s.resyncs} resyncs, ${s.duplicates} duplicates, ${s.reconnects} reconnects`,
    );
    assert.equal(await lastIndexOn(nc, 'R3', 'r3.log'), BigInt(N));
    await assertExactlyOnce(nc, 'R3', 'r3.log', log.id, N);
    await sink.close();
    await log.close();
  });
});
