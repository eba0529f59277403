// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4, etcd and LevelDB use it.
// The implementation is chosen once per process by CPU detection: SSE4.2 on three interleaved
// streams (x86-64 with PCLMULQDQ), SSE4.2 one stream, ARMv8 CRC instructions (arm64), or a
// slicing-by-8 table that runs anywhere.
#ifndef NODEWAL_CRC32C_H_
#define NODEWAL_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nodewal {

// CRC-32C of data[0, len) continuing from `crc`, a previous result (0 to start):
// Crc32c(Crc32c(0, a), b) == Crc32c(0, a || b).
uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t len);

// Running CRCs of `pairs` slices of `data`: slice i is [bounds[2i], bounds[2i+1]), and
// out[i] = Crc32c(out[i-1], slice i) with out[-1] = crc. The caller has checked every slice
// lies inside `data` (start <= end <= length).
void Crc32cChain(uint32_t crc, const uint8_t* data, const uint32_t* bounds, size_t pairs, uint32_t* out);

// Name of the implementation Crc32c uses: "sse4.2-3way", "sse4.2", "armv8" or "table".
const char* Crc32cImplementation();

// Every implementation this CPU can run, by name (for tests that check each one).
std::vector<const char*> Crc32cAvailableImplementations();

// Crc32c with a named implementation; returns false when `name` is unknown or unsupported here.
bool Crc32cWith(const char* name, uint32_t crc, const uint8_t* data, size_t len, uint32_t* out);

}  // namespace nodewal

#endif  // NODEWAL_CRC32C_H_
