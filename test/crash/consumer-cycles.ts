/**
 * kill -9 cycles of a writer process and a consumer process (consumer-child.ts) on one log
 * directory: both start, run for a random while, and are SIGKILLed in a random order at random
 * moments (sometimes the consumer outlives the writer and drains what was published; sometimes
 * the writer is killed while recovering). After each cycle this process opens the log and checks:
 *   - the records are a gap-free run whose data is exactly what was written at each index, and
 *     it holds every acknowledged record;
 *   - the consumer's committed position is not behind any commit that resolved (in any earlier
 *     consumer process), not ahead of what was delivered, and nothing after it was removed
 *     (retention 'block');
 *   - every consumer process resumed exactly at a position at or after the last resolved commit
 *     and at or before the last delivery (at least once, never a skip), and saw no violation.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Log } from '../../src/log/log';
import { childStarter } from './cycles';
import { prng } from '../support/prng';
import { isPayload } from './payload';

export interface ConsumerCycleResult {
  cycles: number;
  acknowledged: number;
  delivered: number;
  committed: number;
  /** Cycles in which retention had removed segments (firstIndex > 1). */
  retained: number;
}

interface Proc {
  lines: string[];
  exited: Promise<void>;
  kill: () => void;
}

function start(s: { cmd: string; args: string[]; env: NodeJS.ProcessEnv }, args: string[]): Proc {
  const child = spawn(s.cmd, [...s.args, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...s.env } });
  const lines: string[] = [];
  let buf = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL' && err.trim() !== '') lines.push(`E stderr: ${err.trim()}`);
      resolve();
    }),
  );
  return { lines, exited, kill: () => void child.kill('SIGKILL') };
}

const last = (lines: string[], tag: string): number => {
  let v = -1;
  for (const l of lines) if (l.startsWith(`${tag} `)) v = Math.max(v, Number(l.slice(2)));
  return v;
};

export async function runConsumerCycles(opts: {
  scratch: string;
  cycles: number;
  seed: number;
  timeLimitMs?: number;
}): Promise<ConsumerCycleResult> {
  const s = await childStarter(opts.scratch, 'consumer-child.ts');
  const res: ConsumerCycleResult = { cycles: 0, acknowledged: 0, delivered: 0, committed: 0, retained: 0 };
  const t0 = Date.now();
  let dir = '';
  let resolvedCommit = 0;
  let deliveredMax = 0;
  let ackedMax = 0;
  /** The cursor's position as this process last read it (a consumer created at 'oldest' starts at firstIndex - 1). */
  let cursorSeen = 0;
  const r = prng(opts.seed);
  for (let cycle = 0; cycle < opts.cycles; cycle++) {
    if (opts.timeLimitMs !== undefined && Date.now() - t0 > opts.timeLimitMs && cycle >= 4) break;
    if (cycle % 10 === 0) {
      dir = path.join(opts.scratch, `c${cycle}`);
      resolvedCommit = deliveredMax = ackedMax = cursorSeen = 0;
    }
    const seed = opts.seed + Math.floor(cycle / 10);
    const w = start(s, ['writer', dir, String(seed)]);
    // The consumer sometimes starts late, after the writer has made progress.
    await new Promise((x) => setTimeout(x, r() * 150));
    const c = start(s, ['consumer', dir, String(seed)]);
    const first = r() < 0.5 ? w : c;
    const second = first === w ? c : w;
    await new Promise((x) => setTimeout(x, 200 + r() * 700));
    first.kill();
    await new Promise((x) => setTimeout(x, r() * 200));
    second.kill();
    await Promise.all([w.exited, c.exited]);
    const problems = [...w.lines, ...c.lines].filter((l) => l.startsWith('E '));
    if (problems.length > 0) throw new Error(`cycle ${cycle} (${dir}): ${problems.join('; ')}`);
    // The consumer resumed at or after every resolved commit and at or before every delivery.
    const opened = last(c.lines, 'O');
    if (opened >= 0) {
      if (opened < resolvedCommit)
        throw new Error(`cycle ${cycle}: consumer resumed at ${opened}, behind the resolved commit ${resolvedCommit}`);
      if (opened > Math.max(deliveredMax, cursorSeen) && cursorSeen > 0) {
        throw new Error(`cycle ${cycle}: consumer resumed at ${opened}, past the last delivery ${deliveredMax}`);
      }
    }
    resolvedCommit = Math.max(resolvedCommit, last(c.lines, 'C'));
    deliveredMax = Math.max(deliveredMax, last(c.lines, 'D'));
    ackedMax = Math.max(ackedMax, last(w.lines, 'A'));
    res.acknowledged += w.lines.filter((l) => l.startsWith('A ')).length;
    res.delivered += c.lines.filter((l) => l.startsWith('D ')).length;
    res.committed += c.lines.filter((l) => l.startsWith('C ')).length;
    if (!fs.existsSync(dir) || !fs.readdirSync(dir).some((n) => n.endsWith('.wal'))) {
      if (ackedMax > 0) throw new Error(`cycle ${cycle}: the log vanished`);
      res.cycles++;
      continue;
    }
    const log = await Log.open(dir, { segmentSize: 16384, mustExist: true });
    try {
      let n = Number(log.firstIndex) - 1;
      for await (const e of log.entries()) {
        if (Number(e.index) !== n + 1) throw new Error(`cycle ${cycle}: record ${e.index} follows ${n}`);
        if (!isPayload(e.data, Number(e.index), seed)) throw new Error(`cycle ${cycle}: record ${e.index} is not what was written there`);
        n = Number(e.index);
      }
      if (n < ackedMax) throw new Error(`cycle ${cycle}: acknowledged ${ackedMax}, recovered up to ${n}`);
      if (log.firstIndex > 1n) res.retained++;
      const names = (await log.consumers()).map((i) => i.name);
      if (names.includes('ship')) {
        const k = await log.consumer('ship');
        const C = Number(k.committed);
        await k.close();
        if (C < resolvedCommit) throw new Error(`cycle ${cycle}: committed ${C} is behind the resolved commit ${resolvedCommit}`);
        if (C > Math.max(deliveredMax, cursorSeen) && cursorSeen > 0)
          throw new Error(`cycle ${cycle}: committed ${C} is past the last delivery ${deliveredMax}`);
        cursorSeen = Math.max(cursorSeen, C, 1);
        if (Number(log.firstIndex) > C + 1) throw new Error(`cycle ${cycle}: records ${C + 1}..${log.firstIndex - 1n} removed uncommitted`);
      } else if (resolvedCommit > 0) throw new Error(`cycle ${cycle}: consumer vanished`);
    } finally {
      await log.close();
    }
    res.cycles++;
  }
  return res;
}
