#!/usr/bin/env bash
# Checks the arm64 CRC-32C path (ARMv8 CRC instructions, compiled only on arm64) from an x86-64
# machine: cross-compiles the C++ self-test and runs it under qemu-user. Needs the Debian packages
# g++-aarch64-linux-gnu and qemu-user. Not part of the default CI; about 10 s once installed.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install g++-aarch64-linux-gnu qemu-user" >&2; exit 1; }
done
mkdir -p build-arm64
aarch64-linux-gnu-g++ -std=c++17 -O2 -Wall -Wextra -Werror -Inative test/native/native_test.cc native/crc32c.cc native/file.cc \
  -o build-arm64/native_test
output="$(qemu-aarch64 -L /usr/aarch64-linux-gnu build-arm64/native_test)"
echo "$output"
grep -q 'implementations: armv8 table' <<<"$output" || { echo "the armv8 implementation was not selected" >&2; exit 1; }
