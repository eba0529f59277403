#!/usr/bin/env node
// The package's `install` script. Uses a prebuilt or already built addon when one loads; else
// builds it with node-gyp. A failed build never fails the install: the library then runs on its
// pure-TypeScript fallback, and this script says so and why.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const CHECK_VALUE = 0xe3069283; // CRC-32C of "123456789"

/** The path of a binary that node-gyp-build finds and that loads and passes the CRC check, or null. */
function workingBinary() {
  let file;
  try {
    file = require('node-gyp-build').resolve(root);
  } catch {
    return null;
  }
  try {
    const addon = require(file);
    return addon.crc32c(Buffer.from('123456789', 'latin1'), 0) === CHECK_VALUE ? file : null;
  } catch {
    return null; // e.g. built for another Node ABI: rebuild
  }
}

/** node-gyp entry points to try, best first: ours (devDependency), npm's, then PATH. */
function nodeGypCandidates() {
  const candidates = [];
  try {
    candidates.push([process.execPath, require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] })]);
  } catch {
    // not installed (production install): fall through
  }
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) candidates.push([process.execPath, fromNpm]);
  const bundled = path.join(
    path.dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  if (fs.existsSync(bundled)) candidates.push([process.execPath, bundled]);
  candidates.push(['node-gyp']);
  return candidates;
}

/**
 * Headers of the running Node, when they sit next to it (distribution packages and the official
 * tarballs both ship include/node): spares node-gyp a download, which fails offline.
 */
function localNodeDirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.join(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${path.resolve(prefix)}`] : [];
}

function build() {
  let lastError = '';
  for (const [command, ...args] of nodeGypCandidates()) {
    const run = spawnSync(command, [...args, 'rebuild', ...localNodeDirArgs()], {
      cwd: root,
      encoding: 'utf8',
      env: process.env,
    });
    if (run.error) {
      lastError = lastError || run.error.message;
      continue;
    }
    if (run.status === 0) return { ok: true };
    const output = `${run.stdout || ''}${run.stderr || ''}`.trim().split('\n');
    lastError =
      lastError ||
      output
        .filter((line) => /error|not found|ERR!/i.test(line))
        .slice(0, 6)
        .join('\n') ||
      output.slice(-6).join('\n');
  }
  return { ok: false, reason: lastError || 'no node-gyp found' };
}

function main() {
  const existing = workingBinary();
  if (existing) {
    console.log(`nodewal: using the native addon at ${path.relative(root, existing)}`);
    return;
  }
  const result = build();
  if (result.ok && workingBinary()) {
    console.log('nodewal: built the native addon (hardware CRC32C, O_DIRECT, OFD locks)');
    return;
  }
  const reason = result.ok ? 'the built addon did not load or failed its CRC self-test' : result.reason;
  console.warn(
    'nodewal: the native addon could not be built, so the pure-TypeScript fallback will be used ' +
      '(same on-disk bytes; slower CRC32C, no O_DIRECT, and a lock file instead of OFD locks, which does not ' +
      'exclude etcd). Building needs a C++17 compiler, make and python3 (node-gyp) plus the Node headers. ' +
      `Reason:\n${reason}`,
  );
}

try {
  main();
} catch (err) {
  console.warn(`nodewal: native addon setup skipped (${err && err.message}); the pure-TypeScript fallback will be used`);
}
process.exitCode = 0;
