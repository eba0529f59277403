/**
 * etcd's `wal/file_pipeline.go`: keeps the next segment ready as `<dir>/<count%2>.tmp`, created,
 * locked and preallocated (fallocate, no sync) in the background, so a cut does not wait for
 * fallocate. The preparing is the shared SegmentPreparer's (the Log's too); this is its etcd face.
 */
import type { IoBackend, WalFile } from '../io/types';
import { SegmentPreparer } from './segment-preparer';

/** A preallocated, locked temporary segment handed over by the pipeline. */
export interface PipelineFile {
  path: string;
  file: WalFile;
}

/** The background preallocation of the next segment. */
export class FilePipeline {
  private readonly preparer: SegmentPreparer;
  private closed = false;

  constructor(io: IoBackend, dir: string, size: number) {
    this.preparer = new SegmentPreparer(io, dir, size, 'fallocate', { keepOpen: true, sync: false, mode: 0o600 });
    this.preparer.start(); // etcd starts preparing at once
  }

  /** Takes the prepared file and starts preparing the next one. */
  async open(): Promise<PipelineFile> {
    if (this.closed) throw new Error('file pipeline is closed');
    const ready = await this.preparer.takeFile();
    return { path: ready.path, file: ready.file! };
  }

  /** Stops the pipeline and removes the prepared file (etcd removes it on Close). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.preparer.close();
  }
}
