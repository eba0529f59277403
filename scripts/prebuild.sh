#!/usr/bin/env bash
# Builds the N-API prebuild for this platform into prebuilds/<platform>-<arch>/ (npm run prebuild).
#
# prebuildify --napi --strip --tag-libc, as the anchors do (prebuildify README, better-sqlite3 v13):
# one Node-API binary serves every Node >= 20 (and Electron) on this platform, and node-gyp-build
# finds it at run time, so installs on this platform need no compiler. The libc tag keeps a glibc
# binary from being picked on musl (Alpine), where the install script compiles instead.
#
# The build runs in a scratch copy of the sources, so the developer build in build/ (which
# node-gyp-build prefers over prebuilds/) is left alone. It is skipped when the prebuild is newer
# than every native source; pass --force to rebuild anyway.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
platform="$(node -p 'process.platform + "-" + process.arch')"
out="$root/prebuilds/$platform"

if [[ "${1:-}" != "--force" && -d "$out" ]] && compgen -G "$out/*.node" >/dev/null; then
  newest_binary="$(ls -t "$out"/*.node | sed -n 1p)"
  if [[ -z "$(find "$root/native" "$root/binding.gyp" -newer "$newest_binary" \( -name '*.cc' -o -name '*.h' -o -name 'binding.gyp' \) -print -quit)" ]]; then
    echo "prebuild: $(realpath --relative-to="$root" "$newest_binary") is up to date"
    exit 0
  fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/nodewal-prebuild.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -R "$root/native" "$root/binding.gyp" "$root/package.json" "$work/"
ln -s "$root/node_modules" "$work/node_modules"

# Build against the headers of the running Node when they sit next to it (distribution packages
# and the official tarballs both ship include/node): no header download, so this works offline.
node_prefix="$(cd "$(dirname "$(command -v node)")/.." && pwd)"
if [[ -z "${npm_config_nodedir:-}" && -f "$node_prefix/include/node/node_api.h" ]]; then
  export npm_config_nodedir="$node_prefix"
fi

(
  cd "$work"
  PATH="$root/node_modules/.bin:$PATH" prebuildify --napi --strip --tag-libc \
    --target="$(node -p process.versions.node)" --quiet
)

rm -rf "$out"
mkdir -p "$root/prebuilds"
cp -R "$work/prebuilds/$platform" "$out"

# The binary must load and reproduce the CRC-32C check value, or it is not shipped.
for f in "$out"/*.node; do
  node -e '
    const addon = require(process.argv[1]);
    const crc = addon.crc32c(Buffer.from("123456789", "latin1"), 0);
    if (crc !== 0xe3069283) { console.error("prebuild: CRC self-test failed: 0x" + crc.toString(16)); process.exit(1); }
  ' "$f" || { rm -rf "$out"; exit 1; }
done
# ... and must import no glibc/libstdc++ symbol version newer than glibc-2.28 systems have.
node "$root/scripts/check-glibc-symbols.js" "$out"/*.node || { rm -rf "$out"; exit 1; }
for f in "$out"/*.node; do
  echo "prebuild: $(realpath --relative-to="$root" "$f") ($(stat -c %s "$f") bytes)"
done
