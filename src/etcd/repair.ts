/**
 * etcd `Repair` (spec §8): only the last segment is examined; a torn or truncated last record
 * (ERR_WAL_UNEXPECTED_EOF) is cut off after copying the whole file to `<name>.broken`.
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
        await copyToBroken(io, file, `${filePath}.broken`);
        await file.truncate(lastOffset);
        await file.sync();
        return true;
      }
    }
  } catch {
    return false;
  } finally {
    await file.close().catch(() => undefined);
  }
}

/** Copies the whole segment (preallocated zeros included, as etcd) to the backup, durably. */
async function copyToBroken(io: IoBackend, from: WalFile, to: string): Promise<void> {
  const out = await io.open(to, { read: false, write: true, create: true, truncate: true, mode: 0o600 });
  try {
    const chunk = new Uint8Array(1 << 20);
    for (let pos = 0; ; ) {
      const n = await from.read(chunk, pos);
      if (n === 0) break;
      await out.write([chunk.subarray(0, n)], pos);
      pos += n;
      if (n < chunk.length) break;
    }
    // Not in etcd: the backup is made durable before the original is truncated.
    await out.datasync();
  } finally {
    await out.close();
  }
  await io.fsyncDir(path.dirname(to));
}
