#!/usr/bin/env bash
# Loads the built addon in an older Linux userland (npm run test:old-glibc; needs root).
#
# The prebuild is made on Debian 12 (glibc 2.36, GCC 12) and promises glibc >= 2.28. Debian 10
# (glibc 2.28) can no longer be fetched from Debian's mirrors, so this uses Debian 11 "bullseye"
# (glibc 2.31, GCC 10's libstdc++: GLIBCXX 3.4.28), one of the systems the old prebuild could not
# load on (it needed GLIBC 2.33 and GLIBCXX 3.4.30). The root is made once with debootstrap and
# cached in /tmp (override with NODEWAL_OLD_ROOT). Inside it, this machine's node binary (it needs
# only glibc 2.28) runs test/old-glibc/smoke.js against dist/ with WAL_NATIVE=1 and the addon
# given. A control proves the check can fail: a library built here that needs GLIBC_2.34 must be
# refused by the same loader.
#
#   bash scripts/test-old-glibc.sh [path/to/nodewal.node]   (default build/Release/nodewal.node)
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
addon="$(realpath "${1:-$root_dir/build/Release/nodewal.node}")"
suite="${NODEWAL_OLD_SUITE:-bullseye}"
old="${NODEWAL_OLD_ROOT:-/tmp/nodewal-$suite/root}"
start=$SECONDS

if [[ ! -x "$old/bin/sh" ]]; then
  command -v debootstrap >/dev/null || { echo "test-old-glibc: debootstrap is not installed (scripts/install-system-deps.sh)"; exit 1; }
  rm -rf "$old.partial"
  mkdir -p "$(dirname "$old")"
  echo "test-old-glibc: making a $suite root in $old (once; cached)"
  debootstrap --variant=minbase "$suite" "$old.partial" http://deb.debian.org/debian >/dev/null
  mv "$old.partial" "$old"
fi
[[ -f "$root_dir/dist/index.js" ]] || { echo "test-old-glibc: dist/ is missing: npm run build:ts"; exit 1; }

# What runs inside: node, the package's dist/ and runtime dependencies, the addon, the smoke test.
opt="$old/opt/nodewal"
rm -rf "$opt"
mkdir -p "$opt/node_modules" "$old/tmp"
cp "$(command -v node)" "$opt/node"
cp -R "$root_dir/dist" "$root_dir/package.json" "$opt/"
for dep in node-gyp-build crc-32; do cp -R "$root_dir/node_modules/$dep" "$opt/node_modules/"; done
cp "$addon" "$opt/nodewal.node"
cp "$root_dir/test/old-glibc/smoke.js" "$opt/"
printf 'void *needs_new_glibc(void) { extern int pthread_create(); return (void *)pthread_create; }\n' > "$opt/control.c"
gcc -shared -fPIC -o "$opt/control.so" "$opt/control.c"

mounted=()
cleanup() { for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
for d in proc dev; do
  mountpoint -q "$old/$d" || { mount --bind "/$d" "$old/$d"; mounted+=("$old/$d"); }
done

glibc_inside="$(chroot "$old" /usr/bin/ldd --version | sed -n 1p)"
echo "test-old-glibc: $suite root: $glibc_inside"
echo "test-old-glibc: $(node "$root_dir/scripts/check-glibc-symbols.js" "$addon")"

# The control: the loader in there refuses a library that needs a newer glibc.
if control="$(chroot "$old" /opt/nodewal/node -e "process.dlopen({ exports: {} }, '/opt/nodewal/control.so')" 2>&1)"; then
  echo "test-old-glibc: FAIL: the control library (needs GLIBC_2.34) loaded; the root is not older"; exit 1
fi
grep -q "GLIBC_2.34' not found" <<<"$control" || { echo "test-old-glibc: FAIL: unexpected control error: $control"; exit 1; }
echo "test-old-glibc: control refused as expected (GLIBC_2.34 not found)"

if ! out="$(chroot "$old" /usr/bin/env -i PATH=/usr/bin:/bin WAL_NATIVE=1 WAL_NATIVE_PATH=/opt/nodewal/nodewal.node \
  /opt/nodewal/node /opt/nodewal/smoke.js /opt/nodewal/dist/index.js 2>&1)"; then
  echo "test-old-glibc: FAIL: $out"; exit 1
fi
echo "test-old-glibc: $out"
echo "test-old-glibc: 1 passed, 0 failed ($((SECONDS - start)) s)"
