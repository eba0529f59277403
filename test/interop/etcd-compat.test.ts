/**
 * Differential tests against etcd 3.4.23's own wal package (Go harness): random call sequences
 * run through both implementations must leave byte-identical directories, and each side must
 * read the other's output the same way. Runs with whatever backend WAL_NATIVE selects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runGo, startGo } from './etcd/harness';
import { dumpDir, goCode, runTs, type Op, type OpResult } from './etcd/script';
import { randomSequences } from './etcd/random-script';
import { WAL } from '../../src/etcd/wal';
import { defaultBackend } from '../../src/io/backend';
import { loadNativeBackend } from '../../src/io/native';
import { isWalError } from '../../src/errors';
import { tempDir } from '../support/tmp';

const SEEDS = Number(process.env['ETCD_INTEROP_SEQUENCES'] ?? 40);
const FIRST_SEED = Number(process.env['ETCD_INTEROP_SEED'] ?? 1);

/** Our fallback backend's lock files are an artefact of that backend, not part of the format. */
const comparable = (files: { name: string }[]): { name: string }[] =>
  files.filter((f) => !f.name.endsWith('.lock') && !f.name.endsWith('.tmp'));

function normalise(results: OpResult[], fromGo: boolean): OpResult[] {
  return results.map((r) => ({ ...r, error: fromGo ? goCode(r.error) : (r.error ?? null) }));
}

function readerOps(dirs: string[]): Op[] {
  const ops: Op[] = [];
  for (const dir of dirs) {
    // no close: etcd's Close of a read-only WAL fails (nil dirFile); readAll already closed the files
    ops.push({ op: 'openForRead', dir, index: '0', term: '0' }, { op: 'readAll' });
    ops.push({ op: 'validSnapshotEntries', dir }, { op: 'verify', dir, index: '0', term: '0' });
  }
  return ops;
}

test(`random sequences: byte-identical directories (${SEEDS} seeds from ${FIRST_SEED}, ${defaultBackend.kind})`, async () => {
  const root = tempDir('etcd-compat-');
  const goSeq = randomSequences(FIRST_SEED, SEEDS, path.join(root, 'go'));
  const tsSeq = randomSequences(FIRST_SEED, SEEDS, path.join(root, 'ts'));

  const goResults = normalise(runGo(goSeq.ops), true);
  const tsResults = normalise(await runTs(tsSeq.ops), false);
  assert.equal(tsResults.length, goResults.length);
  for (let i = 0; i < goResults.length; i++) {
    assert.deepEqual(tsResults[i], goResults[i], `op ${i} (${JSON.stringify(tsSeq.ops[i]).slice(0, 200)})`);
  }
  for (let i = 0; i < SEEDS; i++) {
    const goFiles = comparable(dumpDir(goSeq.dirs[i]!));
    const tsFiles = comparable(dumpDir(tsSeq.dirs[i]!));
    assert.deepEqual(tsFiles, goFiles, `seed ${FIRST_SEED + i}: directories differ`);
  }

  // Each side reads both outputs; all four readings agree (etcd reading etcd is the reference).
  const goOnGo = normalise(runGo(readerOps(goSeq.dirs)), true);
  const goOnTs = normalise(runGo(readerOps(tsSeq.dirs)), true);
  const tsOnGo = normalise(await runTs(readerOps(goSeq.dirs)), false);
  const tsOnTs = normalise(await runTs(readerOps(tsSeq.dirs)), false);
  assert.deepEqual(goOnTs, goOnGo);
  assert.deepEqual(tsOnGo, goOnGo);
  assert.deepEqual(tsOnTs, goOnGo);
  assert.ok(goOnGo.some((r) => r.op === 'readAll' && (r.count ?? 0) > 0));
});

