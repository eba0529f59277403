/**
 * examples/jetstream-ingest: the stream is created with the example's own setup script, the service
 * runs on an ephemeral port, records are POSTed over HTTP; every acknowledged record reaches the
 * stream exactly once, in order, with its bytes, and /forward reports it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from 'nats';
import { startService } from '../../examples/jetstream-ingest/service';
import { tempDir } from '../support/tmp';
import { readBack } from './support/read-back';
import { until } from './support/forwarding';
import { startServer } from './support/nats-servers';
import type { Servers } from './support/nats-servers';

describe('examples/jetstream-ingest', () => {
  let servers: Servers;
  let nc: NatsConnection;
  before(async () => {
    servers = await startServer();
    nc = await servers.connect();
  });
  after(async () => {
    await nc?.close();
    await servers?.stop();
  });

  test('HTTP 201s are local-durable and every acknowledged record reaches the stream once', async () => {
    const setup = path.join(__dirname, '..', '..', 'examples', 'jetstream-ingest', 'setup-stream.ts');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', setup, '--nats', servers.urls[0]!, '--stream', 'INGEST', '--subjects', 'ingest.>'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).stream, 'INGEST');
    const svc = await startService({
      dir: tempDir('nodewal-jsi-'),
      nats: servers.urls[0]!,
      stream: 'INGEST',
      subject: 'ingest.a',
      port: 0,
    });
    try {
      const acked = new Map<bigint, string>();
      for (let g = 0; g < 10; g++) {
        await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const body = `record ${g}-${i}`;
            const res = await fetch(`http://127.0.0.1:${svc.ingest.port}/records`, { method: 'POST', body });
            assert.equal(res.status, 201);
            acked.set(BigInt(((await res.json()) as { index: string }).index), body);
          }),
        );
      }
      await until(
        async () => {
          const s = (await (await fetch(`http://127.0.0.1:${svc.ingest.port}/forward`)).json()) as { lastForwarded: string };
          return s.lastForwarded === '200';
        },
        20000,
        'forwarded',
      );
      const back = await readBack(nc, 'INGEST', 'ingest.a');
      assert.deepEqual(
        back.records.map((x) => x.index),
        Array.from({ length: 200 }, (_, i) => BigInt(i + 1)),
      );
      for (const x of back.records) assert.equal(Buffer.from(x.data).toString(), acked.get(x.index));
      assert.ok(back.batches.every((b) => b.logId === svc.ingest.log.id));
    } finally {
      await svc.close();
    }
  });
});
