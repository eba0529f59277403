/**
 * The batch message: a run of consecutive log records travelling as one message, so a downstream
 * store pays one write (one replication round) per batch instead of per record. Headers name the
 * log and the index range, so the store itself says what was forwarded; the body is the records,
 * each a uvarint length then its bytes (indexes are implied: first, first+1, … last).
 *
 *   Wal-Batch-Format: 1
 *   Wal-Log-Id:       <log id>
 *   Wal-First-Index:  <first index, decimal>
 *   Wal-Last-Index:   <last index, decimal>
 *   Wal-Crc32c:       <CRC-32C of the body, 8 hex digits>
 *
 * `decodeBatch` is the downstream reader's half: it takes any header accessor (a NATS `MsgHdrs`,
 * a Map, a plain object) and gives the records back, or a typed ERR_WAL_BATCH_CORRUPT.
 */
import { crc32c } from '../crc32c';
import { WalError, WalErrorCodes } from '../errors';
import { BatchBody, encodedRecordSize } from './batch-body';

export { encodedRecordSize };

/** Header names of a batch message (exported so readers can filter or index on them). */
export const BATCH_HEADERS = {
  format: 'Wal-Batch-Format',
  logId: 'Wal-Log-Id',
  first: 'Wal-First-Index',
  last: 'Wal-Last-Index',
  crc: 'Wal-Crc32c',
} as const;

/** The only body layout so far; a reader refuses others rather than guess. */
export const BATCH_FORMAT = '1';

/** Bytes of batch headers beyond the variable parts, rounded up: what a sink reserves per message. */
export const BATCH_HEADER_RESERVE = 512;

/** One record as a batch carries it: the log it came from, its index there and its bytes. */
export interface BatchRecord {
  index: bigint;
  data: Uint8Array;
}

/** An encoded batch: the headers to send and the body. */
export interface EncodedBatch {
  logId: string;
  first: bigint;
  last: bigint;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** What `decodeBatch` gives back. `records[i].data` are views into the body (no copies). */
export interface DecodedBatch {
  logId: string;
  first: bigint;
  last: bigint;
  records: BatchRecord[];
}

/** Anything headers can be read from: NATS `MsgHdrs`/`Headers`/`Map` (`get`) or a plain object. */
export type HeaderSource = { get(name: string): string | null | undefined } | Record<string, string | undefined>;

/** Encodes consecutive records of log `logId` into one batch. Throws on an empty or non-consecutive run. */
export function encodeBatch(logId: string, records: readonly BatchRecord[]): EncodedBatch {
  if (records.length === 0) throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'encodeBatch: no records');
  checkLogId(logId, 'encodeBatch');
  const first = records[0]!.index;
  let size = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.index !== first + BigInt(i)) {
      throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `encodeBatch: record ${i} has index ${r.index}, expected ${first + BigInt(i)}`);
    }
    size += encodedRecordSize(r.data.length);
  }
  const body = new BatchBody(size, size);
  const from = Number(first);
  for (let i = 0; i < records.length; i++) body.add(from + i, records[i]!.data);
  return withHeaders(logId, first, records[records.length - 1]!.index, body.bytes);
}

/** The batch of a body `Consumer#readEncoded` filled (batch-body.ts), ready to send: no copy of the body. */
export function encodeBatchBody(logId: string, body: BatchBody): EncodedBatch {
  if (body.count === 0) throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'encodeBatchBody: no records');
  checkLogId(logId, 'encodeBatchBody');
  return withHeaders(logId, BigInt(body.first), BigInt(body.last), body.bytes);
}

function checkLogId(logId: string, fn: string): void {
  if (!/^[0-9A-Za-z_-]{1,128}$/.test(logId)) {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `${fn}: log id ${JSON.stringify(logId)} is not 1-128 of [0-9A-Za-z_-]`);
  }
}

