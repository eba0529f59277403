// See leveldb_scan.h. Format facts (leveldb_format.h): a 7-byte header holds the masked CRC-32C
// of type byte + payload, a little-endian 16-bit length and the type.
#include "leveldb_scan.h"

#include "crc32c.h"
#include "leveldb_format.h"

namespace nodewal {
namespace {

using leveldb_format::kFullType;
using leveldb_format::kHeaderSize;
using leveldb_format::kMaskDelta;
using leveldb_format::kZeroType;

uint32_t Unmask(uint32_t masked) {
  const uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

}  // namespace

size_t ScanLevelDBFullRecords(const uint8_t* data, size_t from, size_t to, bool verify) {
  size_t h = from;
  while (to - h >= kHeaderSize) {
    const uint8_t* header = data + h;
    const size_t length = static_cast<size_t>(header[4]) | (static_cast<size_t>(header[5]) << 8);
    if (header[6] != kFullType || length > to - h - kHeaderSize) break;
    // The CRC covers the type byte and the payload, which follow each other.
    if (verify && Crc32c(0, header + 6, length + 1) != Unmask(LoadLe32(header))) break;
    h += kHeaderSize + length;
  }
  return h;
}

void FindLevelDBRuns(const uint8_t* block, size_t len, bool verify, uint32_t* runs, size_t max_runs) {
  size_t found = 0;
  size_t h = 0;
  while (found < max_runs && len - h >= kHeaderSize) {
    const size_t stop = ScanLevelDBFullRecords(block, h, len, verify);
    if (stop > h) {
      runs[2 * found] = static_cast<uint32_t>(h);
      runs[2 * found + 1] = static_cast<uint32_t>(stop);
      found++;
      h = stop;
      continue;
    }
    // h holds some other record: step over it when its length fits, as the reader will when it
    // is a fragment or an unknown type. A zero header ends the block for LevelDB.
    if (len - h < kHeaderSize) break;
    const size_t length = static_cast<size_t>(block[h + 4]) | (static_cast<size_t>(block[h + 5]) << 8);
    if (length > len - h - kHeaderSize || (block[h + 6] == kZeroType && length == 0)) break;
    h += kHeaderSize + length;
  }
  for (size_t i = 2 * found; i < 2 * max_runs; i++) runs[i] = 0xFFFFFFFFu;
}

}  // namespace nodewal
