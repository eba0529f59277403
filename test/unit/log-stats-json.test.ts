// JSON.stringify(log.stats()) works (JSON has no bigint), and the object itself is unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';

test('stats() serialises to JSON with the indexes as numbers; the object still holds bigints', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024 });
  try {
    await log.appendBatch(['a', 'bb', 'ccc']);
    await log.truncateFront(2n);
    const s = log.stats();
    assert.equal(s.lastIndex, 3n);
    const json = JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
    assert.equal(json['firstIndex'], 2);
    assert.equal(json['lastIndex'], 3);
    assert.equal(json['durableIndex'], 3);
    assert.equal(json['appends'], 3);
    assert.equal(json['bytes'], 6);
    assert.equal((json['fsyncLatency'] as { count: number }).count, s.fsyncLatency.count);
    // Every field is there, and toJSON does not show up when the object is spread or listed.
    assert.deepEqual(Object.keys(json).sort(), Object.keys(s).sort());
    assert.ok(!Object.keys({ ...s }).includes('toJSON'));
  } finally {
    await log.close();
  }
});
