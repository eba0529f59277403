// Corrupt and hostile etcd WAL directories (fast-check): bit flips, truncation, zeroed sectors,
// huge or negative length words, spliced and missing segments, wrong names, junk files, a
// directory where a segment should be. open/openForRead+readAll, verify, validSnapshotEntries
// and repair may only return correct data or throw a WalError; never an untyped exception, never
// hang, never ask for a read buffer much larger than the largest file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { WAL } from '../../src/etcd/wal';
import type { Entry } from '../../src/etcd/codec';
import { WalError } from '../../src/errors';
import { defaultBackend } from '../../src/io/backend';
import { FaultIo } from '../support/fault-io';
import { prng } from '../support/prng';
import { scratchDir } from '../support/crash-states';
import { etcdFrames } from '../support/cli-helpers';

const SNAP0 = { index: 0n, term: 0n };
const SEGMENT = 1500;

interface Base {
  dir: string;
  names: string[];
  /** Frame start offsets per segment name. */
  frames: Map<string, number[]>;
  entries: Map<bigint, Entry>;
}

async function buildBase(dir: string): Promise<Base> {
  const r = prng(42);
  const w = await WAL.create(dir, new TextEncoder().encode('meta'), { segmentSizeBytes: SEGMENT });
  const entries = new Map<bigint, Entry>();
  for (let i = 1; i <= 30; i++) {
    const n = r() < 0.2 ? 700 + Math.floor(r() * 900) : Math.floor(r() * 120);
    const data = new Uint8Array(n).map(() => (r() * 256) | 0);
    const e: Entry = { term: 2n, index: BigInt(i), type: 0, data };
    entries.set(e.index, e);
    await w.save({ term: 2n, vote: 1n, commit: BigInt(i - 1) }, [e]);
    if (i === 12) await w.saveSnapshot({ index: 12n, term: 2n });
  }
  await w.close();
  const names = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
  const frames = new Map<string, number[]>();
  for (const name of names) {
    frames.set(
      name,
      etcdFrames(path.join(dir, name)).map((f) => f.offset),
    );
  }
  return { dir, names, frames, entries };
}

type Mutation =
  | { kind: 'flip'; file: number; at: number; bit: number }
  | { kind: 'truncate'; file: number; at: number }
  | { kind: 'zeroSector'; file: number; at: number }
  | { kind: 'length'; file: number; frame: number; value: bigint }
  | { kind: 'splice'; file: number; from: number; at: number }
  | { kind: 'delete'; file: number }
  | { kind: 'rename'; file: number; name: string }
  | { kind: 'junk'; name: string; bytes: Uint8Array }
  | { kind: 'dirInstead'; file: number }
  | { kind: 'junkDir'; name: string };

const fileIdx = fc.nat(50);
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), file: fileIdx, at: fc.nat(1 << 20), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), file: fileIdx, at: fc.nat(1 << 20) }),
  fc.record({ kind: fc.constant('zeroSector' as const), file: fileIdx, at: fc.nat(1 << 20) }),
  fc.record({
    kind: fc.constant('length' as const),
    file: fileIdx,
    frame: fc.nat(40),
    value: fc.oneof(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.constantFrom(-1n, -8n, 2n ** 56n - 1n, 10n * 1024n * 1024n, 2n ** 62n, 1n, 7n, 0n),
      fc.bigInt({ min: 1n, max: 5000n }),
    ),
  }),
  fc.record({ kind: fc.constant('splice' as const), file: fileIdx, from: fileIdx, at: fc.nat(1 << 20) }),
  fc.record({ kind: fc.constant('delete' as const), file: fileIdx }),
  fc.record({
    kind: fc.constant('rename' as const),
    file: fileIdx,
    name: fc.constantFrom(
      'garbage.wal',
      '0000000000000009-0000000000000000.wal',
      '1-2.wal',
      'FFFFFFFFFFFFFFFF-FFFFFFFFFFFFFFFF.wal',
      '0000000000000000-0000000000000000.wal',
      '0000000000000001-0000000000000005.wal.wal',
      'x.tmp',
      '.wal',
    ),
  }),
  fc.record({
    kind: fc.constant('junk' as const),
    name: fc.constantFrom('junk.wal', '0000000000000099-0000000000000099.wal', 'zzzz', '0.tmp', 'a.wal.broken'),
    bytes: fc.uint8Array({ maxLength: 3000 }),
  }),
  fc.record({ kind: fc.constant('dirInstead' as const), file: fileIdx }),
  fc.record({ kind: fc.constantFrom('junkDir' as const), name: fc.constantFrom('zz.wal', '0000000000000050-0000000000000050.wal') }),
);

