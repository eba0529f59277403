// Corrupt and hostile input for the LevelDB reader and the `wal` CLI (fast-check).
// LevelDB reader: mutated logs (bit flips, truncation, zeroed sectors, huge lengths, spliced
// blocks, junk) read with every option set (default paranoid, a reporter, checksum off, strict,
// 'clean' compat, RocksDB format, a random initialOffset): the outcome is records or a WalError,
// never another exception or a hang; with checksums on, every record returned is one that was
// written; reads are sized by the file, not by length fields.
// CLI: dump/verify/stat/repair --yes on mutated etcd directories and LevelDB logs: exit 0 or 1,
// never "internal error", never an exception out of main().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { readLevelDBLog, type LevelDBReadOptions } from '../../src/leveldb/reader';
import { WAL } from '../../src/etcd/wal';
import { WalError } from '../../src/errors';
import { defaultBackend } from '../../src/io/backend';
import { main as cli } from '../../src/cli/main';
import { FaultIo } from '../support/fault-io';
import { scratchDir } from '../support/crash-states';
import { crashPayload, indexOfPayload } from '../crash/payload';

const SEED = 5;
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 120);

async function buildLevelDB(file: string): Promise<Map<number, Uint8Array>> {
  const w = await LevelDBLogWriter.open(file);
  const written = new Map<number, Uint8Array>();
  for (let i = 1; i <= 40; i++) {
    const d = crashPayload(i, SEED);
    written.set(i, d);
    await w.addRecord(d);
  }
  await w.close();
  return written;
}

type Mut =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'zero'; at: number; len: number }
  | { kind: 'length'; at: number; value: number }
  | { kind: 'type'; at: number; value: number }
  | { kind: 'splice'; from: number; to: number; len: number }
  | { kind: 'append'; bytes: Uint8Array };

const mutArb: fc.Arbitrary<Mut> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(1 << 20), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(1 << 20) }),
  fc.record({ kind: fc.constant('zero' as const), at: fc.nat(1 << 20), len: fc.constantFrom(7, 512, 4096, 32768) }),
  // a header's length field (2 bytes at +4) or type (+6) at a random header-ish position
  fc.record({ kind: fc.constant('length' as const), at: fc.nat(1 << 20), value: fc.constantFrom(0, 1, 0x7fff, 0xffff, 32761, 32762) }),
  fc.record({ kind: fc.constant('type' as const), at: fc.nat(1 << 20), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('splice' as const), from: fc.nat(1 << 20), to: fc.nat(1 << 20), len: fc.nat(70000) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 40000 }) }),
);

function mutate(b: Buffer<ArrayBufferLike>, m: Mut): Buffer<ArrayBufferLike> {
  if (b.length === 0 && m.kind !== 'append') return b;
  switch (m.kind) {
    case 'flip': {
      const at = m.at % b.length;
      b[at] = b[at]! ^ (1 << m.bit);
      return b;
    }
    case 'truncate':
      return b.subarray(0, m.at % (b.length + 1));
    case 'zero': {
      const at = m.at % b.length;
      b.fill(0, at, Math.min(b.length, at + m.len));
      return b;
    }
    case 'length': {
      const at = m.at % b.length;
      if (at + 6 <= b.length) b.writeUInt16LE(m.value, at + 4);
      return b;
    }
    case 'type': {
      const at = m.at % b.length;
      if (at + 7 <= b.length) b[at + 6] = m.value;
      return b;
    }
    case 'splice': {
      const from = m.from % b.length;
      const to = m.to % b.length;
      const piece = Buffer.from(b.subarray(from, from + m.len));
      return Buffer.concat([b.subarray(0, to), piece, b.subarray(to)]);
    }
    case 'append':
      return Buffer.concat([b, m.bytes]);
  }
}

