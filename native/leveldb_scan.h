// The LevelDB log reader's fast path: finds the run of plain FULL records at the start of a span
// of a block, checking their CRCs, so the TypeScript reader can hand them out without running its
// record-by-record state machine (src/leveldb/reader.ts keeps every other case).
#ifndef NODEWAL_LEVELDB_SCAN_H_
#define NODEWAL_LEVELDB_SCAN_H_

#include <cstddef>
#include <cstdint>

namespace nodewal {

// Walks the physical records of data[from, to) (one LevelDB block, or the rest of one) and
// returns the offset of the first header that is not a complete FULL record (type 1) whose
// masked CRC matches (when `verify`), or `to` when every record is. Never reads outside
// data[from, to).
size_t ScanLevelDBFullRecords(const uint8_t* data, size_t from, size_t to, bool verify);

// The runs of plain FULL records in block[0, len), found where the reader will look for them: at
// the block start and just after each other record whose length fits. Writes up to `max_runs`
// (start, stop) pairs to `runs`, where stop == ScanLevelDBFullRecords(block, start, len, verify),
// and fills the unused pairs with 0xFFFFFFFF. Runs on a threadpool thread, right after the read.
void FindLevelDBRuns(const uint8_t* block, size_t len, bool verify, uint32_t* runs, size_t max_runs);

}  // namespace nodewal

#endif  // NODEWAL_LEVELDB_SCAN_H_
