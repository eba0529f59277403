/**
 * Shared pieces of the forwarder tests: deterministic record payloads (so every record's bytes can
 * be checked one by one after the fact), a log filler, and the exactly-once check of what a
 * subject holds against what the log holds.
 */
import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import type { Log } from '../../../src/log/log';
import { readBack } from './read-back';

/** Record `i`'s bytes: its index, then a length and filler that depend on it. */
export function payload(i: number, base = 100): Buffer {
  const len = base + ((i * 7919) % 61);
  const b = Buffer.alloc(len, i & 0xff);
  b.writeUInt32BE(i >>> 0, 0);
  return b;
}

export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The subject holds log `logId`'s records 1..n exactly once, in index order, each with its bytes. */
export async function assertExactlyOnce(
  nc: NatsConnection,
  stream: string,
  subject: string,
  logId: string,
  n: number,
  bytesOf: (i: number) => Uint8Array = payload,
): Promise<{ batches: number }> {
  const back = await readBack(nc, stream, subject);
  assert.ok(
    back.batches.every((b) => b.logId === logId),
    'every batch names the log',
  );
  assert.equal(back.records.length, n, `${back.records.length} records on ${subject}, expected ${n}`);
  for (let k = 0; k < back.records.length; k++) {
    const r = back.records[k]!;
    if (r.index !== BigInt(k + 1)) assert.fail(`record ${k} on ${subject} has index ${r.index}, expected ${k + 1}`);
    const want = bytesOf(k + 1);
    if (Buffer.compare(Buffer.from(r.data), Buffer.from(want)) !== 0) assert.fail(`record ${k + 1} on ${subject}: bytes differ`);
  }
  return { batches: back.batches.length };
}

/** The subject's last index, read through the package decoder (0 when empty). */
export async function lastIndexOn(nc: NatsConnection, stream: string, subject: string): Promise<bigint> {
  const jsm = await nc.jetstreamManager();
  try {
    const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    return BigInt(m.header.get('Wal-Last-Index'));
  } catch (err) {
    if ((err as { api_error?: { err_code?: number } }).api_error?.err_code === 10037) return 0n;
    throw err;
  }
}

/** Appends records 1..n (payload(i)) in concurrent groups of `group`, pausing `pauseMs` between groups. */
export async function produce(log: Log, n: number, group: number, pauseMs: number): Promise<void> {
  for (let done = 0; done < n;) {
    const k = Math.min(group, n - done);
    const base = done;
    await Promise.all(Array.from({ length: k }, (_, i) => log.append(payload(base + i + 1))));
    done += k;
    await new Promise((r) => (pauseMs > 0 ? setTimeout(r, pauseMs) : setImmediate(r)));
  }
}

/** Stops what a test started even when it fails, so a failed test never keeps its file running. */
export function cleanupAfter(
  t: { after(fn: () => Promise<void>): void },
  ...items: ({ stop(o?: { graceMs?: number }): Promise<void> } | { close(): Promise<void> } | { kill(signal?: NodeJS.Signals): boolean })[]
): void {
  t.after(async () => {
    for (const item of items) {
      if ('stop' in item) await item.stop({ graceMs: 100 }).catch(() => undefined);
      else if ('close' in item) await item.close().catch(() => undefined);
      else item.kill('SIGKILL');
    }
  });
}
