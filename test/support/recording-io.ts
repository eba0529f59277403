/**
 * The power-loss layer. `RecordingIo` wraps a real IoBackend and records, in completion order,
 * every operation that changes what a disk could hold after a power cut: file creates, writes
 * (with a copy of their bytes), truncates, preallocations, fdatasync/fsync, renames, unlinks,
 * mkdirs, directory fsyncs. Tests add `mark()` events (e.g. "entry 7 acknowledged").
 *
 * `crashStates()` then replays that history under the POSIX durability model:
 *  - a file's content is durable up to its last fsync/fdatasync; later writes, truncates and
 *    preallocations may each be lost, applied whole, torn at 512-byte sector boundaries (only
 *    some of their sectors reach the disk) or land as zeros (size updated, data not);
 *  - a directory's entries are durable up to its last fsyncDir; later creates, renames and
 *    unlinks in it are lost from some point on (a prefix survives: metadata is journalled in order);
 *  - a file that no durable directory entry reaches is gone.
 * Each state is a tree of directories and byte arrays, materialised with plain node:fs.
 *
 * Every path handed to the layer must lie under `root`, whose own entry is taken as durable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IoBackend, OpenOptions, WalFile, WriteOptions } from '../../src/io/types';
import { DelegatingFile } from './delegating-file';
import { prng } from './prng';

/** The sector size at which writes tear (etcd's minSectorSize). */
export const SECTOR = 512;

type Ino = number;

/** One recorded event. Inode numbers are the model's, not the real filesystem's. */
export type HistoryOp =
  | { kind: 'link'; dir: Ino; name: string; ino: Ino; isDir: boolean }
  | { kind: 'unlink'; dir: Ino; name: string }
  | { kind: 'rename'; fromDir: Ino; fromName: string; toDir: Ino; toName: string; ino: Ino }
  | { kind: 'write'; ino: Ino; offset: number; data: Uint8Array }
  | { kind: 'truncate'; ino: Ino; size: number }
  | { kind: 'extend'; ino: Ino; size: number }
  | { kind: 'fsync'; ino: Ino }
  | { kind: 'fsyncDir'; dir: Ino }
  | { kind: 'mark'; label: unknown };

/** A materialisable crash state: path (relative to root, '/'-separated) -> bytes, or null for a directory. */
export type CrashTree = Map<string, Uint8Array | null>;

/** One crash state and what the workload had been told was durable by then. */
export interface CrashState {
  /** Number of history events that had completed. */
  at: number;
  /** Labels of the `mark()` events among them, in order. */
  marks: unknown[];
  tree: CrashTree;
  /** How the state was chosen (for failure messages). */
  how: string;
}

interface ModelDir {
  kind: 'dir';
  entries: Map<string, Ino>;
}
interface ModelFile {
  kind: 'file';
}

/** Kept for callers that import it from here; the one definition is in prng.ts. */
export { prng };

const ROOT: Ino = 1;

/** Wraps `inner`; every operation under `root` is recorded. */
export class RecordingIo implements IoBackend {
  readonly kind = 'custom' as const;
  readonly reason: string;
  readonly crcImplementation: string;
  readonly history: HistoryOp[] = [];
  /** The live namespace of the model (what the process sees). */
  private readonly nodes = new Map<Ino, ModelDir | ModelFile>();
  private nextIno = ROOT + 1;
  /** Files present under root when recording started: their durable initial content. */
  readonly initial = new Map<Ino, Uint8Array>();
  /** Entries present under root when recording started (durable). */
  readonly initialEntries: Array<{ dir: Ino; name: string; ino: Ino; isDir: boolean }> = [];

  constructor(
    readonly inner: IoBackend,
    readonly root: string,
  ) {
    this.reason = `recording over ${inner.kind}`;
    this.crcImplementation = inner.crcImplementation;
    this.root = path.resolve(root);
    this.nodes.set(ROOT, { kind: 'dir', entries: new Map() });
    this.scanExisting(this.root, ROOT);
  }

