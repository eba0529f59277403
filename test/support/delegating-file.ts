/**
 * A WalFile that forwards every call to `inner`: the base of the test layers that wrap a real
 * file (recording-io.ts, fault-io.ts), which override only the calls they watch. Optional
 * accelerators of the interface are not forwarded, so a wrapped file takes the generic paths.
 */
import type { WalFile, WriteOptions } from '../../src/io/types';

export class DelegatingFile implements WalFile {
  constructor(protected readonly inner: WalFile) {}

  get path(): string {
    return this.inner.path;
  }
  get direct(): boolean {
    return this.inner.direct;
  }
  get alignment(): number {
    return this.inner.alignment;
  }
  get closed(): boolean {
    return this.inner.closed;
  }

  write(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): Promise<void> {
    return this.inner.write(buffers, position, opts);
  }
  writeSync(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): void {
    this.inner.writeSync(buffers, position, opts);
  }
  read(target: Uint8Array, position: number): Promise<number> {
    return this.inner.read(target, position);
  }
  readSync(target: Uint8Array, position: number): number {
    return this.inner.readSync(target, position);
  }
  readv(targets: readonly Uint8Array[], position: number): Promise<number> {
    return this.inner.readv(targets, position);
  }
  datasync(): Promise<void> {
    return this.inner.datasync();
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  truncate(length: number): Promise<void> {
    return this.inner.truncate(length);
  }
  allocate(offset: number, length: number): Promise<void> {
    return this.inner.allocate(offset, length);
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  sizeSync(): number {
    return this.inner.sizeSync();
  }
  lock(opts: { wait: boolean }): Promise<void> {
    return this.inner.lock(opts);
  }
  unlock(): Promise<void> {
    return this.inner.unlock();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  closeSync(): void {
    this.inner.closeSync();
  }
}
