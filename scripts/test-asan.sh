#!/usr/bin/env bash
# Sanitizer job: builds the addon with AddressSanitizer + UBSan (cmake-js, native/CMakeLists.txt),
# runs the C++ self-test (exact-size heap buffers), then the CRC, I/O and LevelDB reader (its
# native scan and block reads) unit tests against that
# binary. Node itself is not instrumented, so libasan is preloaded; its leak report is off
# because node leaks by design at exit. Any ASan or UBSan report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

# cmake-js downloads Node's headers unless npm's `nodedir` points at local ones: use the headers
# installed next to this node when there are any (distribution packages, official tarballs).
if [ -z "${npm_config_nodedir:-}" ]; then
  prefix="$(node -p "require('path').resolve(process.execPath, '..', '..')")"
  if [ -f "$prefix/include/node/node.h" ]; then export npm_config_nodedir="$prefix"; fi
fi
npm run --silent build:asan
addon="$PWD/build-asan/nodewal.node"
flags=(-std=c++17 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

"${CXX:-g++}" "${flags[@]}" -Inative test/native/native_test.cc native/crc32c.cc native/file.cc -o build-asan/native_test
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 build-asan/native_test

export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export WAL_NATIVE=1 WAL_NATIVE_PATH="$addon" WAL_EXPECT_SANITIZED=1
echo "test-asan: running the CRC, I/O and LevelDB reader unit tests against $addon"
node --import tsx --test --test-concurrency=1 test/unit/crc32c-*.test.ts test/unit/io-*.test.ts test/unit/leveldb-full-scan.test.ts test/unit/leveldb-native-constants.test.ts test/unit/leveldb-reader.test.ts
