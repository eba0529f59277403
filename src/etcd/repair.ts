/**
 * etcd `Repair` (spec §8): only the last segment is examined; a torn or truncated last record
 * (ERR_WAL_UNEXPECTED_EOF) is cut off after copying the whole file to `<name>.broken`.
 * `cutTornTail` is the one implementation of the cut: `WAL.repair`, `wal repair` and `Log.open`
 * all use it, so they keep the same backup and make the same things durable in the same order.
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';
import { Decoder } from './decoder';
import { readWalNames } from './segments';

/**
 * Returns true when the last segment decodes to its end (nothing to do) or was repaired, false
 * when the damage is not a torn tail (CRC mismatch, chain break, undecodable record) or on any
 * I/O failure — as etcd, which logs instead of returning errors here.
 */
export async function repair(io: IoBackend, dir: string, chunkSize?: number): Promise<boolean> {
  let file: WalFile;
  let filePath: string;
  try {
    const names = await readWalNames(io, dir);
    if (names.length === 0) return false;
    filePath = path.join(dir, names[names.length - 1]!);
    file = await io.open(filePath, { read: true, write: true });
  } catch {
    return false;
  }
  try {
    await file.lock({ wait: true });
    const decoder = new Decoder(io, [{ path: filePath, file, size: await file.size() }], { chunkSize });
    for (;;) {
      const lastOffset = decoder.lastValidOffset;
      try {
        if ((await decoder.next()) === null) return true;
      } catch (err) {
        if (!(err instanceof WalError) || err.code !== WalErrorCodes.UNEXPECTED_EOF) return false;
        await cutTornTail(io, file, filePath, lastOffset);
        return true;
      }
    }
  } catch {
    return false;
  } finally {
    await file.close().catch(() => undefined);
  }
}

/**
 * etcd's cut of a torn tail: copy the whole segment (preallocated zeros included, as etcd) to
 * `<segment>.broken`, truncate the segment at `goodEnd` (the end of its last good frame), fsync
 * it. etcd (server/storage/wal/repair.go) creates the backup, copies, truncates and fdatasyncs
 * the segment; two syncs it does not do come first here: the backup's data and the directory
 * entry that names it, so that a power loss after the truncation can never leave the cut bytes
 * nowhere (test/unit/crash-etcd-repair and crash-log-open-repair fail without either).
 * `file` must be open for reading and writing; it stays open. Returns the backup's path.
 */
export async function cutTornTail(io: IoBackend, file: WalFile, filePath: string, goodEnd: number): Promise<string> {
  const broken = `${filePath}.broken`;
  const out = await io.open(broken, { read: false, write: true, create: true, truncate: true, mode: 0o600 });
  try {
    const chunk = new Uint8Array(1 << 20);
    for (let pos = 0; ;) {
      const n = await file.read(chunk, pos);
      if (n === 0) break;
      await out.write([chunk.subarray(0, n)], pos);
      pos += n;
      if (n < chunk.length) break;
    }
    await out.datasync();
  } finally {
    await out.close();
  }
  await io.fsyncDir(path.dirname(broken));
  await file.truncate(goodEnd);
  await file.sync();
  return broken;
}