function segments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal') && fs.statSync(path.join(dir, n)).isFile())
    .sort();
}

function apply(dir: string, base: Base, m: Mutation): void {
  const segs = segments(dir);
  if (segs.length === 0 && m.kind !== 'junk' && m.kind !== 'junkDir') return;
  const name = segs[('file' in m ? m.file : 0) % Math.max(1, segs.length)]!;
  const p = path.join(dir, name);
  const read = (): Buffer => fs.readFileSync(p);
  switch (m.kind) {
    case 'flip': {
      const b = read();
      if (b.length === 0) return;
      const at = m.at % b.length;
      b[at] = b[at]! ^ (1 << m.bit);
      fs.writeFileSync(p, b);
      return;
    }
    case 'truncate': {
      const b = read();
      fs.truncateSync(p, m.at % (b.length + 1));
      return;
    }
    case 'zeroSector': {
      const b = read();
      if (b.length === 0) return;
      const s = Math.floor((m.at % b.length) / 512) * 512;
      b.fill(0, s, Math.min(b.length, s + 512));
      fs.writeFileSync(p, b);
      return;
    }
    case 'length': {
      const starts = base.frames.get(name) ?? [0];
      const off = starts[m.frame % starts.length] ?? 0;
      const b = read();
      if (off + 8 > b.length) return;
      b.writeBigInt64LE(m.value, off);
      fs.writeFileSync(p, b);
      return;
    }
    case 'splice': {
      const other = fs.readFileSync(path.join(dir, segs[m.from % segs.length]!));
      const b = read();
      const at = m.at % (b.length + 1);
      fs.writeFileSync(p, Buffer.concat([b.subarray(0, at), other]));
      return;
    }
    case 'delete':
      fs.rmSync(p);
      return;
    case 'rename':
      fs.renameSync(p, path.join(dir, m.name));
      return;
    case 'junk':
      fs.rmSync(path.join(dir, m.name), { recursive: true, force: true });
      fs.writeFileSync(path.join(dir, m.name), m.bytes);
      return;
    case 'dirInstead':
      fs.rmSync(p);
      fs.mkdirSync(p);
      return;
    case 'junkDir':
      fs.rmSync(path.join(dir, m.name), { recursive: true, force: true });
      fs.mkdirSync(path.join(dir, m.name));
      return;
  }
}

function largestFile(dir: string): number {
  let max = 0;
  for (const n of fs.readdirSync(dir)) {
    const st = fs.statSync(path.join(dir, n));
    if (st.isFile()) max = Math.max(max, st.size);
  }
  return max;
}

