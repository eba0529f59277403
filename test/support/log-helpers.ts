/**
 * Test helpers for the Log tests (not a test file itself): an `io` wrapper that records every
 * write/datasync, and a reader that decodes a Log directory with src/etcd's decoder — an
 * implementation written independently of src/log, so it serves as the oracle for "etcd can read it".
 */
import * as path from 'node:path';
import { RecordType, decodeEntry, decodeSnapshot, type Entry, type Snapshot } from '../../src/etcd/codec';
import { Decoder, openSources } from '../../src/etcd/decoder';
import { readWalNames } from '../../src/etcd/segments';
import { defaultBackend } from '../../src/io/backend';
import type { IoBackend, WalFile, WriteOptions } from '../../src/io/types';
import { DelegatingFile } from './delegating-file';

export interface IoEvent {
  kind: 'write' | 'datasync';
  path: string;
  position?: number;
  bytes?: number;
  datasync?: boolean;
  at: number;
}

let clock = 0;

/** Wraps `base` so every file write and datasync is appended to `events`; `delayMs` slows datasyncs. */
export function recordingIo(events: IoEvent[], opts: { delayMs?: number; base?: IoBackend } = {}): IoBackend {
  const base = opts.base ?? defaultBackend;
  const delay = (): Promise<void> => (opts.delayMs ? new Promise((r) => setTimeout(r, opts.delayMs)) : Promise.resolve());
  class EventFile extends DelegatingFile {
    override async write(buffers: readonly Uint8Array[], position: number, wo?: WriteOptions): Promise<void> {
      await this.inner.write(buffers, position, wo);
      if (wo?.datasync) await delay();
      const bytes = buffers.reduce((n, b) => n + b.length, 0);
      events.push({ kind: 'write', path: this.path, position, bytes, datasync: !!wo?.datasync, at: clock++ });
    }
    override async datasync(): Promise<void> {
      await this.inner.datasync();
      await delay();
      events.push({ kind: 'datasync', path: this.path, at: clock++ });
    }
  }
  const wrap = (f: WalFile): WalFile => new EventFile(f);
  const bind = <K extends keyof IoBackend>(k: K): IoBackend[K] => (base[k] as (...a: unknown[]) => unknown).bind(base) as IoBackend[K];
  return {
    fsyncDir: bind('fsyncDir'),
    rename: bind('rename'),
    unlink: bind('unlink'),
    mkdir: bind('mkdir'),
    readdir: bind('readdir'),
    rm: bind('rm'),
    stat: bind('stat'),
    kind: base.kind,
    reason: base.reason,
    crcImplementation: base.crcImplementation,
    crc32c: base.crc32c.bind(base),
    crc32cChain: base.crc32cChain.bind(base),
    allocAligned: base.allocAligned.bind(base),
    open: async (p, o) => wrap(await base.open(p, o)),
    openSync: (p, o) => wrap(base.openSync(p, o)),
  };
}

/** What etcd's reading rules see in a directory: entries (by index, later overwrite earlier) and snapshots. */
export async function readWithEtcdDecoder(dir: string): Promise<{ entries: Entry[]; snapshots: Snapshot[]; types: number[] }> {
  const names = await readWalNames(defaultBackend, dir);
  const sources = await openSources(
    defaultBackend,
    names.map((n) => path.join(dir, n)),
  );
  const dec = new Decoder(defaultBackend, sources);
  const entries: Entry[] = [];
  const snapshots: Snapshot[] = [];
  const types: number[] = [];
  try {
    for (let r = await dec.next(); r !== null; r = await dec.next()) {
      types.push(r.type);
      if (r.type === RecordType.Entry) entries.push(decodeEntry(r.data!));
      if (r.type === RecordType.Snapshot) snapshots.push(decodeSnapshot(r.data!));
    }
  } finally {
    for (const s of sources) await s.file.close();
  }
  return { entries, snapshots, types };
}
