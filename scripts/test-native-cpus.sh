#!/usr/bin/env bash
# Checks the CRC-32C dispatch on CPUs this machine is not, under qemu-user:
#   x86-64 without SSE4.2 (qemu64)       -> table only; the addon must still load (no SIGILL)
#   x86-64 with SSE4.2, no PCLMULQDQ      -> sse4.2
#   x86-64 with both (Westmere)           -> sse4.2-3way
#   arm64 (cross-compiled)                -> armv8
# each running the C++ self-test (test/native/native_test.cc). Needs the Debian packages
# qemu-user and g++-aarch64-linux-gnu, and a built addon (npm run build:native). Not part of the
# default CI; well under a minute once installed.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in qemu-x86_64 qemu-aarch64 aarch64-linux-gnu-g++; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install qemu-user g++-aarch64-linux-gnu" >&2; exit 1; }
done
mkdir -p build-cpus
sources=(test/native/native_test.cc native/crc32c.cc native/file.cc)
"${CXX:-g++}" -std=c++17 -O2 -Wall -Wextra -Werror -Inative "${sources[@]}" -o build-cpus/native_test_x86_64
aarch64-linux-gnu-g++ -std=c++17 -O2 -Wall -Wextra -Werror -Inative "${sources[@]}" -o build-cpus/native_test_arm64

expect() { # expect <wanted implementations> <command...>
  local want="$1"; shift
  local out; out="$("$@")"
  echo "$* -> $out"
  grep -q "^native_test: ok .*implementations: $want\$" <<<"$out" || { echo "expected: $want" >&2; exit 1; }
}
expect "table" qemu-x86_64 -cpu qemu64 build-cpus/native_test_x86_64
expect "sse4.2 table" qemu-x86_64 -cpu Nehalem build-cpus/native_test_x86_64
expect "sse4.2-3way sse4.2 table" qemu-x86_64 -cpu Westmere build-cpus/native_test_x86_64
expect "armv8 table" qemu-aarch64 -L /usr/aarch64-linux-gnu build-cpus/native_test_arm64

# The addon itself (compiled with per-function target attributes) loads on a CPU without SSE4.2.
addon="$(node -p "require('node-gyp-build').resolve('.')")"
out="$(qemu-x86_64 -cpu qemu64 "$(command -v node)" -e "
  const a = require('$addon');
  console.log(a.crcImplementation, a.crc32c(Buffer.from('123456789'), 0).toString(16));")"
echo "addon on qemu64: $out"
[ "$out" = "table e3069283" ] || { echo "the addon did not fall back to the table on a CPU without SSE4.2" >&2; exit 1; }
