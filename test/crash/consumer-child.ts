/**
 * The processes of the consumer kill -9 cycles (consumer-cycles.ts). Usage:
 *   consumer-child.ts writer <dir> <seed>    opens the Log for writing (retention maxBytes, 'block'),
 *                                            prints `R <lastIndex>`, then appends crashPayload(i)
 *                                            with 8 in flight, printing `A <i>` once i is acknowledged;
 *   consumer-child.ts consumer <dir> <seed>  opens the log read-only (retrying until the writer has
 *                                            published once), opens consumer 'ship', prints
 *                                            `O <committed>`, then reads batches, checking every
 *                                            record is crashPayload(index) and batches are
 *                                            consecutive, printing `D <last>` on delivery and
 *                                            `C <last>` once its commit resolved.
 * `E <message>` reports a violation seen inside the child. Lines go out with fs.writeSync.
 */
import * as fs from 'node:fs';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { Log } from '../../src/log/log';
import { crashPayload, isPayload } from './payload';

const [role, dir, seedArg] = process.argv.slice(2);
const seed = Number(seedArg);
export const CONSUMER_SEGMENT = 16384;
const say = (line: string): void => void fs.writeSync(1, `${line}\n`);

async function writer(): Promise<void> {
  const log = await Log.open(dir!, { segmentSize: CONSUMER_SEGMENT, retention: { maxBytes: 6 * CONSUMER_SEGMENT, policy: 'block' } });
  let next = Number(log.lastIndex) + 1;
  say(`R ${log.lastIndex}`);
  const lane = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const got = await log.append(crashPayload(i, seed));
      if (got !== BigInt(i)) say(`E append of record ${i} got index ${got}`);
      say(`A ${got}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
}

async function consumer(): Promise<void> {
  let log;
  for (;;) {
    try {
      log = await Log.open(dir!, { readOnly: true, pollMs: 2 });
      break;
    } catch (err) {
      if (!isWalError(err, WalErrorCodes.FILE_NOT_FOUND)) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  let c;
  for (;;) {
    try {
      c = await log.consumer('ship');
      break;
    } catch (err) {
      // The previous consumer process may not be reaped yet (fallback: its lock file's pid).
      if (!isWalError(err, WalErrorCodes.LOCKED)) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  say(`O ${c.committed}`);
  let expect = Number(c.committed) + 1;
  for (;;) {
    const batch = await c.read({ maxRecords: 1 + Math.floor(Math.random() * 60), timeoutMs: 200 });
    if (batch.length === 0) continue;
    for (const e of batch) {
      if (Number(e.index) !== expect) say(`E delivered ${e.index}, expected ${expect}`);
      if (!isPayload(e.data, Number(e.index), seed)) say(`E record ${e.index} is not the record written there`);
      expect = Number(e.index) + 1;
    }
    const last = batch[batch.length - 1]!.index;
    say(`D ${last}`);
    await c.commit(last);
    say(`C ${last}`);
  }
}

(role === 'writer' ? writer() : consumer()).catch((err: unknown) => {
  say(`E ${(err as Error)?.stack?.replace(/\n/g, ' | ') ?? String(err)}`);
  process.exit(3);
});