  /** Takes whatever already exists under root as durable (e.g. a WAL written before recording). */
  private scanExisting(real: string, dir: Ino): void {
    for (const ent of fs.readdirSync(real, { withFileTypes: true })) {
      const ino = this.nextIno++;
      (this.nodes.get(dir) as ModelDir).entries.set(ent.name, ino);
      this.initialEntries.push({ dir, name: ent.name, ino, isDir: ent.isDirectory() });
      const p = path.join(real, ent.name);
      if (ent.isDirectory()) {
        this.nodes.set(ino, { kind: 'dir', entries: new Map() });
        this.scanExisting(p, ino);
      } else {
        this.nodes.set(ino, { kind: 'file' });
        this.initial.set(ino, new Uint8Array(fs.readFileSync(p)));
      }
    }
  }

  /** Adds a label to the history (e.g. an acknowledged index), ordered after everything completed so far. */
  mark(label: unknown): void {
    this.history.push({ kind: 'mark', label });
  }

  // ---------------------------------------------------------------------------------------------
  // Namespace model

  private parts(p: string): string[] {
    const rel = path.relative(this.root, path.resolve(p));
    if (rel === '') return [];
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`RecordingIo: ${p} is outside ${this.root}`);
    return rel.split(path.sep);
  }

  /** The inode at `p`, or undefined. */
  private lookup(p: string): Ino | undefined {
    let ino: Ino = ROOT;
    for (const part of this.parts(p)) {
      const node = this.nodes.get(ino);
      if (node?.kind !== 'dir') return undefined;
      const next = node.entries.get(part);
      if (next === undefined) return undefined;
      ino = next;
    }
    return ino;
  }

  private parentOf(p: string): { dir: Ino; name: string } {
    const parts = this.parts(p);
    if (parts.length === 0) throw new Error('RecordingIo: the root has no parent inside the model');
    const dir = this.lookup(path.join(this.root, ...parts.slice(0, -1)));
    if (dir === undefined) throw new Error(`RecordingIo: parent of ${p} is not in the model`);
    return { dir, name: parts[parts.length - 1]! };
  }

  private apply(op: HistoryOp): void {
    switch (op.kind) {
      case 'link':
        (this.nodes.get(op.dir) as ModelDir).entries.set(op.name, op.ino);
        this.nodes.set(op.ino, op.isDir ? { kind: 'dir', entries: new Map() } : { kind: 'file' });
        break;
      case 'unlink':
        (this.nodes.get(op.dir) as ModelDir).entries.delete(op.name);
        break;
      case 'rename': {
        const from = this.nodes.get(op.fromDir) as ModelDir;
        const ino = from.entries.get(op.fromName)!;
        from.entries.delete(op.fromName);
        (this.nodes.get(op.toDir) as ModelDir).entries.set(op.toName, ino);
        break;
      }
      default:
        break;
    }
    this.history.push(op);
  }

  private linkNew(p: string, isDir: boolean): Ino {
    const { dir, name } = this.parentOf(p);
    const ino = this.nextIno++;
    this.apply({ kind: 'link', dir, name, ino, isDir });
    return ino;
  }

  // ---------------------------------------------------------------------------------------------
  // IoBackend

  crc32c(data: Uint8Array, seed?: number): number {
    return this.inner.crc32c(data, seed);
  }

  crc32cChain(data: Uint8Array, bounds: Uint32Array, seed?: number): Uint32Array {
    return this.inner.crc32cChain(data, bounds, seed);
  }

  allocAligned(size: number, alignment: number): Uint8Array {
    return this.inner.allocAligned(size, alignment);
  }

  async open(p: string, opts: OpenOptions = {}): Promise<WalFile> {
    const existed = this.lookup(p);
    const file = await this.inner.open(p, opts);
    return this.afterOpen(p, opts, existed, file);
  }

  openSync(p: string, opts: OpenOptions = {}): WalFile {
    const existed = this.lookup(p);
    return this.afterOpen(p, opts, existed, this.inner.openSync(p, opts));
  }

  private afterOpen(p: string, opts: OpenOptions, existed: Ino | undefined, file: WalFile): WalFile {
    let ino = existed;
    if (ino === undefined) ino = this.linkNew(p, false);
    else if (opts.truncate && opts.write) this.apply({ kind: 'truncate', ino, size: 0 });
    return new RecordingFile(this, file, ino);
  }

  /** Called by RecordingFile once an operation completed. */
  record(op: HistoryOp): void {
    this.apply(op);
  }

  async fsyncDir(p: string): Promise<void> {
    await this.inner.fsyncDir(p);
    const dir = this.lookup(p);
    if (dir !== undefined) this.apply({ kind: 'fsyncDir', dir });
  }

  async rename(from: string, to: string): Promise<void> {
    await this.inner.rename(from, to);
    const ino = this.lookup(from);
    const a = this.parentOf(from);
    const b = this.parentOf(to);
    if (ino === undefined) throw new Error(`RecordingIo: renamed ${from}, which the model does not know`);
    this.apply({ kind: 'rename', fromDir: a.dir, fromName: a.name, toDir: b.dir, toName: b.name, ino });
  }

  async unlink(p: string): Promise<void> {
    await this.inner.unlink(p);
    const { dir, name } = this.parentOf(p);
    this.apply({ kind: 'unlink', dir, name });
  }

  async mkdir(p: string, mode?: number): Promise<void> {
    await this.inner.mkdir(p, mode);
    // recursive: link every missing component
    const parts = this.parts(p);
    for (let i = 1; i <= parts.length; i++) {
      const sub = path.join(this.root, ...parts.slice(0, i));
      if (this.lookup(sub) === undefined) this.linkNew(sub, true);
    }
  }

  readdir(p: string): Promise<string[]> {
    return this.inner.readdir(p);
  }

  async rm(p: string): Promise<void> {
    const existed = this.lookup(p);
    await this.inner.rm(p);
    if (existed !== undefined) {
      const { dir, name } = this.parentOf(p);
      this.apply({ kind: 'unlink', dir, name });
    }
  }

  stat(p: string): Promise<{ size: number; isDirectory: boolean; isFile: boolean }> {
    return this.inner.stat(p);
  }

  // ---------------------------------------------------------------------------------------------
  // Crash states

  /**
   * Crash states of the recorded history: for every prefix (`at` = 0 .. history.length), the
   * state where exactly the durable part survives, the one where everything pending survives,
   * and `variants` random mixes (pending writes kept, lost, torn or zeroed; a random prefix of
   * each directory's pending entry changes). States are generated lazily.
   */
  *crashStates(opts: { variants: number; seed: number; every?: number }): Generator<CrashState> {
    const replay = new Replay(this.initial, this.initialEntries);
    const rand = prng(opts.seed);
    const every = opts.every ?? 1;
    for (let at = 0; at <= this.history.length; at++) {
      if (at > 0) replay.step(this.history[at - 1]!);
      if (at % every !== 0 && at !== this.history.length) continue;
      yield { at, marks: [...replay.marks], tree: replay.materialise(() => 0, 'none'), how: 'durable only' };
      if (replay.pendingCount() === 0) continue;
      yield { at, marks: [...replay.marks], tree: replay.materialise(() => 0, 'all'), how: 'all pending applied' };
      for (let v = 0; v < opts.variants; v++) {
        const seed = Math.floor(rand() * 2 ** 32);
        yield { at, marks: [...replay.marks], tree: replay.materialise(prng(seed), 'random'), how: `random seed ${seed}` };
      }
    }
  }
}

