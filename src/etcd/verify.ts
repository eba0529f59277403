/**
 * etcd `Verify` and `ValidSnapshotEntries` (spec §9): read-only scans that never modify a file.
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { type HardState, type Snapshot, RecordType, decodeHardState, decodeSnapshot } from './codec';
import { Decoder, openSources, type DecodedRecord } from './decoder';
import { readWalNames, selectWalFiles } from './segments';

const EMPTY = new Uint8Array(0);

/** Decodes every record of `paths` in order; a torn/truncated end is fine (read mode). */
async function scan(
  io: IoBackend,
  paths: string[],
  chunkSize: number | undefined,
  onRecord: (rec: DecodedRecord, file: string) => void,
): Promise<void> {
  const sources = await openSources(io, paths);
  try {
    const decoder = new Decoder(io, sources, { chunkSize });
    for (;;) {
      let more;
      try {
        more = decoder.nextRecord();
        if (typeof more !== 'boolean') more = await more;
      } catch (err) {
        if (err instanceof WalError && err.code === WalErrorCodes.UNEXPECTED_EOF) return;
        throw err;
      }
      if (!more) return;
      const r = decoder.record;
      onRecord(
        { type: r.type, crc: r.crc, data: r.data, fileIndex: decoder.fileIndex, offset: r.offset },
        sources[decoder.fileIndex]!.path,
      );
    }
  } finally {
    await Promise.all(sources.map((s) => s.file.close().catch(() => undefined)));
  }
}

function located<T>(fn: () => T, file: string, offset: number): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof WalError) throw new WalError(err.code, err.message, { file, offset, cause: err });
    throw err;
  }
}

/**
 * etcd 3.5 `Verify`: checks metadata consistency, the CRC chain and that a snapshot record
 * matches `snap` (ERR_WAL_SNAPSHOT_NOT_FOUND / ERR_WAL_SNAPSHOT_MISMATCH); entry contents are not
 * decoded. Returns the last HardState seen.
 */
export async function verify(io: IoBackend, dir: string, snap: { index: bigint; term: bigint }, chunkSize?: number): Promise<HardState> {
  const names = await selectWalFiles(io, dir, snap.index);
  let metadata: Uint8Array | null = null;
  let state: HardState = { term: 0n, vote: 0n, commit: 0n };
  let match = false;
  await scan(
    io,
    names.map((n) => path.join(dir, n)),
    chunkSize,
    (rec, file) => {
      switch (rec.type) {
        case RecordType.Metadata:
          if (metadata !== null && !equal(metadata, rec.data)) {
            throw new WalError(WalErrorCodes.METADATA_CONFLICT, 'wal: conflicting metadata found', { file, offset: rec.offset });
          }
          metadata = rec.data;
          break;
        case RecordType.Snapshot: {
          const s = located(() => decodeSnapshot(rec.data ?? EMPTY), file, rec.offset);
          if (s.index === snap.index) {
            if (s.term !== snap.term)
              throw new WalError(WalErrorCodes.SNAPSHOT_MISMATCH, 'wal: snapshot mismatch', { file, offset: rec.offset });
            match = true;
          }
          break;
        }
        case RecordType.State:
          state = located(() => decodeHardState(rec.data ?? EMPTY), file, rec.offset);
          break;
        case RecordType.Entry:
        case RecordType.Crc:
          break;
        default:
          throw new WalError(WalErrorCodes.UNEXPECTED_RECORD_TYPE, `unexpected block type ${rec.type}`, { file, offset: rec.offset });
      }
    },
  );
  if (!match) throw new WalError(WalErrorCodes.SNAPSHOT_NOT_FOUND, 'wal: snapshot not found', { file: dir });
  return state;
}

/**
 * etcd `ValidSnapshotEntries`: every snapshot record in all segments (from the first name, no
 * sequence check) whose index is <= the last HardState's commit, in file order.
 */
export async function validSnapshotEntries(io: IoBackend, dir: string, chunkSize?: number): Promise<Snapshot[]> {
  let names: string[];
  try {
    names = await readWalNames(io, dir);
  } catch (err) {
    throw new WalError(WalErrorCodes.FILE_NOT_FOUND, 'wal: file not found', { file: dir, cause: err });
  }
  if (names.length === 0) throw new WalError(WalErrorCodes.FILE_NOT_FOUND, 'wal: file not found', { file: dir });
  const snaps: Snapshot[] = [];
  let state: HardState = { term: 0n, vote: 0n, commit: 0n };
  await scan(
    io,
    names.map((n) => path.join(dir, n)),
    chunkSize,
    (rec, file) => {
      if (rec.type === RecordType.Snapshot) snaps.push(located(() => decodeSnapshot(rec.data ?? EMPTY), file, rec.offset));
      else if (rec.type === RecordType.State) state = located(() => decodeHardState(rec.data ?? EMPTY), file, rec.offset);
    },
  );
  const commit = state.commit;
  return snaps.filter((s) => s.index <= commit);
}

function equal(a: Uint8Array | null, b: Uint8Array | null): boolean {
  const x = a ?? EMPTY;
  const y = b ?? EMPTY;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
