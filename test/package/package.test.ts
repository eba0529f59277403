/**
 * Packaging: what a user gets from `npm install nodewal` (better-sqlite3 `test/02.entrypoints.js`,
 * habit 23). The package is packed (`npm pack`, whose prepack/prepare hooks build dist/ and the
 * prebuild), installed from the tarball into empty projects with npm's cache only (--offline), and
 * exercised there by fresh Node processes:
 *   - install and load with no compiler, make or python on PATH → the prebuilt binary;
 *   - installed with --ignore-scripts → still the prebuilt binary;
 *   - no binary at all and a failing build → install succeeds, says why, the fallback runs;
 *   - WAL_NATIVE=0 → the fallback;
 *   - ESM `import` and CJS `require` → one module instance;
 *   - the shipped types under `tsc --noEmit --strict` (ESM and CJS resolution);
 *   - inside a worker_threads Worker, and in two at once;
 *   - a second process opening a WAL in use → ERR_WAL_LOCKED.
 *
 * Run with `npm run test:package` (under a minute: one pack, two offline installs). It targets
 * linux-x64 glibc, the platform the package ships a prebuild for.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { extractBlocks, walCommandLines } from '../support/markdown';

const repo = path.join(__dirname, '..', '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-package-'));
process.on('exit', () => {
  if (!process.env['KEEP_TMP']) fs.rmSync(work, { recursive: true, force: true });
});

/** npm's CLI next to this Node (run with process.execPath, so PATH needs no `npm`). */
const npmCli = [
  process.env['npm_execpath'],
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
].find((p): p is string => !!p && p.endsWith('.js') && fs.existsSync(p));

/**
 * A PATH holding nothing but `node` and `sh` (npm runs lifecycle scripts with `sh` from PATH): no
 * cc, g++, make or python3, so any attempt to compile fails.
 */
const bareBin = path.join(work, 'bare-bin');
fs.mkdirSync(bareBin);
fs.symlinkSync(process.execPath, path.join(bareBin, 'node'));
fs.symlinkSync('/bin/sh', path.join(bareBin, 'sh'));

/** The environment without npm's per-run variables, WAL_NATIVE or a PYTHON override. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|WAL_NATIVE|PYTHON|NODE_OPTIONS$|INIT_CWD$)/i.test(k)) continue;
    env[k] = v;
  }
  env['PATH'] = bareBin;
  return { ...env, ...extra };
}

function run(command: string, args: string[], cwd: string, env = cleanEnv()): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Runs `code` with Node in `project` (as an ES module when `esm`) and returns its stdout. */
function node(project: string, code: string, opts: { esm?: boolean; env?: Record<string, string> } = {}): string {
  const file = path.join(project, `snippet-${Math.random().toString(36).slice(2)}.${opts.esm ? 'mjs' : 'cjs'}`);
  fs.writeFileSync(file, code);
  return ok(run(process.execPath, [file], project, cleanEnv(opts.env)), `node ${path.basename(file)}`).trim();
}

function npm(project: string, args: string[]): SpawnSyncReturns<string> {
  assert.ok(npmCli, "npm's npm-cli.js not found next to node");
  return run(process.execPath, [npmCli, ...args, '--no-audit', '--no-fund', '--loglevel=warn'], project);
}

let tarball = '';
let installLog = '';
let usedPreferOffline = false;

/** An empty project with `nodewal` installed from the tarball using npm's cache only. */
function installProject(name: string, extraArgs: string[] = []): { dir: string; log: string } {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  // --foreground-scripts: the install script's message is part of what we check.
  const args = ['install', tarball, '--foreground-scripts', ...extraArgs];
  let r = npm(dir, [...args, '--offline']);
  if (r.status !== 0) {
    // A cache that lacks a dependency's metadata but could fetch it: allow the network, and say so.
    usedPreferOffline = true;
    r = npm(dir, [...args, '--prefer-offline']);
  }
  const log = ok(r, `npm install into ${name}`) + r.stderr;
  return { dir, log };
}

let app = '';
let noScripts = '';

