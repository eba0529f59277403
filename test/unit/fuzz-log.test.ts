// Corrupt and hostile Log directories (fast-check): byte-level damage to a segment (bit flips,
// truncation, zeroed sectors, huge or negative length words, spliced bytes), missing segments,
// junk files, a directory where a segment should be. Log.open + entries() + get() may only
// return the records that were written, at their indexes, or throw a WalError; never another
// exception or a hang; and a Log that opened must accept an append.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { WalError } from '../../src/errors';
import { scratchDir } from '../support/crash-states';
import { crashPayload, isPayload } from '../crash/payload';

const SEED = 9;
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 120);
const OPTS = { segmentSize: 4096, readBufferBytes: 4096 };

type Mut =
  | { kind: 'flip'; seg: number; at: number; bit: number }
  | { kind: 'truncate'; seg: number; at: number }
  | { kind: 'zero'; seg: number; at: number }
  | { kind: 'length'; seg: number; at: number; value: bigint }
  | { kind: 'splice'; seg: number; from: number; at: number; len: number }
  | { kind: 'delete'; seg: number }
  | { kind: 'dirInstead'; seg: number }
  | { kind: 'junk'; name: string; bytes: Uint8Array };

const mutArb: fc.Arbitrary<Mut> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), seg: fc.nat(20), at: fc.nat(1 << 16), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), seg: fc.nat(20), at: fc.nat(1 << 16) }),
  fc.record({ kind: fc.constant('zero' as const), seg: fc.nat(20), at: fc.nat(1 << 16) }),
  fc.record({
    kind: fc.constant('length' as const),
    seg: fc.nat(20),
    at: fc.nat(1 << 16),
    value: fc.oneof(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.constantFrom(-1n, 2n ** 56n - 1n, 10n * 1024n * 1024n, 100000n),
    ),
  }),
  fc.record({ kind: fc.constant('splice' as const), seg: fc.nat(20), from: fc.nat(20), at: fc.nat(1 << 16), len: fc.nat(3000) }),
  fc.record({ kind: fc.constant('delete' as const), seg: fc.nat(20) }),
  fc.record({ kind: fc.constant('dirInstead' as const), seg: fc.nat(20) }),
  fc.record({
    kind: fc.constant('junk' as const),
    name: fc.constantFrom('junk.wal', '0000000000000099-0000000000000099.wal', '0.tmp', 'x'),
    bytes: fc.uint8Array({ maxLength: 3000 }),
  }),
);

function apply(dir: string, m: Mut): void {
  const segs = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal') && fs.statSync(path.join(dir, n)).isFile())
    .sort();
  if (m.kind === 'junk') {
    fs.rmSync(path.join(dir, m.name), { recursive: true, force: true });
    fs.writeFileSync(path.join(dir, m.name), m.bytes);
    return;
  }
  if (segs.length === 0) return;
  const p = path.join(dir, segs[m.seg % segs.length]!);
  if (m.kind === 'delete') return fs.rmSync(p);
  if (m.kind === 'dirInstead') {
    fs.rmSync(p);
    fs.mkdirSync(p);
    return;
  }
  let b = fs.readFileSync(p);
  if (b.length === 0) return;
  const at = m.at % b.length;
  if (m.kind === 'flip') b[at] = b[at]! ^ (1 << m.bit);
  else if (m.kind === 'truncate') b = b.subarray(0, at);
  else if (m.kind === 'zero') b.fill(0, at - (at % 512), Math.min(b.length, at - (at % 512) + 512));
  else if (m.kind === 'length') {
    // align to 8 like frame starts often are
    const off = at - (at % 8);
    if (off + 8 <= b.length) b.writeBigInt64LE(m.value, off);
  } else if (m.kind === 'splice') {
    const other = fs.readFileSync(path.join(dir, segs[m.from % segs.length]!));
    const from = m.at % Math.max(1, other.length);
    b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + m.len), b.subarray(at)]);
  }
  fs.writeFileSync(p, b);
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

test(`Log: corrupt and hostile directories give the written records or a WalError (${RUNS} runs)`, { timeout: 120_000 }, async () => {
  const scratch = scratchDir('nodewal-fzlog-');
  const base = path.join(scratch, 'base');
  const log = await Log.open(base, OPTS);
  for (let i = 1; i <= 40; i++) await log.append(crashPayload(i, SEED));
  await log.close();
  let n = 0;
  const outcomes = { opened: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(fc.array(mutArb, { minLength: 1, maxLength: 3 }), async (muts) => {
      const dir = path.join(scratch, `c${n++}`);
      fs.cpSync(base, dir, { recursive: true });
      try {
        for (const m of muts) apply(dir, m);
        await bounded('Log.open + read + append', async () => {
          let l: Log;
          try {
            l = await Log.open(dir, { ...OPTS, mustExist: true });
          } catch (err) {
            if (!(err instanceof WalError)) throw new Error(`Log.open threw a non-WalError: ${(err as Error)?.stack ?? String(err)}`);
            outcomes.refused++;
            return;
          }
          outcomes.opened++;
          try {
            for await (const e of l.entries()) {
              assert.ok(isPayload(e.data, Number(e.index), SEED), `record ${e.index} is not what was written there`);
            }
            if (l.lastIndex >= l.firstIndex) assert.ok(isPayload(await l.get(l.lastIndex), Number(l.lastIndex), SEED));
            const next = Number(l.lastIndex) + 1;
            assert.equal(await l.append(crashPayload(next, SEED)), BigInt(next));
          } catch (err) {
            if (err instanceof assert.AssertionError) throw err;
            if (!(err instanceof WalError))
              throw new Error(`reading an opened Log threw a non-WalError: ${(err as Error)?.stack ?? String(err)}`);
          } finally {
            await l.close().catch((err: unknown) => assert.ok(err instanceof WalError, String(err)));
          }
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: RUNS, seed: Number(process.env['FUZZ_SEED'] ?? 20261122) },
  );
  console.log(`# Log fuzz: ${outcomes.opened} opened, ${outcomes.refused} refused with a WalError`);
  assert.ok(outcomes.opened > 0 && outcomes.refused > 0);
});
