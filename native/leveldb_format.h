// The LevelDB log format facts the native scan needs (LevelDB db/log_format.h, util/crc32c.h).
// src/leveldb/format.ts is their home; the addon exports these as `leveldbFormat` and
// test/unit/leveldb-native-constants.test.ts fails when the two disagree.
#ifndef NODEWAL_LEVELDB_FORMAT_H_
#define NODEWAL_LEVELDB_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace nodewal {
namespace leveldb_format {

constexpr size_t kBlockSize = 32768;          // BLOCK_SIZE
constexpr size_t kHeaderSize = 7;             // HEADER_SIZE: checksum (4) | length (2) | type (1)
constexpr uint8_t kZeroType = 0;              // RecordType.ZERO
constexpr uint8_t kFullType = 1;              // RecordType.FULL
constexpr uint32_t kMaskDelta = 0xa282ead8u;  // MASK_DELTA

}  // namespace leveldb_format
}  // namespace nodewal

#endif  // NODEWAL_LEVELDB_FORMAT_H_