/** Runs `fn` with a deadline; a hang fails the property. */
async function bounded<T>(what: string, fn: () => Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Only a WalError may escape. */
async function outcome<T>(what: string, fn: () => Promise<T>): Promise<T | WalError> {
  try {
    return await bounded(what, fn);
  } catch (err) {
    if (err instanceof WalError && typeof err.code === 'string' && err.code.startsWith('ERR_WAL_')) return err;
    throw new Error(`${what} threw a non-WalError: ${(err as Error)?.stack ?? String(err)}`);
  }
}

function checkEntries(base: Base, entries: Entry[]): void {
  for (const e of entries) {
    const want = base.entries.get(e.index);
    assert.ok(want !== undefined, `returned an entry with index ${e.index} that was never written`);
    assert.deepEqual(e, want, `entry ${e.index} returned with different content`);
  }
}

async function exercise(dir: string, base: Base): Promise<void> {
  const io = new FaultIo(defaultBackend);
  const opts = { io, segmentSizeBytes: SEGMENT };
  const maxFile = largestFile(dir);
  for (const snap of [SNAP0, { index: 12n, term: 2n }]) {
    const ro = await outcome('openForRead', () => WAL.openForRead(dir, snap, opts));
    if (!(ro instanceof WalError)) {
      const res = await outcome('readAll (read mode)', () => ro.readAll());
      if (!(res instanceof WalError)) checkEntries(base, res.entries);
      else if ('result' in res) checkEntries(base, (res as WalError & { result: { entries: Entry[] } }).result.entries);
      await ro.close();
    }
    await outcome('verify', () => WAL.verify(dir, snap, opts));
  }
  const snaps = await outcome('validSnapshotEntries', () => WAL.validSnapshotEntries(dir, opts));
  if (!(snaps instanceof WalError)) for (const s of snaps) assert.ok(s.index === 0n || s.index === 12n, 'snapshot never written');
  const rw = await outcome('open', () => WAL.open(dir, SNAP0, opts));
  if (!(rw instanceof WalError)) {
    const res = await outcome('readAll (write mode)', () => rw.readAll());
    if (!(res instanceof WalError)) checkEntries(base, res.entries);
    await outcome('close', () => rw.close());
  }
  const repaired = await outcome('repair', () => WAL.repair(dir, opts));
  assert.ok(typeof repaired === 'boolean' || repaired instanceof WalError);
  if (repaired === true) {
    const again = await outcome('open after repair', () => WAL.open(dir, SNAP0, opts));
    if (!(again instanceof WalError)) {
      const res = await outcome('readAll after repair', () => again.readAll());
      if (!(res instanceof WalError)) checkEntries(base, res.entries);
      await outcome('close', () => again.close());
    }
  }
  // Reads are sized by the files, not by what a length word claims (repair's fixed 1 MiB copy
  // buffer is the one allowance: its size does not depend on the input).
  const bound = Math.max(Math.max(largestFile(dir), maxFile) + 4096, REPAIR_COPY_BUFFER);
  assert.ok(io.maxReadLength <= bound, `read buffer of ${io.maxReadLength} B for files of at most ${maxFile} B`);
}

const REPAIR_COPY_BUFFER = 1 << 20;
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 120);

test('regression: reading a small WAL never allocates a read buffer far larger than its files', async () => {
  const scratch = scratchDir('nodewal-fz-');
  const base = await buildBase(path.join(scratch, 'base'));
  const io = new FaultIo(defaultBackend);
  const w = await WAL.openForRead(base.dir, SNAP0, { io });
  const { entries } = await w.readAll();
  await w.close();
  assert.equal(entries.length, 30);
  // The decoder used to allocate its 1 MiB default chunk for every 1.5 KB segment.
  assert.ok(io.maxReadLength <= largestFile(base.dir) + 4096, `read buffer of ${io.maxReadLength} B`);
});

test(`etcd WAL: corrupt and hostile directories give correct data or a WalError (${RUNS} runs)`, { timeout: 120_000 }, async () => {
  const scratch = scratchDir('nodewal-fz-');
  const base = await buildBase(path.join(scratch, 'base'));
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const dir = path.join(scratch, `c${n++}`);
      fs.cpSync(base.dir, dir, { recursive: true });
      try {
        for (const m of mutations) apply(dir, base, m);
        await exercise(dir, base);
      } catch (err) {
        // fast-check's report keeps only the shrunk input; print why it failed.
        if (process.env['FUZZ_VERBOSE'])
          console.error(
            JSON.stringify(mutations, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)),
            err,
          );
        throw err;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: RUNS, seed: Number(process.env['FUZZ_SEED'] ?? 20261122) },
  );
});
