/** Public exports only. */
export { WalError, WalErrorCodes, isWalError } from './errors';
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
export type { WalOptions, ReadAllResult, WalErrorWithResult } from './etcd/wal';
export { RecordType, encodeEntry, decodeEntry, encodeHardState, decodeHardState, encodeSnapshot, decodeSnapshot, encodeConfState, decodeConfState, encodeRecord, decodeRecord, isEmptyHardState } from './etcd/codec';
export type { Entry, HardState, Snapshot, ConfState, WalRecord } from './etcd/codec';