/** A file handle that records what it does to the file. */
/** Records every completed content change and fsync of one file; everything else passes through. */
class RecordingFile extends DelegatingFile {
  constructor(
    private readonly rec: RecordingIo,
    inner: WalFile,
    private readonly ino: Ino,
  ) {
    super(inner);
  }

  private recordWrite(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): void {
    let size = 0;
    for (const b of buffers) size += b.length;
    const data = new Uint8Array(size);
    let at = 0;
    for (const b of buffers) {
      data.set(b, at);
      at += b.length;
    }
    if (size > 0) this.rec.record({ kind: 'write', ino: this.ino, offset: position, data });
    if (opts?.datasync) this.rec.record({ kind: 'fsync', ino: this.ino });
  }

  override async write(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): Promise<void> {
    // Copy before awaiting: the caller may reuse its buffers once the promise settles.
    const copy = buffers.map((b) => b.slice());
    await this.inner.write(buffers, position, opts);
    this.recordWrite(copy, position, opts);
  }

  override writeSync(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): void {
    this.inner.writeSync(buffers, position, opts);
    this.recordWrite(buffers, position, opts);
  }

  override async datasync(): Promise<void> {
    await this.inner.datasync();
    this.rec.record({ kind: 'fsync', ino: this.ino });
  }

