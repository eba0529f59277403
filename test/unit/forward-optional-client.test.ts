/**
 * The NATS client is an optional peer: without it the package and `nodewal/jetstream` still load,
 * `forward()` works with any Sink, and only creating a JetStream sink fails — with a typed error
 * that says what to install. Run in a child process where `nats` cannot be resolved.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';

const root = path.join(__dirname, '..', '..');

test('without `nats` installed: the root and the jetstream entry load; creating a sink is ERR_WAL_FORWARD_CLIENT_MISSING', () => {
  const script = `
    const api = require('./src/index.ts');
    const js = require('./src/jetstream/index.ts');
    if (typeof api.forward !== 'function' || typeof api.decodeBatch !== 'function') throw new Error('root exports missing');
    let nats = 'not tried';
    try { require('nats'); nats = 'resolvable'; } catch (e) { nats = e.code; }
    js.jetStreamSink({ servers: 'nats://127.0.0.1:1', stream: 'S', subject: 'x' }).then(
      () => console.log(JSON.stringify({ nats, code: 'no error' })),
      (e) => console.log(JSON.stringify({ nats, code: e.code, loaded: Object.keys(require.cache).some((f) => f.includes('/node_modules/nats/')) })),
    );`;
  const r = spawnSync(process.execPath, ['-r', './test/support/hide-nats.cjs', '--import', 'tsx', '-e', script], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), { nats: 'MODULE_NOT_FOUND', code: 'ERR_WAL_FORWARD_CLIENT_MISSING', loaded: false });
});