async function bounded<T>(what: string, fn: () => Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test(
  `LevelDB reader: mutated logs give written records or a WalError, under every option (${RUNS} runs)`,
  { timeout: 120_000 },
  async () => {
    const scratch = scratchDir('nodewal-fzl-');
    const base = path.join(scratch, 'base.log');
    const written = await buildLevelDB(base);
    const original = fs.readFileSync(base);
    let n = 0;
    let records = 0;
    let errors = 0;
    const optionSets: Array<(size: number, off: number) => LevelDBReadOptions> = [
      () => ({}),
      () => ({ onCorruption: () => undefined }),
      () => ({ checksum: false, onCorruption: () => undefined }),
      () => ({ strict: true, onCorruption: () => undefined }),
      () => ({ compat: 'clean', onCorruption: () => undefined }),
      () => ({ format: 'rocksdb', logNumber: 3, onCorruption: () => undefined }),
      (size, off) => ({ initialOffset: off % (size + 40000), onCorruption: () => undefined }),
    ];
    await fc.assert(
      fc.asyncProperty(fc.array(mutArb, { minLength: 1, maxLength: 3 }), fc.nat(1 << 20), async (muts, off) => {
        let b: Buffer<ArrayBufferLike> = Buffer.from(original);
        for (const m of muts) b = mutate(b, m);
        const file = path.join(scratch, `m${n++}.log`);
        fs.writeFileSync(file, b);
        try {
          for (const [k, make] of optionSets.entries()) {
            const io = new FaultIo(defaultBackend);
            const opts = { ...make(b.length, off), io };
            try {
              await bounded(`read with option set ${k}`, async () => {
                for await (const { data } of readLevelDBLog(file, opts)) {
                  records++;
                  if (opts.checksum === false) continue;
                  const i = indexOfPayload(data);
                  const want = written.get(i);
                  assert.ok(
                    want !== undefined && Buffer.from(want).equals(data),
                    `option set ${k}: returned a record that was never written`,
                  );
                }
              });
            } catch (err) {
              if (err instanceof assert.AssertionError) throw err;
              errors++;
              if (!(err instanceof WalError))
                throw new Error(`option set ${k} threw a non-WalError: ${(err as Error)?.stack ?? String(err)}`);
            }
            // Double-buffered 32 KiB blocks at most, however large a length field claims to be.
            assert.ok(
              io.maxReadLength <= Math.max(2 * 32768, b.length + 4096),
              `read buffer of ${io.maxReadLength} B for a ${b.length} B file`,
            );
          }
        } finally {
          fs.rmSync(file, { force: true });
        }
      }),
      { numRuns: RUNS, seed: Number(process.env['FUZZ_SEED'] ?? 20261122) },
    );
    // Not vacuous: records were read and corruption was reported.
    console.log(`# LevelDB reader fuzz: ${records} records returned, ${errors} WalErrors`);
    assert.ok(records > 0 && errors > 0);
  },
);

/** Runs the CLI, capturing its output; returns the exit code and what it wrote to stderr. */
async function runCli(argv: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const outWrite = process.stdout.write;
  const errWrite = process.stderr.write;
  let stdout = '';
  let stderr = '';
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += chunk.toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += chunk.toString()), true)) as typeof process.stderr.write;
  try {
    const code = await bounded(`wal ${argv.join(' ')}`, () => cli(argv), 10_000);
    return { code, stderr, stdout };
  } finally {
    process.stdout.write = outWrite;
    process.stderr.write = errWrite;
  }
}

test(
  `wal CLI: dump/verify/stat/repair on mutated etcd directories and LevelDB logs exit 0 or 1, never an internal error (${Math.ceil(RUNS / 3)} runs)`,
  { timeout: 120_000 },
  async () => {
    const scratch = scratchDir('nodewal-fzc-');
    const etcdBase = path.join(scratch, 'etcd-base');
    const w = await WAL.create(etcdBase, new Uint8Array([1]), { segmentSizeBytes: 2048 });
    for (let i = 1; i <= 25; i++)
      await w.save({ term: 1n, vote: 1n, commit: BigInt(i - 1) }, [{ term: 1n, index: BigInt(i), type: 0, data: crashPayload(i, SEED) }]);
    await w.close();
    const ldbBase = path.join(scratch, '000007.log');
    await buildLevelDB(ldbBase);
    let n = 0;
    const exits = [0, 0];
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.nat(50), fc.array(mutArb, { minLength: 1, maxLength: 2 }), async (etcd, which, muts) => {
        const target = path.join(scratch, `c${n++}`);
        let victim: string;
        if (etcd) {
          fs.cpSync(etcdBase, target, { recursive: true });
          const segs = fs
            .readdirSync(target)
            .filter((f) => f.endsWith('.wal'))
            .sort();
          victim = path.join(target, segs[which % segs.length]!);
        } else {
          fs.mkdirSync(target);
          victim = path.join(target, '000007.log');
          fs.copyFileSync(ldbBase, victim);
        }
        let b: Buffer<ArrayBufferLike> = fs.readFileSync(victim);
        for (const m of muts) b = mutate(b, m);
        fs.writeFileSync(victim, b);
        const arg = etcd ? target : victim;
        try {
          for (const argv of [
            ['verify', arg],
            ['dump', arg, '--json'],
            ['stat', arg],
            ['repair', arg, '--yes'],
            ['verify', arg],
          ]) {
            const r = await runCli(argv);
            assert.ok(r.code === 0 || r.code === 1, `wal ${argv[0]} exited ${r.code}: ${r.stderr.slice(0, 500)}`);
            assert.ok(!/internal error/.test(r.stderr), `wal ${argv[0]}: ${r.stderr.slice(0, 2000)}`);
            exits[r.code]!++;
          }
        } finally {
          fs.rmSync(target, { recursive: true, force: true });
        }
      }),
      { numRuns: Math.ceil(RUNS / 3), seed: Number(process.env['FUZZ_SEED'] ?? 20261122) },
    );
    console.log(`# CLI fuzz: ${exits[0]} runs exited 0 (healthy), ${exits[1]} exited 1 (damage reported)`);
    assert.ok(exits[0]! > 0 && exits[1]! > 0);
  },
);
