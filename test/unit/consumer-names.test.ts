// Which directory entries are cursors: a cursor's lease files and the drafts a lease is written
// under first sit beside it with the cursor's name as a prefix, and must never list as consumers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consumerNames } from '../../src/log/cursor-file';

test('consumerNames lists cursors, not their leases or lease drafts', () => {
  const listing = [
    'consumer.ship.tmp',
    'consumer.ship.tmp.nodewal-lock.3.tmp',
    'consumer.ship.tmp.nodewal-lock-draft.5f2a9c.tmp', // seen in a kill -9 run: listed as "ship.tmp.nodewal-lock-draft.5f2a9c"
    'consumer.b.new.tmp',
    'consumer.a.b.tmp',
    'consumers.lock',
    '0000000000000000-0000000000000000.wal',
  ];
  assert.deepEqual(consumerNames(listing), ['a.b', 'ship']);
});
