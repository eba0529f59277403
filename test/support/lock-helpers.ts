// Helpers for lock-*.test.ts: worker processes (lock-worker.ts), optionally on another backend or
// in a PID namespace of their own, and directory snapshots (names + bytes).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const workerScript = path.join(__dirname, 'lock-worker.ts');

/** Short lease timings for tests: a watched holder is taken over after ~400 + 200 + 50 ms. */
export const TEST_LOCK = { renewMs: 50, staleMs: 400 } as const;

/** Whether `unshare --pid --fork --mount-proc` works here (root, util-linux). */
export const unshareWorks: boolean = (() => {
  const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', 'echo $$'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === '1';
})();

/**
 * For tests that need a second PID namespace: they never skip. This project's machines and CI run
 * as root, where unshare works; where it does not, the test fails and says why.
 */
export function requireUnshare(): void {
  if (!unshareWorks) {
    throw new Error(
      'unshare --pid --fork --mount-proc does not work here (needs root / CAP_SYS_ADMIN): this test needs a second PID namespace',
    );
  }
}

export interface WorkerOptions {
  /** WAL_NATIVE for the child; default the parent's. */
  native?: '0' | '1';
  /** Run as PID 1 of a new PID namespace (a container restart's situation). */
  pidNamespace?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Reply = Record<string, any>;

export class Worker {
  private buffered = '';
  private readonly lines: Reply[] = [];
  private readonly waiting: ((r: Reply) => void)[] = [];
  private stderr = '';
  /** Highest index acknowledged by a 'stream' command. */
  acked = 0n;
  /** Set once a 'stream' reported a failure. */
  streamFailure: Reply | null = null;
  private streaming = false;
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const reply = JSON.parse(this.buffered.slice(0, nl)) as Reply;
        this.buffered = this.buffered.slice(nl + 1);
        if (this.streaming && 'acked' in reply) this.acked = BigInt(reply['acked']);
        else if (this.streaming && 'failed' in reply) this.streamFailure = reply;
        else {
          const w = this.waiting.shift();
          if (w) w(reply);
          else this.lines.push(reply);
        }
      }
    });
    child.stderr.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(opts: WorkerOptions = {}): Promise<Worker> {
    const env = { ...process.env, ...(opts.native !== undefined ? { WAL_NATIVE: opts.native } : {}) };
    const node = [process.execPath, '--import', 'tsx', workerScript];
    const child = opts.pidNamespace
      ? spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', ...node], { env, stdio: 'pipe' })
      : spawn(node[0]!, node.slice(1), { env, stdio: 'pipe' });
    const w = new Worker(child);
    const hello = await w.next();
    if (hello['ready'] !== true) throw new Error(`worker did not start: ${JSON.stringify(hello)}`);
    w.pid = hello['pid'] as number;
    return w;
  }

  /** The pid the worker sees itself as (1 in its own PID namespace). */
  pid = 0;

  next(): Promise<Reply> {
    const early = this.lines.shift();
    if (early !== undefined) return Promise.resolve(early);
    return new Promise((resolve, reject) => {
      this.waiting.push(resolve);
      void this.exited.then((code) => reject(new Error(`worker exited (${code}): ${this.stderr}`)));
    });
  }

  send(cmd: Reply): void {
    if (cmd['cmd'] === 'stream') this.streaming = true;
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  request(cmd: Reply): Promise<Reply> {
    this.send(cmd);
    return this.next();
  }

  /** The node process's pid as this (the parent's) namespace sees it: unshare's forked child, if any. */
  nodePid(): number {
    const hostPid = this.child.pid!;
    if (this.child.spawnfile !== 'unshare') return hostPid;
    try {
      const kids = fs.readFileSync(`/proc/${hostPid}/task/${hostPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      if (kids.length === 1) return Number(kids[0]);
    } catch {
      // already gone
    }
    return hostPid;
  }

  signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.nodePid(), sig);
    } catch {
      // already gone
    }
  }

  /** kill -9 (the node process itself, inside its PID namespace if it has one) and wait until it is gone. */
  async kill9(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    await this.exited;
  }
}

/** Every file under `dir` with its bytes (directories as null), for before/after comparisons. */
export function snapshot(dir: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const walk = (rel: string): void => {
    const abs = path.join(dir, rel);
    for (const name of fs.readdirSync(abs).sort()) {
      const r = path.join(rel, name);
      const st = fs.lstatSync(path.join(dir, r));
      if (st.isDirectory()) {
        out.set(r, null);
        walk(r);
      } else out.set(r, fs.readFileSync(path.join(dir, r)).toString('base64'));
    }
  };
  walk('');
  return out;
}
