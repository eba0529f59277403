/** Public exports only. */
export { WalError, WalAbortError, WalErrorCodes, isWalError } from './errors';
export type { WalErrorCode, WalErrorDetails } from './errors';
export { backend } from './io/backend';
export type { IoBackend, WalFile, OpenOptions, WriteOptions } from './io/types';
export { crc32c } from './crc32c';
export { LevelDBLogWriter, encodeLevelDBRecords } from './leveldb/writer';
export type { LevelDBLogWriterOptions, LevelDBAddOptions } from './leveldb/writer';
export { LevelDBLogReader, readLevelDBLog } from './leveldb/reader';
export type { LevelDBRecord, LevelDBCorruption, LevelDBReadOptions } from './leveldb/reader';
export { decodeWriteBatch, encodeWriteBatch } from './leveldb/write-batch';
export type { WriteBatch, WriteBatchOp } from './leveldb/write-batch';
export { BLOCK_SIZE as LEVELDB_BLOCK_SIZE, maskCrc as leveldbMaskCrc, unmaskCrc as leveldbUnmaskCrc } from './leveldb/format';
export { WAL, DEFAULT_SEGMENT_SIZE_BYTES } from './etcd/wal';
export type { WalOptions, ReadAllResult, WalErrorWithResult, SnapshotPosition } from './etcd/wal';
export {
  RecordType,
  encodeEntry,
  decodeEntry,
  encodeHardState,
  decodeHardState,
  encodeSnapshot,
  decodeSnapshot,
  encodeConfState,
  decodeConfState,
  encodeRecord,
  decodeRecord,
  isEmptyHardState,
} from './etcd/codec';
export type { Entry, HardState, Snapshot, ConfState, WalRecord } from './etcd/codec';
export { Log } from './log/log';
export type {
  LogEntry,
  EntriesRange,
  TailOptions,
  TailBatchOptions,
  AppendOptions,
  WaitOptions,
  LogStats,
  LogStatsJSON,
  SlowSyncEvent,
} from './log/log';
export type { IndexArg } from './index-arg';
export { Consumer } from './log/consumer';
export type { ConsumerInfo, ConsumerOptions, ConsumerReadOptions } from './log/consumer';
export { ConsumerGapError, ConsumerTruncatedError } from './log/consumer-errors';
export { DEFAULT_LOG_OPTIONS } from './log/options';
export type { LogOptions, SyncPolicy, Preallocation } from './log/options';
export type { LockOptions } from './lock/options';
export type { LatencySummary } from './log/histogram';
export { registerLogMetrics, LOG_METRIC_FAMILIES, FSYNC_BUCKETS_SECONDS } from './metrics/log-metrics';
export type { LogMetricsOptions, ConsumerPosition } from './metrics/log-metrics';
export { registerMetricsSource } from './metrics/bridge';
export type { MetricFamily, MetricsSource, MetricsRegistration, Sample, BridgeOptions, PromClient, PromRegistry } from './metrics/bridge';
export { forward } from './forward/forward';
export type { Forwarder, ForwardOptions, ForwardStats, ForwardState, ForwardConsumer, ForwardSource } from './forward/forward';
export type { Sink, SinkRecord } from './forward/sink';
export {
  encodeBatch,
  encodeBatchBody,
  decodeBatch,
  batchRange,
  encodedRecordSize,
  BATCH_HEADERS,
  BATCH_FORMAT,
  BATCH_HEADER_RESERVE,
} from './forward/batch';
export type { BatchRecord, EncodedBatch, DecodedBatch, HeaderSource } from './forward/batch';
export { BatchBody } from './forward/batch-body';