  override async sync(): Promise<void> {
    await this.inner.sync();
    this.rec.record({ kind: 'fsync', ino: this.ino });
  }

  override async truncate(length: number): Promise<void> {
    await this.inner.truncate(length);
    this.rec.record({ kind: 'truncate', ino: this.ino, size: length });
  }

  override async allocate(offset: number, length: number): Promise<void> {
    await this.inner.allocate(offset, length);
    this.rec.record({ kind: 'extend', ino: this.ino, size: offset + length });
  }
}

type ContentOp = Extract<HistoryOp, { kind: 'write' | 'truncate' | 'extend' }>;
type NameOp = Extract<HistoryOp, { kind: 'link' | 'unlink' | 'rename' }>;

/** Applies a content operation to a byte array (returns the new array). */
function applyContent(content: Uint8Array, op: ContentOp, mode: 'whole' | 'zero' | 'torn', rand: () => number): Uint8Array {
  if (op.kind === 'truncate') return resize(content, op.size);
  if (op.kind === 'extend') return op.size > content.length ? resize(content, op.size) : content;
  const end = op.offset + op.data.length;
  const out = end > content.length ? resize(content, end) : content;
  if (mode === 'whole') {
    out.set(op.data, op.offset);
  } else if (mode === 'torn') {
    // Each 512-byte sector (by file offset) independently made it or not.
    for (let s = op.offset; s < end;) {
      const sectorEnd = Math.min(end, (Math.floor(s / SECTOR) + 1) * SECTOR);
      if (rand() < 0.5) out.set(op.data.subarray(s - op.offset, sectorEnd - op.offset), s);
      s = sectorEnd;
    }
  } else {
    out.fill(0, op.offset, end);
  }
  return out;
}

function resize(content: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(content.subarray(0, Math.min(size, content.length)));
  return out;
}

/** Incremental replay of a history into durable + pending state. */
class Replay {
  readonly marks: unknown[] = [];
  /** Durable content per file inode. */
  private readonly durable = new Map<Ino, Uint8Array>();
  private readonly pending = new Map<Ino, ContentOp[]>();
  /** Durable entries per directory inode, and the name operations since its last fsync. */
  private readonly dirs = new Map<Ino, Map<string, Ino>>();
  private readonly dirPending = new Map<Ino, NameOp[]>();
  private readonly isDir = new Set<Ino>([ROOT]);

  constructor(initial: Map<Ino, Uint8Array>, entries: ReadonlyArray<{ dir: Ino; name: string; ino: Ino; isDir: boolean }>) {
    this.dirs.set(ROOT, new Map());
    for (const [ino, content] of initial) this.durable.set(ino, content.slice());
    // Entries that existed before recording started are durable.
    for (const e of entries) {
      if (e.isDir) {
        this.isDir.add(e.ino);
        this.dirs.set(e.ino, new Map());
      }
      this.dirs.get(e.dir)!.set(e.name, e.ino);
    }
  }

  pendingCount(): number {
    let n = 0;
    for (const ops of this.pending.values()) n += ops.length;
    for (const ops of this.dirPending.values()) n += ops.length;
    return n;
  }

  step(op: HistoryOp): void {
    switch (op.kind) {
      case 'mark':
        this.marks.push(op.label);
        return;
      case 'link':
        if (op.isDir) {
          this.isDir.add(op.ino);
          this.dirs.set(op.ino, new Map());
        } else {
          this.durable.set(op.ino, new Uint8Array(0));
        }
        this.pushName(op.dir, op);
        return;
      case 'unlink':
        this.pushName(op.dir, op);
        return;
      case 'rename':
        this.pushName(op.toDir, op);
        if (op.fromDir !== op.toDir) this.pushName(op.fromDir, op);
        return;
      case 'write':
      case 'truncate':
      case 'extend': {
        let list = this.pending.get(op.ino);
        if (list === undefined) this.pending.set(op.ino, (list = []));
        list.push(op);
        return;
      }
      case 'fsync': {
        const list = this.pending.get(op.ino);
        if (list === undefined) return;
        let content: Uint8Array = (this.durable.get(op.ino) ?? new Uint8Array(0)).slice();
        for (const c of list) content = applyContent(content, c, 'whole', () => 0);
        this.durable.set(op.ino, content);
        this.pending.delete(op.ino);
        return;
      }
      case 'fsyncDir': {
        const list = this.dirPending.get(op.dir);
        if (list === undefined) return;
        for (const n of list) this.applyName(this.dirs, n, op.dir);
        this.dirPending.delete(op.dir);
        return;
      }
    }
  }

