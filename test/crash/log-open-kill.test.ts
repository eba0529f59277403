// kill -9 during Log.open's own repair and preparation, with real processes: the directory holds a
// torn last record in a 16 MiB tail, so each open copies the tail to `.broken`, truncates it and
// zero-fills it again. Children are SIGKILLed at random moments of that (and of the appends
// after it), twice over each of LOG_OPEN_KILL_CYCLES (default 6) copies; after each kill the
// parent checks: every
// record before the torn one intact, every acknowledged new record present, the torn record
// never back, and once the tail has been cut, a complete `.broken` copy of the damaged segment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Log } from '../../src/log/log';
import { DAMAGE_CASES, walFiles } from '../support/damaged-tails';
import { prng } from '../support/prng';
import { tempDir } from '../support/tmp';
import { ORIGINAL, SEGMENT, freshRecord, original } from './log-open-kill-records';
import { onLines } from '../support/lines';

const CYCLES = Number(process.env['LOG_OPEN_KILL_CYCLES'] ?? 6);
const ROOT = path.join(__dirname, '..', '..');

/** Runs the child until it has said "start" and then `delayMs` more, kills it; returns the last acknowledged index. */
function runAndKill(dir: string, delayMs: number): Promise<{ acked: number; opened: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'log-open-kill-child.ts'), dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let acked = 0;
    let opened = false;
    let stderr = '';
    let timer: NodeJS.Timeout | null = null;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    onLines(child.stdout, (line) => {
      if (line === 'start' && timer === null) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      else if (line.startsWith('opened')) opened = true;
      else if (line.startsWith('acked ')) acked = Number(line.slice(6));
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ acked, opened });
      else reject(new Error(`child exited ${code}: ${stderr}`));
    });
  });
}

test(
  `kill -9 during Log.open's repair and preparation (${CYCLES} x 2 kills): nothing acknowledged lost, nothing cut comes back`,
  { timeout: 180_000 },
  async (t) => {
    // On disk (/tmp here), not tmpfs: the copy and zero-fill of 16 MiB must take long enough to be hit.
    const root = tempDir('log-open-kill-');
    const pristine = path.join(root, 'damaged');
    const log = await Log.open(pristine, { segmentSize: SEGMENT });
    for (let i = 1; i <= ORIGINAL; i++) await log.append(original(i));
    await log.close();
    DAMAGE_CASES[0]!.damage(pristine); // the last record ends in a zeroed sector: a torn write
    const tailName = path.basename(walFiles(pristine).at(-1)!);
    const damaged = fs.readFileSync(path.join(pristine, tailName));
    const kept = ORIGINAL - 1;
    const rand = prng(77);
    let killedInOpen = 0;
    let killedMidRepair = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const dir = path.join(root, `cycle-${cycle}`);
      fs.cpSync(pristine, dir, { recursive: true });
      let ackedMax = kept;
      // Twice over the same directory: the second open recovers from a kill inside the first.
      for (let kill = 0; kill < 2; kill++) {
        // The first open of a directory repairs it (~60 ms here): aim the first kill at that.
        const r = await runAndKill(dir, Math.floor(rand() * (kill === 0 ? 80 : 250)));
        if (!r.opened) killedInOpen++;
        ackedMax = Math.max(ackedMax, r.acked);
        const tail = fs.readFileSync(path.join(dir, tailName));
        const brokenPath = path.join(dir, `${tailName}.broken`);
        if (fs.existsSync(brokenPath) && tail.equals(damaged)) killedMidRepair++;
        if (!tail.equals(damaged)) {
          // In-process order: the backup is complete before the truncation starts.
          assert.ok(fs.readFileSync(brokenPath).equals(damaged), `cycle ${cycle}: the tail was cut without its whole .broken copy`);
        }
      }
      const reopened = await Log.open(dir, { segmentSize: SEGMENT });
      try {
        const seen: Buffer[] = [];
        for await (const e of reopened.entries()) seen.push(Buffer.from(e.data));
        assert.ok(seen.length >= ackedMax, `cycle ${cycle}: lost acknowledged records: ${seen.length} < ${ackedMax}`);
        seen.forEach((d, k) =>
          assert.ok(
            d.equals(k < kept ? original(k + 1) : freshRecord(k + 1)),
            `cycle ${cycle}: entry ${k + 1} is not what was written (the torn record back?)`,
          ),
        );
      } finally {
        await reopened.close();
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
    t.diagnostic(`${2 * CYCLES} kills: ${killedInOpen} inside Log.open, ${killedMidRepair} between the backup's creation and the cut`);
    // A run that never hit the open proves nothing about it.
    assert.ok(killedInOpen > 0, 'no kill landed inside Log.open');
  },
);
