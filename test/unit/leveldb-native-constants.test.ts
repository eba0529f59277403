/**
 * native/leveldb_format.h declares the LevelDB constants the native scan is compiled with; their
 * home is src/leveldb/format.ts. The addon exports what it was built with (`leveldbFormat`), and
 * this test fails when the two disagree. Runs in both modes: it loads the addon itself (a build
 * that cannot load fails the test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend } from '../../src/io/native';
import { BLOCK_SIZE, HEADER_SIZE, MASK_DELTA, RecordType } from '../../src/leveldb/format';
import { levelDBAddonCalls } from '../../src/leveldb/native-scan';

test('the C++ LevelDB constants are the TypeScript ones', () => {
  const loaded = loadNativeBackend();
  assert.ok(loaded.backend, `the addon must load for this test: ${loaded.error}`);
  const calls = levelDBAddonCalls(loaded.backend);
  assert.ok(calls, 'the addon must export its LevelDB calls');
  assert.deepEqual(
    { ...calls.leveldbFormat },
    { BLOCK_SIZE, HEADER_SIZE, ZERO_TYPE: RecordType.ZERO, FULL_TYPE: RecordType.FULL, MASK_DELTA },
  );
});

test("the TypeScript LevelDB constants are LevelDB's (db/log_format.h, util/crc32c.h)", () => {
  // Written out from the format spec, not read from the code under test.
  assert.equal(BLOCK_SIZE, 32768);
  assert.equal(HEADER_SIZE, 7);
  assert.equal(MASK_DELTA, 0xa282ead8);
  assert.deepEqual([RecordType.ZERO, RecordType.FULL, RecordType.FIRST, RecordType.MIDDLE, RecordType.LAST], [0, 1, 2, 3, 4]);
});
