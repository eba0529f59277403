/**
 * An ingestion service whose HTTP acks are local-durable and whose records reach a JetStream
 * stream exactly once: the http-ingest endpoint (201 only after `log.append()` resolved, i.e. after
 * fdatasync) plus `forward()` with the JetStream sink in the same process.
 *
 *   POST /records   → 201 {"index":"42"} once the record is on the local disk
 *   GET  /forward   → the forwarder's stats: forwarded records/bytes, in flight, ack p50/p99, lag
 *   GET  /stats     → Log.stats()
 *
 * Run:  node --import tsx examples/jetstream-ingest/service.ts --dir /var/lib/ingest/wal \
 *         --nats nats://127.0.0.1:4222 --stream INGEST --subject ingest.host-a [--port 8080]
 *
 * If NATS is down, requests are still acknowledged (the log spools them) and the forwarder catches
 * up when it is back. SIGINT/SIGTERM: stop the HTTP server, let the forwarder commit what the
 * stream acknowledged, close the log.
 */
import type * as http from 'node:http';
import { parseArgs } from 'node:util';
// In your own project: import { forward } from 'nodewal'; import { jetStreamSink } from 'nodewal/jetstream';
import { forward } from '../../src/index';
import type { Forwarder } from '../../src/index';
import { jetStreamSink } from '../../src/jetstream';
import type { JetStreamSink } from '../../src/jetstream';
import { startIngestServer } from '../http-ingest/server';
import type { IngestServer } from '../http-ingest/server';

export interface ServiceOptions {
  dir: string;
  nats: string;
  stream: string;
  subject: string;
  host?: string;
  port?: number;
}

export interface Service {
  ingest: IngestServer;
  sink: JetStreamSink;
  forwarder: Forwarder;
  close(): Promise<void>;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const ingest = await startIngestServer({ dir: opts.dir, host: opts.host, port: opts.port });
  const sink = await jetStreamSink({ servers: opts.nats.split(','), stream: opts.stream, subject: opts.subject });
  const forwarder = await forward(ingest.log, { consumer: 'jetstream', sink });
  // One more route in front of the ingest server's own.
  const routes = ingest.server.listeners('request') as ((req: http.IncomingMessage, res: http.ServerResponse) => void)[];
  ingest.server.removeAllListeners('request');
  ingest.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.method !== 'GET' || req.url !== '/forward') {
      for (const route of routes) route(req, res);
      return;
    }
    const body = JSON.stringify(forwarder.stats(), (_, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Error ? v.message : v,
    );
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  return {
    ingest,
    sink,
    forwarder,
    async close() {
      // The forwarder first (it commits what the stream acknowledged), then the HTTP server and the log.
      await forwarder.stop();
      await sink.close();
      await ingest.close();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
      stream: { type: 'string', default: 'INGEST' },
      subject: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8080' },
    },
  });
  if (!values.dir || !values.subject) throw new Error('usage: service.ts --dir DIR --subject SUBJECT [--nats URL] [--stream S] [--port P]');
  const svc = await startService({
    dir: values.dir,
    nats: values.nats!,
    stream: values.stream!,
    subject: values.subject,
    host: values.host,
    port: Number(values.port),
  });
  console.log(
    JSON.stringify({
      listening: { host: values.host, port: svc.ingest.port },
      stream: values.stream,
      subject: values.subject,
      logId: svc.ingest.log.id,
    }),
  );
  svc.forwarder.done.catch((err: unknown) => {
    console.error(`forwarder stopped: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
    process.exitCode = 1;
  });
  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    void svc.close().then(() => process.exit());
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