before(() => {
  // npm pack runs prepack (npm run prebuild) and prepare (npm run build:ts).
  const packDir = path.join(work, 'pack');
  fs.mkdirSync(packDir);
  const packEnv: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env['PATH']}` };
  delete packEnv['WAL_NATIVE'];
  const r = spawnSync(process.execPath, [npmCli!, 'pack', '--pack-destination', packDir, '--loglevel=warn'], {
    cwd: repo,
    env: packEnv,
    encoding: 'utf8',
    timeout: 150_000,
  });
  ok(r, 'npm pack');
  const tgz = fs.readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  assert.equal(tgz.length, 1, `npm pack produced ${tgz.join(', ') || 'nothing'}`);
  tarball = path.join(packDir, tgz[0]!);

  ({ dir: app, log: installLog } = installProject('app'));
  ({ dir: noScripts } = installProject('app-no-scripts', ['--ignore-scripts']));
});

describe('the packed tarball', () => {
  test('ships dist/ (fresh), the types, the ESM wrapper, the install script and a linux-x64 prebuild; no sources or tests', () => {
    const listing = ok(run('tar', ['-tzf', tarball], work, { ...cleanEnv(), PATH: process.env['PATH']! }), 'tar -t')
      .split('\n')
      .filter(Boolean);
    for (const must of [
      'package/package.json',
      'package/dist/index.js',
      'package/dist/index.d.ts',
      'package/dist/esm/index.mjs',
      'package/dist/cli/main.js',
      'package/scripts/install.js',
      'package/binding.gyp',
      'package/native/addon.cc',
    ]) {
      assert.ok(listing.includes(must), `${must} missing from the tarball`);
    }
    if (process.platform === 'linux' && process.arch === 'x64') {
      assert.ok(
        listing.some((f) => /^package\/prebuilds\/linux-x64\/[^/]+\.glibc\.node$/.test(f)),
        `no linux-x64 glibc prebuild in:\n${listing.filter((f) => f.includes('prebuilds')).join('\n')}`,
      );
    }
    assert.deepEqual(
      listing.filter((f) => /^package\/(src|test|bench|build|examples|node_modules)\//.test(f)),
      [],
    );
    // Source maps would point at src/, which is not shipped.
    assert.deepEqual(
      listing.filter((f) => f.endsWith('.map')),
      [],
    );
    // prepack empties dist/ before prepare rebuilds it: no compiled file of a deleted source ships.
    const stale = listing
      .filter((f) => /^package\/dist\/.*\.js$/.test(f))
      .map((f) => f.replace(/^package\/dist\//, 'src/').replace(/\.js$/, '.ts'))
      .filter((src) => !fs.existsSync(path.join(repo, src)));
    assert.deepEqual(stale, []);
  });
});

describe('installed with no compiler on PATH', () => {
  test('the install script used the prebuild and compiled nothing', (t) => {
    if (usedPreferOffline) t.diagnostic('npm install --offline failed (a dependency missing from the cache); used --prefer-offline');
    for (const tool of ['cc', 'gcc', 'g++', 'make', 'python3']) {
      assert.ok(!fs.existsSync(path.join(bareBin, tool)), `${tool} on the stripped PATH`);
    }
    assert.match(installLog, /nodewal: using the native addon at prebuilds[\\/]/);
    assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'nodewal', 'build')), 'a build/ directory was created');
  });

  test('require() loads the prebuilt binary (backend native, reason names prebuilds/)', () => {
    const out = JSON.parse(node(app, `console.log(JSON.stringify(require('nodewal').backend))`));
    assert.equal(out.kind, 'native', JSON.stringify(out));
    assert.match(out.reason, /prebuilds[\\/]linux-x64[\\/]/);
  });

  test('on musl the glibc prebuild is not picked (LIBC=musl, as node-gyp-build detects Alpine): fallback', () => {
    const out = JSON.parse(node(app, `console.log(JSON.stringify(require('nodewal').backend))`, { env: { LIBC: 'musl' } }));
    assert.equal(out.kind, 'fallback');
    assert.match(out.reason, /No native build was found .*libc=musl/);
  });

  test('WAL_NATIVE_PATH loads a binary from anywhere (the bundler escape hatch)', () => {
    const prebuilds = path.join(app, 'node_modules', 'nodewal', 'prebuilds', 'linux-x64');
    const elsewhere = path.join(work, 'copied-addon.node');
    fs.copyFileSync(
      path.join(
        prebuilds,
        fs.readdirSync(prebuilds).find((f) => f.endsWith('.node'))!,
      ),
      elsewhere,
    );
    const out = JSON.parse(
      node(app, `console.log(JSON.stringify(require('nodewal').backend))`, { env: { WAL_NATIVE_PATH: elsewhere, LIBC: 'musl' } }),
    );
    assert.deepEqual([out.kind, out.reason], ['native', `addon loaded from ${elsewhere}`]);
  });

  test('WAL_NATIVE=0 uses the fallback', () => {
    const out = JSON.parse(node(app, `console.log(JSON.stringify(require('nodewal').backend))`, { env: { WAL_NATIVE: '0' } }));
    assert.deepEqual([out.kind, out.reason], ['fallback', 'WAL_NATIVE=0']);
  });

  test('ESM import and CJS require give the same instance and work', () => {
    const out = node(
      app,
      `
      import * as esm from 'nodewal';
      import esmDefault from 'nodewal';
      import { createRequire } from 'node:module';
      import * as fs from 'node:fs';
      const cjs = createRequire(import.meta.url)('nodewal');
      const same = esm.Log === cjs.Log && esm.WAL === cjs.WAL && esm.WalError === cjs.WalError &&
        esm.backend === cjs.backend && esmDefault === cjs;
      const dir = fs.mkdtempSync('log-');
      const log = await esm.Log.open(dir);
      const index = await log.append('hello from ESM');
      await log.close();
      const again = await cjs.Log.open(dir);
      const data = Buffer.from(await again.get(index)).toString();
      await again.close();
      console.log(JSON.stringify({ same, index: String(index), data, crc: esm.crc32c(Buffer.from('123456789')) }));
      `,
      { esm: true },
    );
    assert.deepEqual(JSON.parse(out), { same: true, index: '1', data: 'hello from ESM', crc: 0xe3069283 });
  });

  test('the bin `wal` is installed and runs', () => {
    const out = ok(run(path.join(app, 'node_modules', '.bin', 'wal'), ['--help'], app), 'wal --help');
    assert.match(out, /Usage: wal <command>/);
  });

  test('types resolve under tsc --noEmit --strict, for ESM and CJS consumers', () => {
    const body = (importLine: string): string => `${importLine}
async function main(): Promise<void> {
  const log: Log = await Log.open('dir', { syncPolicy: { intervalMs: 5 }, segmentSize: 1 << 20 });
  const index: bigint = await log.append('x');
  for await (const entry of log.entries({ from: index })) {
    const bytes: Uint8Array = entry.data;
    void bytes;
  }
  const kind: 'native' | 'fallback' | string = backend.kind;
  void kind;
  const options: LogOptions = { ...DEFAULT_LOG_OPTIONS };
  void options;
  const wal = await WAL.create('etcd', null);
  await wal.save({ term: 1n, vote: 0n, commit: 1n }, [{ term: 1n, index: 1n, type: 0, data: new Uint8Array(1) }]);
  await wal.close();
  try {
    await WAL.open('etcd', { index: 0n, term: 0n });
  } catch (err) {
    if (isWalError(err, WalErrorCodes.LOCKED)) {
      const e: WalError = err;
      const code: 'ERR_WAL_LOCKED' = e.code as 'ERR_WAL_LOCKED';
      void code;
    }
  }
  // The types are real, not \`any\`: each of these must be an error.
  // @ts-expect-error misspelt sync policy
  await Log.open('dir', { syncPolicy: 'sometimes' });
  // @ts-expect-error append takes bytes or a string
  await log.append(42);
  // @ts-expect-error indexes are bigints or numbers, not strings
  await log.get('1');
  // Numbers are indexes too, and stats() is JSON-typed.
  const one: Uint8Array = await log.get(1);
  const json: { lastIndex: number } = log.stats().toJSON();
  void one;
  void json;
}
void main;
`;
    const names = 'Log, WAL, WalError, WalErrorCodes, isWalError, backend, DEFAULT_LOG_OPTIONS';
    const dir = path.join(work, 'types');
    fs.mkdirSync(dir);
    fs.symlinkSync(path.join(app, 'node_modules'), path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'esm.mts'), body(`import { ${names}, type LogOptions } from 'nodewal';`));
    fs.writeFileSync(path.join(dir, 'cjs.cts'), body(`import { ${names}, type LogOptions } from 'nodewal';`));
    fs.writeFileSync(
      path.join(dir, 'cjs-require.cts'),
      body(
        `import nodewal = require('nodewal');\nconst { ${names} } = nodewal;\ntype LogOptions = nodewal.LogOptions;\ntype Log = nodewal.Log;\ntype WalError = nodewal.WalError;`,
      ),
    );
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'Node16',
          moduleResolution: 'Node16',
          lib: ['ES2022'],
          types: ['node'],
          typeRoots: [path.join(repo, 'node_modules', '@types')],
        },
        files: ['esm.mts', 'cjs.cts', 'cjs-require.cts'],
      }),
    );
    const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    ok(run(process.execPath, [tsc, '-p', dir], dir), 'tsc --noEmit');
  });

  test('works inside a worker_threads Worker, and in two Workers at once (each its own Log)', () => {
    const out = node(
      app,
      `
      const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
      const fs = require('node:fs');
      const path = require('node:path');
      if (isMainThread) {
        const runWorker = (dir, n) => new Promise((resolve, reject) => {
          const w = new Worker(__filename, { workerData: { dir, n } });
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => code !== 0 && reject(new Error('worker exit ' + code)));
        });
        (async () => {
          const root = fs.mkdtempSync('workers-');
          const one = await runWorker(path.join(root, 'solo'), 50);
          const two = await Promise.all([runWorker(path.join(root, 'a'), 200), runWorker(path.join(root, 'b'), 200)]);
          const { Log } = require('nodewal');
          const counts = [];
          for (const d of ['solo', 'a', 'b']) {
            const log = await Log.open(path.join(root, d));
            let n = 0;
            for await (const e of log.entries()) {
              if (Buffer.from(e.data).toString() !== d + ':' + e.index) throw new Error('bad entry ' + e.index);
              n++;
            }
            await log.close();
            counts.push(n);
          }
          console.log(JSON.stringify({ workers: [one, ...two], counts }));
        })().catch((e) => { console.error(e); process.exit(1); });
      } else {
        (async () => {
          const { Log, backend } = require('nodewal');
          const name = path.basename(workerData.dir);
          const log = await Log.open(workerData.dir);
          const acks = [];
          for (let i = 1; i <= workerData.n; i++) acks.push(log.append(name + ':' + i));
          const last = await Promise.all(acks).then((a) => a[a.length - 1]);
          await log.close();
          parentPort.postMessage({ kind: backend.kind, last: String(last) });
        })().catch((e) => { throw e; });
      }
      `,
    );
    const result = JSON.parse(out);
    assert.deepEqual(result.workers, [
      { kind: 'native', last: '50' },
      { kind: 'native', last: '200' },
      { kind: 'native', last: '200' },
    ]);
    assert.deepEqual(result.counts, [50, 200, 200]);
  });

  test('a second process opening a WAL in use gets ERR_WAL_LOCKED (native OFD lock)', async () => {
    const dir = path.join(app, 'locked-wal');
    const holderFile = path.join(app, 'holder.cjs');
    fs.writeFileSync(
      holderFile,
      `const { WAL, backend } = require('nodewal');
       WAL.create(process.argv[2], null).then((wal) => {
         process.stdout.write(backend.kind + '\\n');
         process.stdin.resume();
         process.stdin.on('end', () => wal.close().then(() => process.exit(0)));
       }, (e) => { console.error(e); process.exit(1); });`,
    );
    const holder = spawn(process.execPath, [holderFile, dir], { cwd: app, env: cleanEnv(), stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const kind = await new Promise<string>((resolve, reject) => {
        holder.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
        holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
      });
      assert.equal(kind, 'native');
      const out = node(
        app,
        `const { WAL, isWalError, WalErrorCodes } = require('nodewal');
         WAL.open(${JSON.stringify(dir)}, { index: 0n, term: 0n }).then(
           () => console.log('opened'),
           (e) => console.log(isWalError(e, WalErrorCodes.LOCKED) ? e.code : 'other: ' + e));`,
      );
      assert.equal(out, 'ERR_WAL_LOCKED');
    } finally {
      holder.stdin.end();
      await new Promise((resolve) => (holder.exitCode !== null ? resolve(null) : holder.once('exit', resolve)));
    }
    // Released once the holder closed it.
    assert.equal(
      node(
        app,
        `require('nodewal').WAL.open(${JSON.stringify(dir)}, { index: 0n, term: 0n }).then(async (w) => { await w.readAll(); await w.close(); console.log('opened'); });`,
      ),
      'opened',
    );
  });
});

describe("a newcomer's path: the README top to bottom in a fresh folder, on the installed package", () => {
  // The README's `npm install nodewal` is the install above (a fresh project, nothing else in it);
  // then every ts block and `npx wal` line runs in order in that folder, importing the installed
  // package (not the sources), with the installed `wal` bin. TypeScript blocks run through tsx, as
  // a newcomer running them would need a TypeScript runner too.
  test('every ts block and `npx wal` line of README.md runs; the linked docs are in the package', () => {
    const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
    const folder = path.join(app, 'newcomer');
    fs.mkdirSync(folder);
    const tsx = require.resolve('tsx', { paths: [repo] });
    let ts = 0;
    let cli = 0;
    for (const block of extractBlocks(readme)) {
      if (block.lang === 'ts') {
        const file = path.join(folder, `readme-${block.line}.mts`);
        fs.writeFileSync(file, block.code);
        const r = run(process.execPath, ['--import', pathToFileURL(tsx).href, file], folder);
        ok(r, `README.md:${block.line} (ts block)`);
        for (const m of block.code.matchAll(/\/\/=> (.*)$/gm)) {
          assert.ok(
            r.stdout
              .split('\n')
              .map((l) => l.trimEnd())
              .includes(m[1]!.trim()),
            `README.md:${block.line}: expected "${m[1]}" in\n${r.stdout}`,
          );
        }
        ts++;
      } else {
        for (const args of walCommandLines(block)) {
          ok(run(path.join(app, 'node_modules', '.bin', 'wal'), args, folder), `README.md:${block.line}: npx wal ${args.join(' ')}`);
          cli++;
        }
      }
    }
    assert.ok(ts >= 3 && cli >= 3, `ran ${ts} ts blocks and ${cli} wal lines`);
    // Links into docs/ resolve inside the installed package (docs/ ships in the tarball).
    const installed = path.join(app, 'node_modules', 'nodewal');
    const missing = [...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]!).filter((d) => !fs.existsSync(path.join(installed, d)));
    assert.deepEqual(missing, []);
  });
});

describe('installed with --ignore-scripts', () => {
  test('still loads the prebuilt binary', () => {
    const out = JSON.parse(node(noScripts, `console.log(JSON.stringify(require('nodewal').backend))`));
    assert.equal(out.kind, 'native', JSON.stringify(out));
    assert.match(out.reason, /prebuilds[\\/]/);
  });

  test('with no binary for the platform and no compiler: install succeeds, says why, and the fallback runs', () => {
    const pkg = path.join(noScripts, 'node_modules', 'nodewal');
    fs.rmSync(path.join(pkg, 'prebuilds'), { recursive: true });
    const before = JSON.parse(node(noScripts, `console.log(JSON.stringify(require('nodewal').backend))`));
    assert.equal(before.kind, 'fallback');
    assert.match(before.reason, /native addon unavailable: No native build was found/);

    // What `npm install` does on a platform without a prebuild: run the install script, which tries
    // node-gyp; with no python/make/compiler on PATH that fails, and the install must not.
    const r = npm(noScripts, ['rebuild', 'nodewal', '--foreground-scripts']);
    const log = ok(r, 'npm rebuild nodewal') + r.stderr;
    assert.match(log, /the native addon could not be built, so the pure-TypeScript fallback will be used/);
    assert.match(log, /Reason:/);

    const out = node(
      noScripts,
      `const { Log, backend } = require('nodewal');
       const fs = require('node:fs');
       (async () => {
         const log = await Log.open(fs.mkdtempSync('fallback-'));
         const i = await log.append('via the fallback');
         await log.close();
         console.log(backend.kind + ' ' + i);
       })();`,
    );
    assert.equal(out, 'fallback 1');
  });
});
