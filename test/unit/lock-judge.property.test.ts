// Property: for any lease a holder could have left (released or not; this boot or another; this
// host or another; our PID namespace or another; its pid this process's (another worker thread),
// ours from an earlier process, dead, alive or recycled; native or
// fallback; renewing or silent), Log.open decides as the table in docs/durability.md ("How a holder
// is judged dead") says: taken at once, refused at once, or watched — and then refused if it
// renews, taken if it stands still. "At once" is checked by planting a lease that would take a
// minute to watch; a watched one declares staleMs of 300 ms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { isWalError } from '../../src/errors';
import { defaultBackend } from '../../src/io/backend';
import { selfIdentity } from '../../src/lock/identity';
import { encodeContent, type LeaseContent } from '../../src/lock/lease-file';
import { tempDir } from '../support/tmp';

type PidKind = 'this process' | 'own pid, earlier process' | 'dead' | 'alive' | 'recycled';
interface Case {
  released: boolean;
  sameBoot: boolean;
  sameHost: boolean;
  beforeBoot: boolean;
  sameNamespace: boolean;
  pid: PidKind;
  backend: 'native' | 'fallback';
  renewing: boolean;
}
type Outcome = 'taken at once' | 'refused at once' | 'refused after watching' | 'taken after watching';

/** docs/durability.md's table, row by row. */
function expected(c: Case, nativeOpener: boolean): Outcome {
  if (c.released) return 'taken at once';
  if (c.sameBoot) {
    if (c.backend === 'native' && nativeOpener) return 'taken at once'; // a planted file holds no OFD lock
    if (c.sameNamespace) return c.pid === 'alive' || c.pid === 'this process' ? 'refused at once' : 'taken at once';
  } else if (c.sameHost && c.beforeBoot && !c.renewing) return 'taken at once'; // a renewing holder renewed just now
  return c.renewing ? 'refused after watching' : 'taken after watching';
}

const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);

test('Log.open judges any planted lease as the documented table says', async () => {
  const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  const me = selfIdentity();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          released: fc.boolean(),
          sameBoot: fc.boolean(),
          sameHost: fc.boolean(),
          beforeBoot: fc.boolean(),
          sameNamespace: fc.boolean(),
          pid: fc.constantFrom<PidKind>('this process', 'own pid, earlier process', 'dead', 'alive', 'recycled'),
          backend: fc.constantFrom<'native' | 'fallback'>('native', 'fallback'),
          renewing: fc.boolean(),
        }),
        async (c) => {
          const want = expected(c, defaultBackend.kind === 'native');
          const watched = want.endsWith('watching');
          const dir = path.join(tempDir(), 'log');
          fs.mkdirSync(dir);
          const pid = {
            'this process': me.pid,
            'own pid, earlier process': me.pid,
            dead: deadPid,
            alive: sleeper.pid!,
            recycled: sleeper.pid!,
          }[c.pid];
          const startTime = { 'this process': me.startTime, 'own pid, earlier process': '1', dead: null, alive: null, recycled: '1' }[
            c.pid
          ];
          const content: LeaseContent = {
            v: 1,
            token: `planted-${Math.random()}`,
            pid,
            hostname: c.sameHost ? me.hostname : `other-${me.hostname}`,
            bootId: c.sameBoot ? me.bootId : 'another-boot',
            pidNamespace: c.sameNamespace ? me.pidNamespace : 'pid:[1]',
            startTime,
            backend: c.backend,
            // Watched: 300 ms of silence, while the renewer below touches it every 20 ms (a loaded
            // machine may delay a timer by tens of ms, not by 300).
            renewMs: watched ? 25 : 15_000,
            staleMs: watched ? 300 : 60_000,
            acquiredAt: new Date().toISOString(),
            ...(c.released ? { released: true as const } : {}),
          };
          const file = path.join(dir, 'nodewal-lock.3.tmp');
          fs.writeFileSync(file, encodeContent(content));
          const at = c.beforeBoot ? new Date(Date.now() - os.uptime() * 1000 - 3_600_000) : new Date();
          fs.utimesSync(file, at, at);
          const renew = (): void => {
            try {
              fs.utimesSync(file, new Date(), new Date());
            } catch {
              // taken over and cleaned up at close: nothing left to renew
            }
          };
          if (c.renewing) renew(); // its last renewal is now, whatever `beforeBoot` planted
          const renewer = c.renewing ? setInterval(renew, 20) : null;
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise<'too slow'>((r) => (timer = setTimeout(() => r('too slow'), 20_000)));
          try {
            const got = await Promise.race([
              Log.open(dir, { lock: { renewMs: 25, staleMs: 150 }, segmentSize: 4096, preallocation: 'fallocate' }).then(
                async (log) => {
                  await log.close();
                  return 'taken';
                },
                (e: unknown) => (isWalError(e, 'ERR_WAL_LOCKED') ? 'refused' : `failed: ${String(e)}`),
              ),
              deadline,
            ]);
            assert.equal(got, want.split(' ')[0], `${JSON.stringify(c)}: expected ${want}, got ${got}`);
          } finally {
            clearTimeout(timer);
            if (renewer !== null) clearInterval(renewer);
          }
        },
      ),
      { numRuns: Number(process.env['FUZZ_RUNS'] ?? 40), seed: process.env['FUZZ_SEED'] ? Number(process.env['FUZZ_SEED']) : undefined },
    );
  } finally {
    sleeper.kill('SIGKILL');
  }
});
