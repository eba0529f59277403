/**
 * The pure-TypeScript backend: node:fs for files and crc-32's CRC32C (slicing-by-16) for checksums.
 * Same bytes and same behaviour as the addon, only slower. What it cannot do from JS:
 *  - O_DIRECT: never used (`direct` is always false);
 *  - OFD fcntl locks: `lock()` only excludes other opens in this process (a registry of paths).
 *    Between processes, Log, WAL and LevelDBLogWriter are excluded by their directory lease
 *    (src/lock/lease.ts), which both backends take; etcd itself is excluded only by the native
 *    backend's OFD locks.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { resolve as pathResolve } from 'node:path';
import { buf as crc32cJs } from 'crc-32/crc32c';
import { INLINE_WRITE_MAX_BYTES, type IoBackend, type WalFile, type WriteOptions } from './types';
import { openFlags } from './open-flags';
import { afterBytes, totalLength } from './buffer-list';

/** CRC-32C with crc-32's JS implementation; results are unsigned. */
export function crc32cFallback(data: Uint8Array, seed = 0): number {
  return crc32cJs(data, seed | 0) >>> 0;
}

export function crc32cChainFallback(data: Uint8Array, bounds: Uint32Array, seed = 0): Uint32Array {
  if (bounds.length % 2 !== 0) throw new RangeError('bounds must hold start,end pairs');
  const out = new Uint32Array(bounds.length / 2);
  let crc = seed | 0;
  for (let i = 0; i < out.length; i++) {
    const start = bounds[2 * i]!;
    const end = bounds[2 * i + 1]!;
    if (end < start || end > data.length) throw new RangeError(`slice ${i} [${start}, ${end}) is out of bounds`);
    crc = crc32cJs(data.subarray(start, end), crc);
    out[i] = crc >>> 0;
  }
  return out;
}

/** Paths locked by this process: a file lock that excludes every other open in this process. */
const heldLocks = new Set<string>();

function lockedError(path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`EAGAIN: resource temporarily unavailable, lock '${path}'`);
  err.code = 'EAGAIN';
  err.errno = -11;
  err.syscall = 'fcntl';
  err.path = path;
  return err;
}

class FallbackFile implements WalFile {
  readonly direct = false;
  readonly alignment = 1;
  private fd: number;
  private lockPath: string | null = null;

  constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** fd calls report no path; name the file as the native backend does ("ENOSPC: ..., write '/x'"). */
  private named(err: NodeJS.ErrnoException): NodeJS.ErrnoException {
    if (err.path === undefined) {
      err.path = this.path;
      err.message = `${err.message} '${this.path}'`;
    }
    return err;
  }

  private checkOpen(): number {
    if (this.fd < 0) {
      const err: NodeJS.ErrnoException = new Error(`EBADF: bad file descriptor, '${this.path}' is closed`);
      err.code = 'EBADF';
      err.errno = -9;
      err.syscall = 'write';
      throw err;
    }
    return this.fd;
  }

  async write(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): Promise<void> {
    const fd = this.checkOpen();
    if (opts?.datasync !== true && totalLength(buffers) <= INLINE_WRITE_MAX_BYTES) {
      this.writeSync(buffers, position); // small page-cache copy: cheaper here than a threadpool hop
      return;
    }
    let pos = position;
    let pending = buffers.filter((b) => b.length > 0);
    while (pending.length > 0) {
      const written = await new Promise<number>((resolve, reject) =>
        fs.writev(fd, pending as Uint8Array[], pos, (err, n) => (err ? reject(this.named(err)) : resolve(n))),
      );
      pos += written;
      pending = afterBytes(pending, written);
    }
    if (opts?.datasync) await this.datasync();
  }

  writeSync(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): void {
    const fd = this.checkOpen();
    let pos = position;
    let pending = buffers.filter((b) => b.length > 0);
    try {
      while (pending.length > 0) {
        const written = fs.writevSync(fd, pending as Uint8Array[], pos);
        pos += written;
        pending = afterBytes(pending, written);
      }
      if (opts?.datasync) fs.fdatasyncSync(fd);
    } catch (err) {
      throw this.named(err as NodeJS.ErrnoException);
    }
  }

