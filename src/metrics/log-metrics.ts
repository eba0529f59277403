/**
 * Prometheus metrics of a Log, for prom-client: `registerLogMetrics(log, { registry })`.
 * Names follow Prometheus conventions (base units, `_total` for counters) and etcd's where etcd has
 * one (`etcd_disk_wal_fsync_duration_seconds` -> `nodewal_log_fsync_duration_seconds`). The names
 * and what they measure are listed in docs/metrics.md.
 */
import type { Log, SlowSyncEvent } from '../log/log';
import { registerMetricsSource, type BridgeOptions, type MetricFamily, type MetricsRegistration, type Sample } from './bridge';

/**
 * fsync buckets in seconds: 100 µs doubling up to ~6.5 s. etcd's start at 1 ms, but a batch's
 * write+fdatasync here is typically 0.15-0.4 ms (docs/log.md), which would all land in one bucket.
 */
export const FSYNC_BUCKETS_SECONDS: readonly number[] = Object.freeze(Array.from({ length: 17 }, (_, k) => 0.0001 * 2 ** k));

const L = ['log'] as const;

/** The families `registerLogMetrics` reports (each with the label `log`; consumer lag adds `consumer`). */
export const LOG_METRIC_FAMILIES: readonly MetricFamily[] = Object.freeze([
  {
    name: 'nodewal_log_appended_records_total',
    help: 'Records appended (written) since the log was opened.',
    type: 'counter',
    labelNames: L,
  },
  {
    name: 'nodewal_log_appended_bytes_total',
    help: 'Data bytes of the records appended since the log was opened.',
    type: 'counter',
    labelNames: L,
  },
  { name: 'nodewal_log_batches_total', help: 'Write calls that carried records (group commits).', type: 'counter', labelNames: L },
  {
    name: 'nodewal_log_fsyncs_total',
    help: 'fdatasync calls (per batch under syncPolicy always, plus syncs and segment cuts).',
    type: 'counter',
    labelNames: L,
  },
  { name: 'nodewal_log_slow_fsyncs_total', help: 'fdatasyncs slower than the slowSyncMs option.', type: 'counter', labelNames: L },
  {
    name: 'nodewal_log_fsync_duration_seconds',
    help: 'Latency of write+fdatasync (or fdatasync alone) of the log.',
    type: 'histogram',
    labelNames: L,
    buckets: FSYNC_BUCKETS_SECONDS,
  },
  { name: 'nodewal_log_queue_depth', help: 'Records accepted but not yet written.', type: 'gauge', labelNames: L },
  { name: 'nodewal_log_queued_bytes', help: 'Data bytes accepted but not yet written.', type: 'gauge', labelNames: L },
  { name: 'nodewal_log_blocked_appends', help: 'Appends waiting for queue space (backpressure).', type: 'gauge', labelNames: L },
  { name: 'nodewal_log_segments', help: 'Segment files of the log.', type: 'gauge', labelNames: L },
  { name: 'nodewal_log_first_index', help: 'Index of the first readable entry.', type: 'gauge', labelNames: L },
  { name: 'nodewal_log_last_index', help: 'Index of the last entry written.', type: 'gauge', labelNames: L },
  { name: 'nodewal_log_durable_index', help: 'Index of the last entry known durable (fdatasynced).', type: 'gauge', labelNames: L },
  {
    name: 'nodewal_log_consumer_lag_records',
    help: 'Entries written to the log that a consumer has not yet processed (last index minus the consumer position).',
    type: 'gauge',
    labelNames: ['log', 'consumer'],
  },
]);

/** A consumer's position for the lag metric: the last index it has processed. */
export interface ConsumerPosition {
  name: string;
  index: bigint | number;
}

export interface LogMetricsOptions extends BridgeOptions {
  /** Value of the `log` label (default: the log's directory). Tell logs in one registry apart by it. */
  name?: string;
  /** Positions of the consumers to report `nodewal_log_consumer_lag_records` for, read at each scrape. */
  consumers?: () => Iterable<ConsumerPosition>;
}

/**
 * Reports `log` in a prom-client registry (default: prom-client's global registry). Counters and
 * gauges are read from `log.stats()` at scrape time; the fsync histogram is fed by every fsync.
 * Call `unregister()` to stop (before or after closing the log); the families stay registered for other logs.
 * Throws ERR_WAL_MISSING_DEPENDENCY when prom-client is not installed and no `client` is given.
 */
export function registerLogMetrics(log: Log, options: LogMetricsOptions = {}): MetricsRegistration {
  const labels = { log: options.name ?? log.dir };
  const consumers = options.consumers;
  const source = {
    *collect(): Iterable<Sample> {
      const s = log.stats();
      const v = (name: string, value: number | bigint): Sample => ({ name, labels, value: Number(value) });
      yield v('nodewal_log_appended_records_total', s.appends);
      yield v('nodewal_log_appended_bytes_total', s.bytes);
      yield v('nodewal_log_batches_total', s.batches);
      yield v('nodewal_log_fsyncs_total', s.fsyncs);
      yield v('nodewal_log_slow_fsyncs_total', slow);
      yield v('nodewal_log_queue_depth', s.queueDepth);
      yield v('nodewal_log_queued_bytes', s.queuedBytes);
      yield v('nodewal_log_blocked_appends', s.blockedAppends);
      yield v('nodewal_log_segments', s.segments);
      yield v('nodewal_log_first_index', s.firstIndex);
      yield v('nodewal_log_last_index', s.lastIndex);
      yield v('nodewal_log_durable_index', s.durableIndex);
      if (consumers !== undefined) {
        for (const c of consumers()) {
          const lag = Math.max(0, Number(s.lastIndex) - Number(c.index));
          yield { name: 'nodewal_log_consumer_lag_records', labels: { ...labels, consumer: c.name }, value: lag };
        }
      }
    },
  };
  let slow = 0;
  const reg = registerMetricsSource(LOG_METRIC_FAMILIES, source, options);
  const onFsync = (e: SlowSyncEvent): void => reg.observe('nodewal_log_fsync_duration_seconds', labels, e.durationMs / 1000);
  const onSlow = (): void => void slow++;
  log.on('fsync', onFsync);
  log.on('slowSync', onSlow);
  return {
    observe: reg.observe,
    unregister() {
      log.off('fsync', onFsync);
      log.off('slowSync', onSlow);
      reg.unregister();
    },
  };
}
