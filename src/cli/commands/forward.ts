/**
 * `wal forward DIR --to nats://… --stream S --subject X`: the forwarder as a sidecar. It opens the
 * log read-only (the writer is another process), runs the durable consumer `--consumer`, and sends
 * its records to a JetStream stream exactly once (docs/forward.md). A progress line on a terminal,
 * `--json` status lines, a status file for `wal stat`; SIGTERM/SIGINT stop it cleanly, committing
 * what the stream acknowledged.
 */
import * as fs from 'node:fs';
import { COMMON_OPTIONS, UsageError, onePath } from '../args';
import type { Command, Context } from '../command';
import { EXIT } from '../command';
import { formatBytes, grouped } from '../output';
import { toStatus, writeStatus } from '../forward-status';
import type { ForwardStatus } from '../forward-status';
import { forward } from '../../forward/forward';
import type { ForwardSource } from '../../forward/forward';
import { Log } from '../../log/log';

export const forwardCommand: Command = {
  name: 'forward',
  help: `Usage: wal forward DIR --to nats://HOST:PORT --stream S --subject X [options]

Forwards the Log in DIR to the NATS JetStream stream S on subject X, exactly once: one message
per batch of records, resumed after the last index the stream holds for this log. Runs beside the
writer (DIR is opened read-only); stop it with SIGTERM or Ctrl-C: batches in flight are awaited and
what the stream acknowledged is committed. Needs the optional 'nats' package.

Options:
  --to URL[,URL...]   NATS server(s), e.g. nats://127.0.0.1:4222
  --stream S          the JetStream stream (must exist and capture --subject)
  --subject X         the subject for this log's batches (one subject per log)
  --consumer NAME     the durable consumer to run (default: forward)
  --start WHERE       where a new consumer starts: oldest (default) | newest
  --user U, --password P, --token T, --creds FILE
                      credentials (a .creds file holds a user JWT and nkey seed)
  --interval MS       status every MS milliseconds (default 1000)
  --json              one JSON status object per line (kind "forward-status", then "forward-stopped")
  --no-color          no colours
  -h, --help          this help

Exit status: 0 stopped by a signal, 1 a permanent error (missing stream, wrong subject, credentials,
an oversized record…: its ERR_WAL_* code is printed), 2 usage error.`,
  options: {
    ...COMMON_OPTIONS,
    to: { type: 'string' },
    stream: { type: 'string' },
    subject: { type: 'string' },
    consumer: { type: 'string' },
    start: { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
    token: { type: 'string' },
    creds: { type: 'string' },
    interval: { type: 'integer', min: 50 },
  },
  async run({ options, positionals }, ctx) {
    const dir = onePath('forward', positionals);
    const need = (name: string): string => {
      const v = options[name];
      if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
      return v;
    };
    const to = need('to');
    const stream = need('stream');
    const subject = need('subject');
    const consumer = (options['consumer'] as string | undefined) ?? 'forward';
    const start = (options['start'] as string | undefined) ?? 'oldest';
    if (start !== 'oldest' && start !== 'newest') throw new UsageError(`--start must be oldest or newest, got ${start}`);
    const startAt: 'oldest' | 'newest' = start;
    const interval = (options['interval'] as number | undefined) ?? 1000;

    // Loaded here, not at the top: `wal` works without the optional client for every other command.
    const { loadNats } = require('../../jetstream/client') as typeof import('../../jetstream/client');
    const connectOptions: Record<string, unknown> = { name: `wal forward ${consumer}` };
    if (options['user'] !== undefined) connectOptions['user'] = options['user'];
    if (options['password'] !== undefined) connectOptions['pass'] = options['password'];
    if (options['token'] !== undefined) connectOptions['token'] = options['token'];
    if (options['creds'] !== undefined) {
      connectOptions['authenticator'] = loadNats().credsAuthenticator(fs.readFileSync(options['creds'] as string));
    }

    // From here on a signal means "stop cleanly", also while still connecting.
    const stopping = new AbortController();
    const onSignal = (): void => stopping.abort();
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      return await runSidecar({ dir, to, stream, subject, consumer, start: startAt, interval, connectOptions }, ctx, stopping.signal);
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  },
};

interface SidecarParams {
  dir: string;
  to: string;
  stream: string;
  subject: string;
  consumer: string;
  start: 'oldest' | 'newest';
  interval: number;
  connectOptions: Record<string, unknown>;
}

async function runSidecar(p: SidecarParams, ctx: Context, stopping: AbortSignal): Promise<number> {
  const { dir, to, stream, subject, consumer, start, interval, connectOptions } = p;
  const { jetStreamSink } = require('../../jetstream') as typeof import('../../jetstream');
  const log: ForwardSource & { close(): Promise<void> } = await Log.open(dir, { readOnly: true });
  let sink;
  try {
    sink = await jetStreamSink({ servers: to.split(','), connectOptions, stream, subject, signal: stopping });
  } catch (err) {
    await log.close();
    if (stopping.aborted && (err as Error).name === 'AbortError') return EXIT.OK; // stopped while connecting
    throw err;
  }
  const base = { consumer, servers: to, stream, subject, startedAt: new Date().toISOString() };
  let fw;
  try {
    fw = await forward(log, { consumer, sink, start, signal: stopping });
  } catch (err) {
    await sink.close();
    await log.close();
    throw err;
  }
  const forwarder = fw;

  const tty = !ctx.out.json && process.stderr.isTTY === true && process.env['WAL_NO_PROGRESS'] === undefined;
  const report = (kind: 'forward-status' | 'forward-stopped'): ForwardStatus => {
    const status = toStatus(base, forwarder.stats(), sink.stats());
    try {
      writeStatus(dir, status);
    } catch {
      // a read-only directory: the status file is a convenience
    }
    if (ctx.out.json) {
      ctx.out.record({ kind, ...status });
      ctx.out.flush();
    } else if (tty) {
      process.stderr.write(`\r${progressLine(status)}\x1b[K`);
    }
    return status;
  };
  const timer = setInterval(() => report('forward-status'), interval);
  let failure: unknown = null;
  try {
    await forwarder.done;
  } catch (err) {
    failure = err;
  } finally {
    clearInterval(timer);
  }
  const final = report('forward-stopped');
  if (tty) process.stderr.write('\n');
  await sink.close();
  await log.close();
  if (failure !== null) throw failure;
  if (!ctx.out.json) {
    ctx.out.line(
      `stopped: ${grouped(final.forwardedRecords)} records (${formatBytes(final.forwardedBytes)}) forwarded in ${grouped(final.forwardedBatches)} batches; ` +
        `committed through ${final.committed}`,
    );
  }
  return EXIT.OK;
}

function progressLine(s: ForwardStatus): string {
  const ms = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 1 : 0);
  return (
    `forward → ${s.stream}/${s.subject}: ${grouped(s.forwardedRecords)} records (${formatBytes(s.forwardedBytes)}), ` +
    `last ${s.lastForwarded}, lag ${s.lagRecords}, in flight ${s.inFlightBatches}, ` +
    `ack p50 ${ms(s.ackLatencyP50Us)} ms p99 ${ms(s.ackLatencyP99Us)} ms${s.retries > 0 ? `, retries ${s.retries}` : ''}`
  );
}
