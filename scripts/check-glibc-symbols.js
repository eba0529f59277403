#!/usr/bin/env node
// Checks that a Linux ELF binary (the addon) imports no symbol version newer than what glibc 2.28
// systems (Debian 10, Ubuntu 20.04, RHEL 8) provide: GLIBC 2.28, and the
// libstdc++ of GCC 8 (GLIBCXX 3.4.25, CXXABI 1.3.11). A newer import makes dlopen fail there
// ("version `GLIBC_2.33' not found"). Uses binutils' objdump, present wherever g++ is.
//
//   node scripts/check-glibc-symbols.js build/Release/nodewal.node [more.node ...]
// Exit 0 when every file passes; 1 with the offending symbols listed otherwise.
'use strict';
const { execFileSync } = require('node:child_process');

const LIMITS = { GLIBC: '2.28', GLIBCXX: '3.4.25', CXXABI: '1.3.11' };

function newer(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return false;
}

/** Imported (undefined) dynamic symbols with their version: [{ symbol, family, version }]. */
function importedVersions(file) {
  const out = execFileSync('objdump', ['-T', file], { encoding: 'utf8' });
  const rows = [];
  for (const line of out.split('\n')) {
    const m = /\*UND\*\s+\S+\s+\(?([A-Z]+)_([0-9.]+)\)?\s+(\S+)/.exec(line);
    if (m !== null) rows.push({ family: m[1], version: m[2], symbol: m[3] });
  }
  return rows;
}

/** The imports newer than LIMITS, and the newest version seen per family. */
function check(file) {
  const rows = importedVersions(file);
  const newest = {};
  for (const r of rows) if (newest[r.family] === undefined || newer(r.version, newest[r.family])) newest[r.family] = r.version;
  const offenders = rows.filter((r) => LIMITS[r.family] !== undefined && newer(r.version, LIMITS[r.family]));
  return { newest, offenders };
}

module.exports = { LIMITS, check, importedVersions };

if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: check-glibc-symbols.js FILE.node...');
    process.exit(2);
  }
  let failed = false;
  for (const f of files) {
    const { newest, offenders } = check(f);
    const summary = Object.entries(newest)
      .map(([k, v]) => `${k}_${v}`)
      .join(' ');
    if (offenders.length === 0) console.log(`glibc check: ${f}: ok (newest imports: ${summary})`);
    else {
      failed = true;
      console.error(`glibc check: ${f} needs more than glibc ${LIMITS.GLIBC} / GLIBCXX ${LIMITS.GLIBCXX} / CXXABI ${LIMITS.CXXABI}:`);
      for (const o of offenders) console.error(`  ${o.symbol}@${o.family}_${o.version}`);
    }
  }
  process.exit(failed ? 1 : 0);
}
