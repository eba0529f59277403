import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { DEFAULT_LOG_OPTIONS, resolveLogOptions } from '../../src/log/options';

const invalid = (err: unknown): boolean => isWalError(err, WalErrorCodes.INVALID_OPTION);

test('defaults are exported and applied', () => {
  const o = resolveLogOptions(undefined);
  assert.equal(o.syncPolicy, 'always');
  assert.equal(o.segmentSize, DEFAULT_LOG_OPTIONS.segmentSize);
  assert.equal(DEFAULT_LOG_OPTIONS.segmentSize, 64_000_000);
  assert.equal(DEFAULT_LOG_OPTIONS.slowSyncMs, 1000);
  assert.ok(Object.isFrozen(DEFAULT_LOG_OPTIONS));
  assert.equal(o.syncThread, 'dedicated');
  assert.equal(resolveLogOptions({ syncThread: 'threadpool' }).syncThread, 'threadpool');
});

test('a misspelt option is refused and the message names the likely one', () => {
  assert.throws(
    () => resolveLogOptions({ syncpolicy: 'none' } as never),
    (err: unknown) => invalid(err) && /syncPolicy/.test(String(err)),
  );
  assert.throws(() => resolveLogOptions({ segmentsize: 4096 } as never), invalid);
  assert.throws(() => resolveLogOptions({ nonsense: 1 } as never), invalid);
});

test('bad values are refused', () => {
  for (const bad of [
    { syncPolicy: 'sometimes' },
    { syncPolicy: { intervalMs: 0 } },
    { syncPolicy: { intervalMS: 5 } },
    { segmentSize: 100 },
    { segmentSize: 1.5e4 + 0.5 },
    { maxQueuedBytes: -1 },
    { onQueueFull: 'drop' },
    { direct: 'yes' },
    { term: 1 },
    { preallocation: 'none' },
    { syncThread: 'pool' },
    { slowSyncMs: -1 },
    { io: {} },
  ]) {
    assert.throws(() => resolveLogOptions(bad as never), invalid, JSON.stringify(bad));
  }
  assert.deepEqual(resolveLogOptions({ syncPolicy: { intervalMs: 5 } }).syncPolicy, { intervalMs: 5 });
});
