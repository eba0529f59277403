/**
 * Load generator for the ingestion example. Bounded on purpose: it only talks to a loopback address
 * (127.0.0.0/8, ::1 or localhost), sends at most --count requests (≤ 1,000,000) and stops after
 * --seconds (≤ 60), whichever comes first.
 *
 *   node --import tsx examples/http-ingest/load.ts --url http://127.0.0.1:8080 \
 *     [--count 10000] [--concurrency 32] [--seconds 10] [--size 100]
 *
 * Prints one JSON line: requests sent, acknowledged (201), failed, records/s and latency percentiles.
 */
import * as http from 'node:http';
import { parseArgs } from 'node:util';

export const MAX_COUNT = 1_000_000;
export const MAX_SECONDS = 60;

export interface LoadOptions {
  url: string;
  count: number;
  concurrency: number;
  seconds: number;
  /** Bytes per record (the body is `<n>:` padded with 'x'). */
  size: number;
}

export interface LoadResult {
  sent: number;
  acked: number;
  failed: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
}

/** Throws unless `url` is http:// on a loopback host. */
export function checkLoopback(url: string): URL {
  const u = new URL(url);
  if (u.protocol !== 'http:') throw new Error(`only http:// URLs, got ${u.protocol}`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (!loopback) throw new Error(`refusing to send load to ${host}: this script only targets loopback addresses`);
  return u;
}

function post(agent: http.Agent, target: URL, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: target.hostname, port: target.port, path: '/records', method: 'POST', headers: { 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const target = checkLoopback(opts.url);
  if (!(Number.isInteger(opts.count) && opts.count >= 1 && opts.count <= MAX_COUNT)) {
    throw new RangeError(`--count must be an integer in [1, ${MAX_COUNT}]`);
  }
  if (!(opts.seconds > 0 && opts.seconds <= MAX_SECONDS)) throw new RangeError(`--seconds must be in (0, ${MAX_SECONDS}]`);
  if (!(Number.isInteger(opts.concurrency) && opts.concurrency >= 1 && opts.concurrency <= 1024)) {
    throw new RangeError('--concurrency must be an integer in [1, 1024]');
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const deadline = performance.now() + opts.seconds * 1000;
  const latencies: number[] = [];
  let next = 0;
  let acked = 0;
  let failed = 0;
  const started = performance.now();

  const client = async (): Promise<void> => {
    while (next < opts.count && performance.now() < deadline) {
      const n = next++;
      const head = `${n}:`;
      const body = Buffer.from(head.padEnd(Math.max(opts.size, head.length), 'x'));
      const t0 = performance.now();
      try {
        const status = await post(agent, target, body);
        if (status === 201) {
          acked++;
          latencies.push(performance.now() - t0);
        } else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  agent.destroy();
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    sent: next,
    acked,
    failed,
    seconds: round(seconds),
    perSecond: Math.round(acked / seconds),
    latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1) ?? 0) },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      count: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '32' },
      seconds: { type: 'string', default: '10' },
      size: { type: 'string', default: '100' },
    },
  });
  const result = await runLoad({
    url: values.url,
    count: Number(values.count),
    concurrency: Number(values.concurrency),
    seconds: Number(values.seconds),
    size: Number(values.size),
  });
  console.log(JSON.stringify(result));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
