/**
 * The record loop of `WAL.readAll` (etcd `ReadAll`): folds every record after the snapshot into
 * etcd's `metadata, state, ents`, with etcd's checks (slice bounds, metadata conflicts, snapshot
 * term) and the location of any damage.
 */
import { EMPTY_BYTES as EMPTY, bytesEqual } from '../codec/bytes';
import { WalError, WalErrorCodes } from '../errors';
import { type Entry, type HardState, RecordType, decodeEntry, decodeEntryAt, decodeHardState, decodeSnapshot } from './codec';
import type { Decoder } from './decoder';

/** What the record loop found; `lastEntryIndex` is etcd's `w.enti` after it (null: no entry read). */
export interface DecodedLog {
  metadata: Uint8Array | null;
  state: HardState;
  entries: Entry[];
  match: boolean;
  lastEntryIndex: bigint | null;
}

/** Reads the decoder to its end. Read mode (`readOnly`) stops quietly at a torn last record. */
export async function decodeAll(decoder: Decoder, start: { index: bigint; term: bigint }, readOnly: boolean): Promise<DecodedLog> {
  let metadata: Uint8Array | null = null;
  let state: HardState = { term: 0n, vote: 0n, commit: 0n };
  const entries: Entry[] = [];
  let match = false;
  let lastEntryIndex: bigint | null = null;
  const rec = decoder.record;
  for (;;) {
    let more: boolean | Promise<boolean>;
    try {
      more = decoder.nextRecord();
      if (typeof more !== 'boolean') more = await more;
    } catch (err) {
      // Read mode tolerates a torn/truncated last record; write mode must see everything.
      if (readOnly && err instanceof WalError && err.code === WalErrorCodes.UNEXPECTED_EOF) break;
      throw err;
    }
    if (!more) break;
    const buf = rec.buf;
    const ds = rec.start;
    const de = rec.end;
    switch (rec.type) {
      case RecordType.Entry: {
        const e = ds < 0 ? payload(() => decodeEntry(EMPTY), decoder) : payload(() => decodeEntryAt(buf, ds, de), decoder);
        if (e.index > start.index) {
          const up = e.index - start.index - 1n;
          if (up > BigInt(entries.length)) {
            throw new WalError(WalErrorCodes.SLICE_OUT_OF_RANGE, 'wal: slice bounds out of range', where(decoder));
          }
          const u = Number(up);
          if (u !== entries.length) entries.length = u;
          entries.push(e);
        }
        lastEntryIndex = e.index;
        break;
      }
      case RecordType.State:
        state = payload(() => decodeHardState(ds < 0 ? EMPTY : buf.subarray(ds, de)), decoder);
        break;
      case RecordType.Metadata: {
        const data = ds < 0 ? null : buf.subarray(ds, de);
        if (metadata !== null && !bytesEqual(metadata, data)) {
          throw new WalError(WalErrorCodes.METADATA_CONFLICT, 'wal: conflicting metadata found', where(decoder));
        }
        metadata = data;
        break;
      }
      case RecordType.Crc:
        break; // chain checked by the decoder
      case RecordType.Snapshot: {
        const s = payload(() => decodeSnapshot(ds < 0 ? EMPTY : buf.subarray(ds, de)), decoder);
        if (s.index === start.index) {
          if (s.term !== start.term) throw new WalError(WalErrorCodes.SNAPSHOT_MISMATCH, 'wal: snapshot mismatch', where(decoder));
          match = true;
        }
        break;
      }
      default:
        throw new WalError(WalErrorCodes.UNEXPECTED_RECORD_TYPE, `unexpected block type ${rec.type}`, where(decoder));
    }
  }
  return { metadata, state, entries, match, lastEntryIndex };
}

/** Where the decoder's current record is. */
function where(decoder: Decoder): { file: string; offset: number } {
  return { file: decoder.sources[decoder.fileIndex]!.path, offset: decoder.record.offset };
}

/** Decodes a CRC-valid payload; garbage there is ERR_WAL_CORRUPT_PAYLOAD with its location (etcd panics). */
function payload<T>(fn: () => T, decoder: Decoder): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof WalError) throw new WalError(err.code, err.message, { ...where(decoder), cause: err });
    throw err;
  }
}
