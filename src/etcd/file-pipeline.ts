/**
 * etcd's `wal/file_pipeline.go`: keeps the next segment ready as `<dir>/<count%2>.tmp`, created,
 * locked and preallocated in the background, so a cut does not wait for fallocate.
 *
 * Difference from etcd (spec §15): the tmp file is opened with O_TRUNC, so stale bytes of an old
 * `N.tmp` left by a crash can never follow a new segment's header.
 */
import * as path from 'node:path';
import type { IoBackend, WalFile } from '../io/types';

/** A preallocated, locked temporary segment handed over by the pipeline. */
export interface PipelineFile {
  path: string;
  file: WalFile;
}

/** The background preallocation of the next segment. */
export class FilePipeline {
  private count = 0;
  private pending: Promise<PipelineFile> | null;
  private closed = false;

  constructor(
    private readonly io: IoBackend,
    private readonly dir: string,
    private readonly size: number,
  ) {
    this.pending = this.alloc();
    // A failure is reported by the next open(); keep it from being an unhandled rejection.
    this.pending.catch(() => undefined);
  }

  /** Takes the prepared file and starts preparing the next one. */
  async open(): Promise<PipelineFile> {
    if (this.closed || this.pending === null) throw new Error('file pipeline is closed');
    const ready = this.pending;
    this.pending = null;
    try {
      return await ready;
    } finally {
      if (!this.closed) {
        this.pending = this.alloc();
        this.pending.catch(() => undefined);
      }
    }
  }

  /** Stops the pipeline and removes the prepared file (etcd removes it on Close). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = this.pending;
    this.pending = null;
    if (pending === null) return;
    let ready: PipelineFile;
    try {
      ready = await pending;
    } catch {
      return;
    }
    await ready.file.close();
    await this.io.unlink(ready.path);
  }

  private async alloc(): Promise<PipelineFile> {
    // count % 2 so a file being handed over and the next one never share a name
    const fpath = path.join(this.dir, `${this.count % 2}.tmp`);
    this.count++;
    const file = await this.io.open(fpath, { read: false, write: true, create: true, truncate: true, mode: 0o600 });
    try {
      await file.lock({ wait: true });
      if (this.size > 0) await file.allocate(0, this.size);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
    return { path: fpath, file };
  }
}
