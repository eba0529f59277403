import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';

function openInWorker(dir: string): Promise<{ ok: boolean; code?: string; index?: string }> {
  return new Promise((resolve, reject) => {
    // Workers do not inherit the tsx loader: register it, then load the TypeScript worker body.
    const body = path.join(__dirname, '..', 'support', 'log-helpers-worker.ts');
    const w = new Worker(`require('tsx/cjs/api').register(); require(${JSON.stringify(body)});`, {
      eval: true,
      workerData: { dir },
    });
    w.once('message', (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

test('one writer per directory across worker threads: a worker is refused while the main thread holds the log', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, { segmentSize: 8192 });
  await log.append('main');
  const refused = await openInWorker(dir);
  assert.deepEqual(refused, { ok: false, code: 'ERR_WAL_LOCKED' });
  await log.close();
  const allowed = await openInWorker(dir);
  assert.deepEqual(allowed, { ok: true, index: '2' });
});
