/**
 * LevelDB WriteBatch: the payload of every record LevelDB writes to its log (db/write_batch.cc).
 *   sequence fixed64 | count fixed32 | op*   with op = 0x01 varint32 klen key varint32 vlen value
 *                                                   | 0x00 varint32 klen key
 */
import { MAX_VARINT32_BYTES, getUvarint32, putUvarint, scanUvarint, uvarintSize } from '../codec/varint';
import { WalError, WalErrorCodes } from '../errors';

/** One operation of a WriteBatch. Op i has sequence number `sequence + i`. */
export type WriteBatchOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'delete'; key: Uint8Array };

/** A decoded WriteBatch. */
export interface WriteBatch {
  /** Sequence number of the first op (fixed64, so a bigint). */
  sequence: bigint;
  ops: WriteBatchOp[];
}

const HEADER = 12;
const TAG_DELETION = 0x00;
const TAG_VALUE = 0x01;

function bad(message: string, offset: number): WalError {
  return new WalError(WalErrorCodes.BAD_WRITE_BATCH, message, { offset });
}

/**
 * Decodes a WriteBatch record. Throws `ERR_WAL_BAD_WRITE_BATCH` with LevelDB's own message
 * ('malformed WriteBatch (too small)', 'bad WriteBatch Put', 'bad WriteBatch Delete',
 * 'unknown WriteBatch tag', 'WriteBatch has wrong count'); `offset` is inside `data`.
 * Keys and values are views into `data`, not copies.
 */
export function decodeWriteBatch(data: Uint8Array): WriteBatch {
  if (data.length < HEADER) throw bad('malformed WriteBatch (too small)', 0);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const sequence = view.getBigUint64(0, true);
  const count = view.getUint32(8, true);
  const ops: WriteBatchOp[] = [];
  let pos = HEADER;

  // LevelDB GetLengthPrefixedSlice: varint32 length (at most 5 bytes) then that many bytes.
  const slice = (): Uint8Array | null => {
    const next = scanUvarint(data, pos, data.length, MAX_VARINT32_BYTES);
    if (next < 0) return null;
    const length = getUvarint32(data, pos); // a 5th byte's high bits fall off, as in LevelDB
    if (data.length - next < length) return null;
    pos = next + length;
    return data.subarray(next, pos);
  };

  while (pos < data.length) {
    const opStart = pos;
    const tag = data[pos++];
    if (tag === TAG_VALUE) {
      const key = slice();
      const value = key === null ? null : slice();
      if (key === null || value === null) throw bad('bad WriteBatch Put', opStart);
      ops.push({ type: 'put', key, value });
    } else if (tag === TAG_DELETION) {
      const key = slice();
      if (key === null) throw bad('bad WriteBatch Delete', opStart);
      ops.push({ type: 'delete', key });
    } else {
      throw bad('unknown WriteBatch tag', opStart);
    }
  }
  if (ops.length !== count) throw bad('WriteBatch has wrong count', 8);
  return { sequence, ops };
}

/** Bytes of `n` as a LEB128 varint (LevelDB's varint32; also the forward batch's record lengths). */
export const varint32Size = uvarintSize;
/** Writes `n` as a LEB128 varint at `pos`; returns the position after it. */
export const putVarint32 = putUvarint;

/** Encodes a WriteBatch exactly as LevelDB's WriteBatch::Put/Delete build it. */
export function encodeWriteBatch(batch: WriteBatch): Uint8Array {
  const sequence = BigInt(batch.sequence);
  if (sequence < 0n || sequence >= 1n << 64n) throw new RangeError('sequence must fit in 64 bits');
  let size = HEADER;
  for (const op of batch.ops) {
    if (op.key.length > 0xffffffff) throw new RangeError('key too long for a varint32 length');
    size += 1 + varint32Size(op.key.length) + op.key.length;
    if (op.type === 'put') size += varint32Size(op.value.length) + op.value.length;
    else if (op.type !== 'delete') throw new TypeError(`unknown op type '${(op as { type: string }).type}'`);
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, sequence, true);
  view.setUint32(8, batch.ops.length, true);
  let pos = HEADER;
  for (const op of batch.ops) {
    out[pos++] = op.type === 'put' ? TAG_VALUE : TAG_DELETION;
    pos = putVarint32(out, pos, op.key.length);
    out.set(op.key, pos);
    pos += op.key.length;
    if (op.type === 'put') {
      pos = putVarint32(out, pos, op.value.length);
      out.set(op.value, pos);
      pos += op.value.length;
    }
  }
  return out;
}
