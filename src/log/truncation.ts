/**
 * Truncation the etcd way. `truncateFront` writes a snapshot record and unlinks the segments etcd's
 * `Open` would no longer select; `truncateBack` unlinks later segments and zeroes the dropped bytes,
 * keeping the front's snapshot record in a marker file while it is rewritten (front-marker.ts).
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import { indexToNumber as toIndex, type IndexArg } from '../index-arg';
import type { ConsumerHost } from './consumer-host';
import { checkFrontTruncation } from './front-guard';
import { FRONT_MARKER, readFrontMarker, removeFrontMarker, writeFrontMarker } from './front-marker';
import { encodeSnapshotFrame } from './frames';
import type { LogCore } from './log-core';
import type { LogReads } from './log-reads';
import { lockOrClose } from './segment-cut';
import { dropCheckpointsFrom, findSegment } from './segment-index';

export class Truncation {
  constructor(
    private readonly core: LogCore,
    private readonly reads: LogReads,
    /** Runs an operation alone, after every append accepted so far is written (batch-writer.ts). */
    private readonly exclusive: <T>(run: () => Promise<T>) => Promise<T>,
    private readonly host: () => ConsumerHost,
    /** Publishes the durable state to read-only opens at once (durable-file.ts). */
    private readonly publishNow: () => void,
  ) {}

  /**
   * Drops entries below `index` (they become unreadable; firstIndex = index) the etcd way: a
   * snapshot record {index-1, term} is written and synced, then every whole segment that etcd's
   * `Open` at that snapshot would not select is unlinked, then the directory is fsynced.
   */
  async truncateFront(index: IndexArg, opts: { force?: boolean } = {}): Promise<void> {
    const idx = toIndex('index', index);
    return this.exclusive(async () => {
      if (idx <= this.core.firstIndexN()) return;
      if (idx > this.core.written + 1) {
        throw new WalError(WalErrorCodes.OUT_OF_RANGE, `truncateFront(${idx}) is past lastIndex + 1 (${this.core.written + 1})`);
      }
      // Under the consumer registry lock: a consumer created meanwhile at 'oldest' either exists
      // before the guard reads the cursors or starts after the new front.
      await this.host().underRegistryLock(async () => {
        if (opts.force !== true) await checkFrontTruncation(this.host(), idx);
        await this.dropFront(idx);
      });
    });
  }

  private async dropFront(idx: number): Promise<void> {
    const snapIndex = idx - 1;
    const term = snapIndex === this.core.snapshotIndex ? this.core.snapshotTerm : (await this.reads.readEntry(snapIndex)).term;
    await this.writeSnapshotRecord(snapIndex, term);
    this.core.recent.dropBefore(idx);
    // At once, still under the registry lock: a consumer created next at 'oldest' must see the new front.
    this.publishNow();
    // Keep from the last segment whose name index <= snapIndex (etcd searchIndex): Open at the
    // snapshot still finds its file; earlier ones only hold compacted entries.
    let keep = 0;
    for (let k = 0; k < this.core.segments.length; k++) if (this.core.segments[k]!.nameIndex <= snapIndex) keep = k;
    // Oldest first, each unlink made durable before the next: a crash part-way leaves a
    // contiguous run of segments (a gap in the sequence would make the directory unreadable).
    while (keep-- > 0) {
      const seg = this.core.segments.shift()!;
      this.core.files.forget(seg.path);
      await this.core.io.unlink(seg.path);
      await this.core.io.fsyncDir(this.core.dir);
    }
  }

  private async writeSnapshotRecord(index: number, term: bigint): Promise<void> {
    const tailSeg = this.core.segments[this.core.segments.length - 1]!;
    const frame = encodeSnapshotFrame(this.core.io, BigInt(index), term, this.core.writer.crc);
    const at = this.core.writer.pos;
    this.core.writer.stageFrames(frame.bytes, frame.crc);
    const t0 = process.hrtime.bigint();
    await this.core.writer.commit(true);
    this.core.recordSync(Number(process.hrtime.bigint() - t0) / 1000, 0, 0);
    tailSeg.end = this.core.writer.pos;
    this.core.durableN = this.core.written;
    this.core.snapshotIndex = index;
    this.core.snapshotTerm = term;
    this.core.snapshotAt = { seq: tailSeg.seq, offset: at };
    this.core.notifyDurable();
  }

  /**
   * Drops entries after `index` (lastIndex = index; the next append gets index + 1). Physically:
   * later segments are unlinked and the bytes from entry index+1 on are overwritten with zeros and
   * synced, so neither this Log nor etcd's ReadAll can see them again, even after a reopen.
   */
  async truncateBack(index: IndexArg): Promise<void> {
    const idx = toIndex('index', index);
    return this.exclusive(async () => {
      if (idx >= this.core.written) return;
      if (idx < this.core.firstIndexN() - 1) {
        throw new WalError(WalErrorCodes.OUT_OF_RANGE, `truncateBack(${idx}) is below firstIndex - 1 (${this.core.firstIndexN() - 1})`);
      }
      await this.host().beforeTruncateBack(idx);
      // Before any byte is rewritten: from here on no follower or consumer gets them from memory.
      this.core.recent.dropAfter(idx);
      this.core.backCuts.push(idx);
      const dropFrom = idx + 1;
      const si = findSegment(this.core.segments, dropFrom);
      const seg = this.core.segments[si]!;
      const at = await this.reads.locate(seg, dropFrom);
      const tailIdx = this.core.segments.length - 1;
      const snap = this.core.snapshotAt;
      // The front-truncation record lies in the bytes about to be dropped: keep it in a marker
      // file until it is written again (see front-marker.ts).
      const snapDropped =
        snap !== null && this.core.snapshotIndex > 0 && (snap.seq > seg.seq || (snap.seq === seg.seq && snap.offset >= at.offset));
      if (snapDropped) await writeFrontMarker(this.core.io, this.core.dir, this.core.snapshotIndex, this.core.snapshotTerm);
      if (si !== tailIdx) {
        const nf = await this.core.io.open(seg.path, { read: true, write: true, direct: this.core.opts.direct });
        await lockOrClose(nf);
        // Newest first, each made durable before the next, so a crash part-way leaves a shorter
        // but contiguous log.
        for (let k = tailIdx; k > si; k--) {
          // A later cut may give a new segment this name: its reads must not reach the old inode.
          this.core.files.forget(this.core.segments[k]!.path);
          await this.core.io.unlink(this.core.segments[k]!.path);
          await this.core.io.fsyncDir(this.core.dir);
        }
        const oldFile = this.core.writer.file;
        await this.core.writer.switchTo(nf, at.offset, at.crc);
        await oldFile.close();
        this.core.segments.length = si + 1;
      }
      await this.core.writer.rewind(at.offset, at.crc, si !== tailIdx ? Math.max(seg.end, this.core.opts.segmentSize) : seg.end);
      seg.end = at.offset;
      seg.last = idx;
      if (seg.last < seg.first) seg.first = idx + 1;
      dropCheckpointsFrom(seg, at.offset);
      this.core.written = idx;
      this.core.durableN = idx;
      // A follower waiting past idx must learn now that what it yielded is gone (tail()).
      this.core.waiters.wakeAll();
      if (snapDropped) {
        await this.writeSnapshotRecord(this.core.snapshotIndex, this.core.snapshotTerm);
        await removeFrontMarker(this.core.io, this.core.dir);
      }
    });
  }

  /** After a crash inside truncateBack: write the front's snapshot record again from the marker. */
  async restoreFront(): Promise<void> {
    const marker = await readFrontMarker(this.core.io, this.core.dir);
    if (marker === null) {
      // A marker that never got renamed into place.
      await this.core.io.unlink(path.join(this.core.dir, `${FRONT_MARKER}.new`)).catch(() => undefined);
      return;
    }
    if (marker.index > this.core.snapshotIndex) await this.writeSnapshotRecord(marker.index, marker.term);
    await removeFrontMarker(this.core.io, this.core.dir);
  }
}
