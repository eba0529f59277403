/**
 * The JavaScript cost of one durable append, with the disk taken out: Log runs over an `io`
 * whose batch write (the write+fdatasync call) returns at once, so what is left is queueing,
 * framing, CRC (one crossing per batch), promise resolution and the producers' own loop.
 * 256 producers each await their append; reported as appends/s and µs per append.
 *
 *   node --import tsx bench/log-overhead.bench.ts [seconds=2] [producers=256] [size=100]
 * NODEWAL_BENCH_RECENT_BYTES=n sets recentRecordsBytes (the window of recent records; 0 disables).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultBackend } from '../src/io/backend';
import type { IoBackend, WalFile } from '../src/io/types';
import { Log } from '../src/log/log';

/**
 * `base`, except that writes asking for datasync to a segment (the batches) do nothing. Headers
 * go to `N.tmp` files first and are really written: Log.open refuses a log without one.
 */
function stubbedIo(base: IoBackend): IoBackend {
  const io: IoBackend = Object.create(base) as IoBackend;
  io.open = async (p, o) => {
    const f = await base.open(p, o);
    const w: WalFile = Object.create(f) as WalFile;
    const segment = p.endsWith('.wal');
    w.write = (buffers, position, wo) => (wo?.datasync && segment ? Promise.resolve() : f.write(buffers, position, wo));
    return w;
  };
  return io;
}

async function main(): Promise<void> {
  // `npm run bench log- …` passes the same arguments to every log bench: ignore what is not a number here.
  const arg = (i: number, dflt: number): number =>
    Number.isFinite(Number(process.argv[i])) && process.argv[i] ? Number(process.argv[i]) : dflt;
  const seconds = arg(2, 2);
  const producers = arg(3, 256);
  const size = arg(4, 100);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-overhead-'));
  try {
    const recent = process.env['NODEWAL_BENCH_RECENT_BYTES'];
    const log = await Log.open(dir, {
      io: stubbedIo(defaultBackend),
      segmentSize: 64_000_000,
      ...(recent === undefined ? {} : { recentRecordsBytes: Number(recent) }),
    });
    const data = Buffer.alloc(size, 0x61);
    let n = 0;
    let stop = false;
    const loop = async (): Promise<void> => {
      while (!stop) {
        await log.append(data);
        n++;
      }
    };
    const t0 = performance.now();
    const loops = Array.from({ length: producers }, loop);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    stop = true;
    await Promise.all(loops);
    const secs = (performance.now() - t0) / 1000;
    const s = log.stats();
    await log.close();
    console.log(
      `${defaultBackend.kind}: ${Math.round(n / secs).toLocaleString('en-US')} appends/s with the disk stubbed out ` +
        `(${((secs * 1e6) / n).toFixed(2)} µs per append), ${producers} producers of ${size} B, ${(s.appends / s.batches).toFixed(0)} records per batch`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