test('Create with nil metadata, explicit empty entries, 10 MiB boundary and a forced cut match etcd', async () => {
  const root = tempDir('etcd-edge-');
  const big = 10_485_600; // spec §10: readable by 3.4.10+
  const ops = (dir: string): Op[] => [
    { op: 'create', dir, metadata: null, segmentSize: 1000 },
    { op: 'save', state: { term: '1', vote: '0', commit: '0' }, entries: [{ term: '1', index: '1', type: 0, data: { b64: '' } }] },
    { op: 'save', state: { term: '1', vote: '0', commit: '1' }, entries: [{ term: '1', index: '2', type: 0, data: { gen: [9, big] } }] },
    { op: 'save', state: { term: '0', vote: '0', commit: '0' }, entries: [{ term: '1', index: '3', type: 2, data: null }] },
    { op: 'saveSnapshot', index: '2', term: '1' },
    { op: 'close' },
    { op: 'open', dir, index: '2', term: '1' },
    { op: 'readAll' },
    { op: 'save', state: { term: '0', vote: '0', commit: '0' }, entries: [{ term: '1', index: '4', type: 0, data: { gen: [3, 2000] } }] },
    { op: 'close' },
    { op: 'dump', dir },
  ];
  const go = normalise(runGo(ops(path.join(root, 'go'))), true);
  const ts = normalise(await runTs(ops(path.join(root, 'ts'))), false);
  // the dump holds the segment names, sizes and hashes
  const strip = (rs: OpResult[]): OpResult[] => rs.map((r) => (r.files ? { ...r, files: comparable(r.files) as OpResult['files'] } : r));
  assert.deepEqual(strip(ts), strip(go));
  assert.ok((go.at(-1)!.files ?? []).length >= 2, 'expected a cut');
});

test('refusing a record etcd 3.4.10+ could not read: nothing written', async () => {
  const dir = path.join(tempDir('etcd-big-'), 'wal');
  const w = await WAL.create(dir, null, { segmentSizeBytes: 4096 });
  const before = dumpDir(dir);
  await assert.rejects(
    w.save({ term: 1n, vote: 0n, commit: 0n }, [{ term: 1n, index: 1n, type: 0, data: new Uint8Array(10_485_760) }]),
    (e) => isWalError(e, 'ERR_WAL_RECORD_TOO_LARGE'),
  );
  await w.sync();
  assert.deepEqual(comparable(dumpDir(dir)), comparable(before));
  await w.close();
  // and etcd reads it as before
  const go = normalise(runGo([{ op: 'openForRead', dir, index: '0', term: '0' }, { op: 'readAll' }]), true);
  assert.equal(go[1]!.error, null);
  assert.equal(go[1]!.count, 0);
});

// Always on the native backend, whichever backend this run defaults to: the claim is about OFD locks,
// which only the addon takes (the fallback's lock file does not exclude etcd, as documented).
test('locks: etcd and our native backend exclude each other (OFD locks)', async () => {
  const loaded = loadNativeBackend();
  assert.ok(loaded.backend, `the addon must be built for this test: ${loaded.error}`);
  const io = loaded.backend;
  const dir = path.join(tempDir('etcd-lock-'), 'wal');
  const held = await startGo([{ op: 'create', dir, metadata: null, segmentSize: 4096 }, { op: 'waitStdin' }, { op: 'close' }]);
  try {
    await assert.rejects(WAL.open(dir, { index: 0n, term: 0n }, { io }), (e) => isWalError(e, 'ERR_WAL_LOCKED'));
    const r = await WAL.openForRead(dir, { index: 0n, term: 0n }, { io });
    await r.readAll();
    await r.close();
  } finally {
    await held.resume();
  }
  const ours = await WAL.open(dir, { index: 0n, term: 0n }, { io });
  try {
    await ours.readAll();
    const go = normalise(runGo([{ op: 'open', dir, index: '0', term: '0' }]), true);
    assert.equal(go[0]!.error, 'ERR_WAL_LOCKED');
  } finally {
    await ours.close();
  }
  assert.ok(fs.existsSync(dir));
});
