/**
 * Segment cuts (etcd `cut`): the full tail is closed at its last frame and synced, and writing
 * continues in the segment the preparer made ready, renamed into place with its header.
 */
import * as path from 'node:path';
import { walName } from '../etcd/segments';
import type { WalFile } from '../io/types';
import { encodeSegmentHeader } from './frames';
import type { LogCore } from './log-core';
import { newSegment } from './segment-index';

/** Closes the full tail and continues in a prepared segment. Runs between batches. */
export async function cutSegment(core: LogCore, onSealed: (seq: number) => void): Promise<void> {
  const { io, dir, writer } = core;
  const old = core.tailSegment;
  const oldFile = writer.file;
  // A closed segment ends at its last frame, as etcd leaves it.
  await oldFile.truncate(writer.pos);
  await core.timedSync(oldFile);
  core.durableN = core.written;
  const tmp = await core.preparer.take();
  const seq = old.seq + 1;
  const nameIndex = core.written + 1;
  const name = walName(BigInt(seq), BigInt(nameIndex));
  const header = encodeSegmentHeader(io, writer.crc, false);
  const hf = await io.open(tmp, { read: false, write: true });
  try {
    await hf.write([header.bytes], 0, { datasync: true });
  } finally {
    await hf.close();
  }
  const full = path.join(dir, name);
  // Nothing may read the new segment through a handle on a file that had its name before.
  core.files.forget(full);
  await io.rename(tmp, full);
  await io.fsyncDir(dir);
  const nf = await io.open(full, { read: true, write: true, direct: core.opts.direct });
  await lockOrClose(nf);
  await writer.switchTo(nf, header.bytes.length, header.crc);
  await oldFile.close();
  const seg = newSegment(seq, nameIndex, name, full);
  seg.end = header.bytes.length;
  core.segments.push(seg);
  core.notifyDurable();
  onSealed(old.seq);
}

/** Locks a just-opened segment; on failure closes it, so a failed cut or truncation leaks no descriptor. */
export async function lockOrClose(file: WalFile): Promise<void> {
  try {
    await file.lock({ wait: false });
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
}
