/**
 * `wal stat`'s forward section: what each `wal forward` sidecar last reported (its status file),
 * with how long ago, so a stopped or stuck forwarder shows as such.
 */
import { readStatuses } from './forward-status';
import type { Output } from './output';
import { formatBytes, grouped } from './output';

export function renderForward(out: Output, dir: string, now = Date.now()): void {
  const statuses = readStatuses(dir);
  if (statuses.length === 0) return;
  out.line('  forward:');
  for (const s of statuses) {
    const age = Math.max(0, Math.round((now - Date.parse(s.updatedAt)) / 1000));
    const state =
      s.state === 'running' && age > 10
        ? `${s.state}? (no report for ${age} s: pid ${s.pid} stopped?)`
        : `${s.state} (${age} s ago, pid ${s.pid})`;
    out.line(`    consumer ${s.consumer} -> ${s.servers} stream ${s.stream} subject ${s.subject}: ${state}`);
    out.line(
      `      forwarded ${grouped(s.forwardedRecords)} records (${formatBytes(s.forwardedBytes)}) in ${grouped(s.forwardedBatches)} batches since ${s.startedAt}; ` +
        `last index ${s.lastForwarded}, committed ${s.committed}, lag ${s.lagRecords} records (${formatBytes(s.lagBytes)}), ` +
        `in flight ${s.inFlightBatches}, ack p50 ${(s.ackLatencyP50Us / 1000).toFixed(1)} ms p99 ${(s.ackLatencyP99Us / 1000).toFixed(1)} ms`,
    );
    if (s.error !== null) out.line(`      ${out.paint('red', 'error')}: ${s.error}`);
    out.record({ kind: 'forward', ...s, reportAgeSeconds: age });
  }
}
