// The power-loss model itself (test/support/recording-io.ts): what its crash states may and must
// contain, on small hand-made histories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultBackend } from '../../src/io/backend';
import { type CrashState, RecordingIo, SECTOR, materialise } from '../support/recording-io';
import { scratchDir } from '../support/crash-states';

function setup(): { rec: RecordingIo; root: string } {
  const root = path.join(scratchDir('nodewal-rec-'), 'r');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'old'), 'existing');
  return { rec: new RecordingIo(defaultBackend, root), root };
}

function finalStates(rec: RecordingIo, variants = 200): CrashState[] {
  return [...rec.crashStates({ variants, seed: 1 })].filter((s) => s.at === rec.history.length);
}

test('files present before recording are durable; unsynced writes may be lost, synced ones never', async () => {
  const { rec, root } = setup();
  await rec.fsyncDir(root);
  const f = await rec.open(path.join(root, 'old'), { write: true });
  await f.write([new TextEncoder().encode('SYNCED')], 0);
  await f.datasync();
  await f.write([new TextEncoder().encode('later')], 20);
  await f.close();
  const states = finalStates(rec);
  const contents = states.map((s) => Buffer.from(s.tree.get('old')!).toString('latin1'));
  assert.ok(
    contents.every((c) => c.startsWith('SYNCED')),
    'a synced write was lost',
  );
  assert.ok(
    contents.some((c) => c.length === 'SYNCEDng'.length),
    'no state lost the unsynced write',
  );
  assert.ok(
    contents.some((c) => c.endsWith('later')),
    'no state kept the unsynced write',
  );
});

test('a created file needs its directory fsynced; a rename without it may be undone', async () => {
  const { rec, root } = setup();
  const f = await rec.open(path.join(root, 'new'), { write: true, create: true });
  await f.write([new Uint8Array([1])], 0, { datasync: true });
  await f.close();
  let states = finalStates(rec);
  assert.ok(
    states.some((s) => !s.tree.has('new')),
    'an un-fsynced create always survived',
  );
  await rec.fsyncDir(root);
  states = finalStates(rec);
  assert.ok(
    states.every((s) => s.tree.get('new')?.[0] === 1),
    'a create lost after fsyncDir',
  );
  await rec.rename(path.join(root, 'new'), path.join(root, 'renamed'));
  states = finalStates(rec);
  assert.ok(
    states.some((s) => s.tree.has('new') && !s.tree.has('renamed')),
    'an un-fsynced rename was never undone',
  );
  assert.ok(
    states.some((s) => s.tree.has('renamed') && !s.tree.has('new')),
    'an un-fsynced rename never survived',
  );
});

test('unsynced multi-sector writes are kept, lost, or torn at 512-byte sector boundaries only', async () => {
  const { rec, root } = setup();
  const f = await rec.open(path.join(root, 'old'), { write: true });
  await f.truncate(0);
  await f.allocate(0, 4 * SECTOR);
  await f.datasync();
  await f.write([new Uint8Array(4 * SECTOR).fill(0xab)], 0);
  await f.close();
  const sectorsOf = (s: CrashState): string => {
    const b = s.tree.get('old')!;
    let out = '';
    for (let k = 0; k < 4; k++) out += b[k * SECTOR] === 0xab ? 'x' : '.';
    // every sector is all-new or all-old
    for (let k = 0; k < 4; k++) {
      const sec = b.subarray(k * SECTOR, (k + 1) * SECTOR);
      assert.ok(
        sec.every((v) => v === sec[0]),
        'a write tore inside a sector',
      );
    }
    return out;
  };
  const shapes = new Set(finalStates(rec).map(sectorsOf));
  assert.ok(shapes.has('xxxx') && shapes.has('....'), `whole and lost: ${[...shapes]}`);
  assert.ok(
    [...shapes].some((s) => s.includes('x') && s.includes('.')),
    `no torn state: ${[...shapes]}`,
  );
});

test('materialise writes the tree as files and directories', () => {
  const dir = scratchDir('nodewal-rec-');
  materialise(
    new Map<string, Uint8Array | null>([
      ['d', null],
      ['d/f', new Uint8Array([5])],
    ]),
    dir,
  );
  assert.deepEqual([...fs.readFileSync(path.join(dir, 'd', 'f'))], [5]);
});

test('an unsynced write past the end may land as zeros (size updated, data not)', async () => {
  const { rec, root } = setup();
  const f = await rec.open(path.join(root, 'old'), { write: true });
  await f.write([new Uint8Array(SECTOR).fill(7)], 8);
  await f.close();
  const states = finalStates(rec);
  assert.ok(
    states.some((s) => {
      const b = s.tree.get('old')!;
      return b.length === 8 + SECTOR && b.subarray(8).every((v) => v === 0);
    }),
    'no state had the extended range as zeros',
  );
});