function withHeaders(logId: string, first: bigint, last: bigint, body: Uint8Array): EncodedBatch {
  return {
    logId,
    first,
    last,
    body,
    headers: {
      [BATCH_HEADERS.format]: BATCH_FORMAT,
      [BATCH_HEADERS.logId]: logId,
      [BATCH_HEADERS.first]: first.toString(),
      [BATCH_HEADERS.last]: last.toString(),
      [BATCH_HEADERS.crc]: hex8(crc32c(body)),
    },
  };
}

/** Reads the headers only: which log and which index range a message holds (null: not a batch). */
export function batchRange(headers: HeaderSource): { logId: string; first: bigint; last: bigint } | null {
  const logId = header(headers, BATCH_HEADERS.logId);
  if (!logId) return null;
  const first = parseIndex(header(headers, BATCH_HEADERS.first), BATCH_HEADERS.first);
  const last = parseIndex(header(headers, BATCH_HEADERS.last), BATCH_HEADERS.last);
  if (last < first) throw corrupt(`${BATCH_HEADERS.last} ${last} is below ${BATCH_HEADERS.first} ${first}`);
  return { logId, first, last };
}

/** Decodes a batch message back into its records, checking format, CRC, count and bounds. */
export function decodeBatch(headers: HeaderSource, body: Uint8Array): DecodedBatch {
  const format = header(headers, BATCH_HEADERS.format);
  if (format !== BATCH_FORMAT)
    throw corrupt(`${BATCH_HEADERS.format} is ${JSON.stringify(format ?? null)}, this reader knows ${BATCH_FORMAT}`);
  const range = batchRange(headers);
  if (range === null) throw corrupt(`no ${BATCH_HEADERS.logId} header`);
  const crc = header(headers, BATCH_HEADERS.crc);
  if (crc !== undefined && crc !== '' && crc.toLowerCase() !== hex8(crc32c(body))) {
    throw corrupt(`body CRC-32C is ${hex8(crc32c(body))}, ${BATCH_HEADERS.crc} says ${crc}`);
  }
  const count = range.last - range.first + 1n;
  // Every record takes at least one byte: a count beyond the body is corrupt, not a huge allocation.
  if (count > BigInt(body.length)) throw corrupt(`${count} records cannot fit in ${body.length} bytes`, 0);
  const records: BatchRecord[] = new Array(Number(count));
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    let len = 0;
    let scale = 1;
    for (;;) {
      if (at >= body.length) throw corrupt(`record ${range.first + BigInt(i)}: length runs past the body`, at);
      const b = body[at++]!;
      len += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
      if (scale > 2 ** 35) throw corrupt(`record ${range.first + BigInt(i)}: length uvarint too long`, at);
    }
    if (len > body.length - at) throw corrupt(`record ${range.first + BigInt(i)}: ${len} bytes run past the body`, at);
    records[i] = { index: range.first + BigInt(i), data: body.subarray(at, at + len) };
    at += len;
  }
  if (at !== body.length) throw corrupt(`${body.length - at} bytes after the last record`, at);
  return { ...range, records };
}

function header(h: HeaderSource, name: string): string | undefined {
  const v =
    typeof (h as { get?: unknown }).get === 'function'
      ? (h as { get(n: string): string | null | undefined }).get(name)
      : (h as Record<string, string | undefined>)[name];
  return v === null || v === undefined || v === '' ? undefined : v;
}

function parseIndex(v: string | undefined, name: string): bigint {
  if (v === undefined || !/^[0-9]{1,20}$/.test(v)) throw corrupt(`${name} is ${JSON.stringify(v ?? null)}, not an index`);
  const n = BigInt(v);
  if (n < 1n || n > 0xffff_ffff_ffff_ffffn) throw corrupt(`${name} ${v} is out of range`);
  return n;
}

function corrupt(message: string, offset?: number): WalError {
  return new WalError(WalErrorCodes.BATCH_CORRUPT, `batch message: ${message}`, offset === undefined ? {} : { file: 'batch body', offset });
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
