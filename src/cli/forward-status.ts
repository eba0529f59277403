/**
 * What a running `wal forward` tells the world about itself: `forward.<consumer>.tmp` in the log
 * directory, rewritten (write + rename, not synced: it is a report, not state) about once a
 * second, read by `wal stat`'s forward section. Named *.tmp because etcd and the Log ignore those.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ForwardStats } from '../forward/forward';

export interface ForwardStatus {
  consumer: string;
  servers: string;
  stream: string;
  subject: string;
  pid: number;
  startedAt: string;
  updatedAt: string;
  state: string;
  forwardedRecords: number;
  forwardedBytes: number;
  forwardedBatches: number;
  inFlightBatches: number;
  lastForwarded: string;
  committed: string;
  lagRecords: string;
  lagBytes: number;
  ackLatencyP50Us: number;
  ackLatencyP99Us: number;
  resumedAfter: string;
  resumedFrom: string;
  retries: number;
  reconnects: number;
  error: string | null;
}

export const statusFileName = (consumer: string): string => `forward.${consumer}.tmp`;

/** The status line for `stats` (bigints as decimal strings, so the file is plain JSON). */
export function toStatus(
  base: Pick<ForwardStatus, 'consumer' | 'servers' | 'stream' | 'subject' | 'startedAt'>,
  s: ForwardStats,
  sink: { retries: number; reconnects: number },
): ForwardStatus {
  return {
    ...base,
    pid: process.pid,
    updatedAt: new Date().toISOString(),
    state: s.state,
    forwardedRecords: s.forwardedRecords,
    forwardedBytes: s.forwardedBytes,
    forwardedBatches: s.forwardedBatches,
    inFlightBatches: s.inFlightBatches,
    lastForwarded: s.lastForwarded.toString(),
    committed: s.committed.toString(),
    lagRecords: s.lagRecords.toString(),
    lagBytes: s.lagBytes,
    ackLatencyP50Us: Math.round(s.ackLatency.p50),
    ackLatencyP99Us: Math.round(s.ackLatency.p99),
    resumedAfter: s.resumedAfter.toString(),
    resumedFrom: s.resumedFrom,
    retries: sink.retries,
    reconnects: sink.reconnects,
    error: s.error === null ? null : `${(s.error as { code?: string }).code ?? s.error.name}: ${s.error.message}`,
  };
}

export function writeStatus(dir: string, status: ForwardStatus): void {
  const file = path.join(dir, statusFileName(status.consumer));
  fs.writeFileSync(`${file}.new`, `${JSON.stringify(status)}\n`);
  fs.renameSync(`${file}.new`, file);
}

/** Every forward status file in `dir` that parses (a torn or foreign one is skipped). */
export function readStatuses(dir: string): ForwardStatus[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: ForwardStatus[] = [];
  for (const n of names.filter((x) => /^forward\..+\.tmp$/.test(x)).sort()) {
    try {
      const s = JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as ForwardStatus;
      if (typeof s.consumer === 'string' && typeof s.lastForwarded === 'string') out.push(s);
    } catch {
      // being rewritten or not ours
    }
  }
  return out;
}
