/**
 * Builds (once, cached by source hash) and drives harness/main.go: etcd 3.4.23's own `wal`
 * package from Debian's golang-etcd-server-dev, compiled in GOPATH mode.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Op, OpResult } from './script';
import { onLines } from '../../support/lines';

const SOURCE = path.join(__dirname, 'harness', 'main.go');
const CACHE = path.join(__dirname, '..', '.cache', 'etcd');
const GOCODE = '/usr/share/gocode';

/** Path of the compiled harness; compiles it when the source changed. Throws if Go or etcd's source is missing. */
export function harnessPath(): string {
  const source = fs.readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const binary = path.join(CACHE, `harness-${hash}`);
  if (fs.existsSync(binary)) return binary;
  if (!fs.existsSync(path.join(GOCODE, 'src/go.etcd.io/etcd/wal/wal.go'))) {
    throw new Error(`${GOCODE}/src/go.etcd.io/etcd/wal not found: install Debian golang-go golang-etcd-server-dev`);
  }
  fs.mkdirSync(CACHE, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  execFileSync('go', ['build', '-o', tmp, '.'], {
    cwd: path.dirname(SOURCE),
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 180_000,
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${path.join(CACHE, 'gopath')}:${GOCODE}`,
      GOCACHE: path.join(CACHE, 'gocache'),
      GOFLAGS: '',
    },
  });
  fs.renameSync(tmp, binary);
  return binary;
}

function writeScript(ops: readonly Op[]): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-script-')), 'script.json');
  fs.writeFileSync(file, JSON.stringify({ ops }));
  return file;
}

/** Runs a script through etcd's code; one result per op. */
export function runGo(ops: readonly Op[], timeoutMs = 120_000): OpResult[] {
  const script = writeScript(ops);
  try {
    const r = spawnSync(harnessPath(), [script], { maxBuffer: 1 << 30, timeout: timeoutMs });
    if (r.status !== 0) {
      throw new Error(`etcd harness exited ${r.status ?? r.signal}: ${r.stderr?.toString().slice(-4000)}`);
    }
    return r.stdout
      .toString()
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as OpResult);
  } finally {
    fs.rmSync(path.dirname(script), { recursive: true, force: true });
  }
}

/**
 * Starts a script that contains a `waitStdin` op; resolves once that op is reached, with a
 * function that lets the script continue and resolves with all results when it exits.
 */
export async function startGo(ops: readonly Op[], timeoutMs = 60_000): Promise<{ results: OpResult[]; resume: () => Promise<OpResult[]> }> {
  const script = writeScript(ops);
  const child = spawn(harnessPath(), [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  const results: OpResult[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<OpResult[]>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      fs.rmSync(path.dirname(script), { recursive: true, force: true });
      if (code === 0) resolve(results);
      else reject(new Error(`etcd harness exited ${code ?? signal}: ${stderr.slice(-4000)}`));
    });
  });
  exited.catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    onLines(child.stdout, (line) => {
      const res = JSON.parse(line) as OpResult;
      results.push(res);
      if (res.op === 'waitStdin') resolve();
    });
    exited.then(() => reject(new Error('harness exited before waitStdin')), reject);
  });
  return {
    results,
    resume: () => {
      child.stdin.end('\n');
      return exited;
    },
  };
}

/** Whether Go and etcd's source are installed (CI installs them; see scripts/install-system-deps.sh). */
export function goAvailable(): boolean {
  return spawnSync('go', ['version']).status === 0 && fs.existsSync(path.join(GOCODE, 'src/go.etcd.io/etcd/wal/wal.go'));
}
