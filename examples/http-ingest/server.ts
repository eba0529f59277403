/**
 * An HTTP ingestion endpoint that acknowledges a request only once its record is durable.
 *
 *   POST /records        body = one record (≤ --max-bytes)  → 201 {"index":"42"} once fdatasync'd
 *   GET  /records/:index → the record's bytes (404 when not in the log)
 *   GET  /stats          → Log.stats() as JSON (batches, fsyncs, fsync latency percentiles, queue)
 *
 * Every POST calls `log.append(body)`. With the default `syncPolicy: 'always'` that promise resolves
 * only after the batch holding the record was written and fdatasync'd, and concurrent requests
 * share one fdatasync (group commit), so throughput grows with concurrency while each 201 still
 * means "on disk". A failed append answers 503 with the WalError code, never 201.
 *
 * Run:   node --import tsx examples/http-ingest/server.ts --dir /tmp/ingest [--port 8080]
 * Load:  node --import tsx examples/http-ingest/load.ts --url http://127.0.0.1:8080 --count 10000
 *
 * It listens on 127.0.0.1 by default (--host to change it) and prints one JSON line
 * {"listening": {"host", "port"}, "backend": …} once it accepts connections (--port 0 = any free port).
 */
import * as http from 'node:http';
import { parseArgs } from 'node:util';
// In your own project: import { Log, isWalError, backend } from 'nodewal';
import { Log, backend, isWalError } from '../../src/index';

export interface IngestServerOptions {
  dir: string;
  host?: string;
  port?: number;
  /** Largest request body accepted, in bytes (413 above it). Default 1 MiB. */
  maxBytes?: number;
}

export interface IngestServer {
  server: http.Server;
  log: Log;
  port: number;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function errorBody(err: unknown): { error: string; code?: string } {
  return isWalError(err) ? { error: err.message, code: err.code } : { error: String(err) };
}

/** Reads the body, or answers 413 (and closes the connection) and resolves null above `maxBytes`. */
function readBody(req: http.IncomingMessage, res: http.ServerResponse, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return; // discard the rest; the connection closes after the 413
      size += chunk.length;
      if (size > maxBytes) {
        tooLarge = true;
        chunks.length = 0;
        res.setHeader('connection', 'close');
        send(res, 413, { error: `body exceeds ${maxBytes} bytes` });
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** Opens (or creates) the Log in `dir` and starts the HTTP server on it. */
export async function startIngestServer(opts: IngestServerOptions): Promise<IngestServer> {
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  const log = await Log.open(opts.dir, { syncPolicy: 'always' });

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/records') {
      readBody(req, res, maxBytes).then(
        async (body) => {
          if (body === null) return;
          try {
            const index = await log.append(body); // resolves once the record is durable
            send(res, 201, { index: index.toString() });
          } catch (err) {
            send(res, 503, errorBody(err));
          }
        },
        () => res.destroy(),
      );
      return;
    }
    const match = /^\/records\/(\d+)$/.exec(url.pathname);
    if (req.method === 'GET' && match) {
      const index = BigInt(match[1]!);
      if (index < log.firstIndex || index > log.lastIndex) {
        send(res, 404, { error: `no record ${index}` });
        return;
      }
      log.get(index).then(
        (data) => {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
          res.end(data);
        },
        (err: unknown) => send(res, 500, errorBody(err)),
      );
      return;
    }
    if (req.method === 'GET' && url.pathname === '/stats') {
      send(res, 200, JSON.parse(JSON.stringify(log.stats(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))));
      return;
    }
    send(res, 404, { error: 'POST /records, GET /records/:index or GET /stats' });
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    server,
    log,
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await log.close(); // writes and syncs anything still queued
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'max-bytes': { type: 'string', default: String(1024 * 1024) },
    },
  });
  if (!values.dir) {
    console.error('usage: server.ts --dir DIR [--host 127.0.0.1] [--port 0] [--max-bytes 1048576]');
    process.exit(2);
  }
  const s = await startIngestServer({
    dir: values.dir,
    host: values.host,
    port: Number(values.port),
    maxBytes: Number(values['max-bytes']),
  });
  console.log(JSON.stringify({ listening: { host: values.host, port: s.port }, dir: values.dir, backend: backend.kind }));
  const stop = (): void => {
    s.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
