/**
 * How an opener ended, as a comparable string: 'ok', or the WalError code (anything else is a
 * defect and is reported as such). Shared by log-hostile-layout.test.ts and its child process.
 */
import { WAL } from '../../src/etcd/wal';
import { WalError } from '../../src/errors';

export async function openDecision<T>(open: () => Promise<T>, close: (v: T) => Promise<unknown>): Promise<string> {
  let v: T;
  try {
    v = await open();
  } catch (err) {
    if (err instanceof WalError && err.file !== undefined) return err.code;
    return `NOT A WalError NAMING A FILE: ${(err as Error)?.stack ?? String(err)}`;
  }
  await close(v);
  return 'ok';
}

/** WAL.open + readAll, as a writer starts. */
export function walDecision(open: () => Promise<WAL>): Promise<string> {
  return openDecision(
    async () => {
      const w = await open();
      try {
        await w.readAll();
      } catch (err) {
        await w.close().catch(() => undefined);
        throw err;
      }
      return w;
    },
    (w) => w.close(),
  );
}