  private pushName(dir: Ino, op: NameOp): void {
    let list = this.dirPending.get(dir);
    if (list === undefined) this.dirPending.set(dir, (list = []));
    list.push(op);
  }

  /** Applies the effect of `op` on directory `dir`'s entries only. */
  private applyName(dirs: Map<Ino, Map<string, Ino>>, op: NameOp, dir: Ino): void {
    const entries = dirs.get(dir)!;
    switch (op.kind) {
      case 'link':
        entries.set(op.name, op.ino);
        break;
      case 'unlink':
        entries.delete(op.name);
        break;
      case 'rename':
        // Across two directories each side is durable on its own (the file may show up in both).
        if (op.fromDir === dir && entries.get(op.fromName) === op.ino) entries.delete(op.fromName);
        if (op.toDir === dir) entries.set(op.toName, op.ino);
        break;
    }
  }

  /**
   * Builds one crash state. `mode`: 'none' = durable only, 'all' = every pending operation applied
   * whole, 'random' = each pending content op lost / whole / torn / zeroed, each directory keeps a
   * random prefix of its pending name operations.
   */
  materialise(rand: () => number, mode: 'none' | 'all' | 'random'): CrashTree {
    // Directory entries.
    const dirs = new Map<Ino, Map<string, Ino>>();
    for (const [ino, entries] of this.dirs) dirs.set(ino, new Map(entries));
    for (const [dir, ops] of this.dirPending) {
      const keep = mode === 'none' ? 0 : mode === 'all' ? ops.length : Math.floor(rand() * (ops.length + 1));
      for (let i = 0; i < keep; i++) this.applyName(dirs, ops[i]!, dir);
    }
    const tree: CrashTree = new Map();
    const walk = (dir: Ino, prefix: string): void => {
      const entries = dirs.get(dir);
      if (entries === undefined) return;
      for (const [name, ino] of entries) {
        const p = prefix === '' ? name : `${prefix}/${name}`;
        if (this.isDir.has(ino)) {
          tree.set(p, null);
          walk(ino, p);
        } else {
          tree.set(p, this.content(ino, rand, mode));
        }
      }
    };
    walk(ROOT, '');
    return tree;
  }

  private content(ino: Ino, rand: () => number, mode: 'none' | 'all' | 'random'): Uint8Array {
    let content: Uint8Array = (this.durable.get(ino) ?? new Uint8Array(0)).slice();
    const ops = this.pending.get(ino);
    if (ops === undefined || mode === 'none') return content;
    for (const op of ops) {
      if (mode === 'all') {
        content = applyContent(content, op, 'whole', rand);
        continue;
      }
      const r = rand();
      if (op.kind !== 'write') {
        if (r < 0.5) content = applyContent(content, op, 'whole', rand);
      } else if (r < 0.3) {
        // lost
      } else if (r < 0.6) {
        content = applyContent(content, op, 'whole', rand);
      } else if (r < 0.85) {
        content = applyContent(content, op, 'torn', rand);
      } else {
        content = applyContent(content, op, 'zero', rand);
      }
    }
    return content;
  }
}

/** Writes `tree` under `dir` (which must exist and be empty) with plain node:fs. */
export function materialise(tree: CrashTree, dir: string): void {
  for (const [rel, content] of tree) {
    const p = path.join(dir, rel);
    if (content === null) fs.mkdirSync(p, { recursive: true });
    else fs.writeFileSync(p, content);
  }
}

/** A stable digest of a tree, to skip states already checked. */
export function treeKey(tree: CrashTree): string {
  const parts: string[] = [];
  for (const [rel, content] of [...tree].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    parts.push(rel, content === null ? 'D' : `${content.length}:${fnv(content)}`);
  }
  return parts.join('|');
}

function fnv(b: Uint8Array): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < b.length; i++) {
    h1 = Math.imul(h1 ^ b[i]!, 0x01000193);
    h2 = Math.imul(h2 ^ b[i]!, 0x5bd1e995) ^ (h2 >>> 13);
  }
  return `${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
}