  async read(target: Uint8Array, position: number): Promise<number> {
    const fd = this.checkOpen();
    let done = 0;
    while (done < target.length) {
      const n = await new Promise<number>((resolve, reject) =>
        fs.read(fd, target, done, target.length - done, position + done, (err, bytes) => (err ? reject(this.named(err)) : resolve(bytes))),
      );
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  async readv(targets: readonly Uint8Array[], position: number): Promise<number> {
    const fd = this.checkOpen();
    let pending = targets.slice();
    let done = 0;
    while (pending.some((t) => t.length > 0)) {
      const n = await new Promise<number>((resolve, reject) =>
        fs.readv(fd, pending, position + done, (err, bytes) => (err ? reject(this.named(err)) : resolve(bytes))),
      );
      if (n === 0) break;
      done += n;
      pending = afterBytes(pending, n);
    }
    return done;
  }

  readSync(target: Uint8Array, position: number): number {
    const fd = this.checkOpen();
    let done = 0;
    try {
      while (done < target.length) {
        const n = fs.readSync(fd, target, done, target.length - done, position + done);
        if (n === 0) break;
        done += n;
      }
    } catch (err) {
      throw this.named(err as NodeJS.ErrnoException);
    }
    return done;
  }

  async datasync(): Promise<void> {
    const fd = this.checkOpen();
    return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(this.named(err)) : resolve())));
  }

  async sync(): Promise<void> {
    const fd = this.checkOpen();
    return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(this.named(err)) : resolve())));
  }

  async truncate(length: number): Promise<void> {
    const fd = this.checkOpen();
    return new Promise((resolve, reject) => fs.ftruncate(fd, length, (err) => (err ? reject(this.named(err)) : resolve())));
  }

  /** No fallocate in node:fs: extend with ftruncate (sparse), as etcd does where fallocate is unsupported. */
  async allocate(offset: number, length: number): Promise<void> {
    for (const [name, v] of [
      ['offset', offset],
      ['length', length],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
    }
    if (length === 0) return;
    const size = await this.size();
    if (offset + length > size) await this.truncate(offset + length);
  }

  async size(): Promise<number> {
    const fd = this.checkOpen();
    return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(this.named(err)) : resolve(st.size))));
  }

  sizeSync(): number {
    return fs.fstatSync(this.checkOpen()).size;
  }

  async lock(opts: { wait: boolean }): Promise<void> {
    this.checkOpen();
    if (this.lockPath !== null) return;
    const key = pathResolve(this.path);
    while (heldLocks.has(key)) {
      if (!opts.wait) throw lockedError(this.path);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    heldLocks.add(key);
    this.lockPath = key;
  }

  async unlock(): Promise<void> {
    this.releaseLock();
  }

  private releaseLock(): void {
    if (this.lockPath === null) return;
    heldLocks.delete(this.lockPath);
    this.lockPath = null;
  }

  async close(): Promise<void> {
    if (this.fd < 0) return;
    await this.unlock();
    const fd = this.fd;
    this.fd = -1;
    await new Promise<void>((resolve, reject) => fs.close(fd, (err) => (err ? reject(this.named(err)) : resolve())));
  }

  closeSync(): void {
    if (this.fd < 0) return;
    this.releaseLock();
    const fd = this.fd;
    this.fd = -1;
    fs.closeSync(fd);
  }
}

export function createFallbackBackend(reason: string): IoBackend {
  return {
    kind: 'fallback',
    reason,
    crcImplementation: 'crc-32 (js)',
    crc32c: crc32cFallback,
    crc32cChain: crc32cChainFallback,
    async open(path, opts = {}) {
      const fd = await new Promise<number>((resolve, reject) =>
        fs.open(path, openFlags(opts), opts.mode ?? 0o600, (err, fd) => (err ? reject(err) : resolve(fd))),
      );
      return new FallbackFile(path, fd);
    },
    openSync(path, opts = {}) {
      return new FallbackFile(path, fs.openSync(path, openFlags(opts), opts.mode ?? 0o600));
    },
    async fsyncDir(path) {
      const handle = await fsp.open(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    allocAligned(size, alignment) {
      if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a non-negative integer, got ${size}`);
      if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
        throw new RangeError(`alignment must be a power of two, got ${alignment}`);
      }
      // JS cannot align addresses; the fallback never does O_DIRECT, so alignment is moot.
      return new Uint8Array(size);
    },
    rename: (from, to) => fsp.rename(from, to),
    unlink: (path) => fsp.unlink(path),
    mkdir: async (path, mode = 0o700) => {
      await fsp.mkdir(path, { recursive: true, mode });
    },
    readdir: (path) => fsp.readdir(path),
    rm: (path) => fsp.rm(path, { recursive: true, force: true }),
    async stat(path) {
      const st = await fsp.stat(path);
      return { size: st.size, isDirectory: st.isDirectory(), isFile: st.isFile() };
    },
  };
}
