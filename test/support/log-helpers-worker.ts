/** Worker body for log-worker.test.ts: tries to open the Log in `workerData.dir` and reports the outcome. */
import { parentPort, workerData } from 'node:worker_threads';
import { Log } from '../../src/log/log';

void (async () => {
  try {
    const log = await Log.open(workerData.dir as string, { segmentSize: 8192 });
    const index = await log.append('from worker');
    await log.close();
    parentPort!.postMessage({ ok: true, index: index.toString() });
  } catch (err) {
    parentPort!.postMessage({ ok: false, code: (err as { code?: string }).code ?? String(err) });
  }
})();
