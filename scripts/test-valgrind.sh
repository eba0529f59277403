#!/usr/bin/env bash
# Runs the native addon under valgrind memcheck (npm run test:valgrind): scripts/valgrind-driver.js
# does CYCLES (default 10000) open/lock/write/read/truncate/allocate/close cycles plus error paths
# and CRC calls through the addon. Fails on any memcheck error, or any definitely/indirectly/
# possibly lost block, or more than a handful of still-reachable blocks, whose stack includes the
# addon (.node) file. Node's own allocations (V8, libuv, inspector, TLS of threads) are not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
CYCLES="${CYCLES:-10000}"

if ! command -v valgrind >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "valgrind not found: installing it (apt-get)"
    (apt-get install -y -qq valgrind >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq valgrind >/dev/null; })
  else
    echo "valgrind is required (apt-get install valgrind)" >&2
    exit 1
  fi
fi

ADDON="${WAL_NATIVE_PATH:-$(node -e "process.stdout.write(require('node-gyp-build').resolve('.'))")}"
ADDON_NAME="$(basename "$ADDON")"
echo "addon under test: $ADDON"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/nodewal-valgrind-XXXXXX")"
DATA="$(mktemp -d /dev/shm/nodewal-vg-data-XXXXXX 2>/dev/null || mktemp -d)"
trap 'rm -rf "$WORK" "$DATA"' EXIT
LOG="$WORK/memcheck.log"

start=$(date +%s)
WAL_NATIVE_PATH="$ADDON" valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all \
  --num-callers=40 --error-limit=no -v --log-file="$LOG" \
  node scripts/valgrind-driver.js "$CYCLES" "$DATA"
echo "valgrind run: $(( $(date +%s) - start )) s"

# Split the log into records (blank-line separated, '==pid== ' prefix stripped) and keep those
# whose stack mentions the addon.
node - "$LOG" "$ADDON_NAME" <<'JS'
const fs = require('node:fs');
const [log, addon] = process.argv.slice(2);
const text = fs.readFileSync(log, 'utf8').split('\n').map((l) => l.replace(/^==\d+== ?/, '')).join('\n');
const records = text.split(/\n\s*\n/);
let lost = 0, reachable = 0, errors = 0;
const shown = [];
for (const r of records) {
  if (!r.includes(addon)) continue;
  if (/are definitely lost|are indirectly lost|are possibly lost/.test(r)) { lost++; shown.push(r); }
  else if (/are still reachable/.test(r)) {
    const m = /([\d,]+) bytes in ([\d,]+) blocks/.exec(r);
    reachable += m ? Number(m[2].replace(/,/g, '')) : 1;
    if (m && Number(m[2].replace(/,/g, '')) > 50) shown.push(r);
  } else if (/^(Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument)/m.test(r)) { errors++; shown.push(r); }
}
// Proof that memcheck instrumented the addon at all (else the filter above would be vacuous).
if (!new RegExp(`Reading syms from .*${addon.replace(/[.]/g, '\\.')}`).test(text)) {
  console.error(`memcheck never loaded ${addon}: nothing was checked`);
  process.exit(1);
}
const summary = /ERROR SUMMARY: (\d+) errors/.exec(text);
console.log(`memcheck: ${errors} errors and ${lost} lost-block records in the addon; ${reachable} still-reachable addon blocks; whole-process error summary: ${summary ? summary[1] : '?'} errors`);
for (const r of shown.slice(0, 10)) console.log(`---\n${r}`);
if (errors > 0 || lost > 0 || reachable > 50) process.exit(1);
JS
echo "valgrind: clean"
