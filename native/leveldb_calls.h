// The addon's LevelDB calls (asked for only by src/leveldb/native-scan.ts): the fast path's scan,
// block reads that find the runs of FULL records beside the read, and the format constants the
// scan was built with, so a test can compare them with src/leveldb/format.ts.
#ifndef NODEWAL_LEVELDB_CALLS_H_
#define NODEWAL_LEVELDB_CALLS_H_

#include <napi.h>

namespace nodewal {

// Adds scanLevelDBFullRecords, readLevelDBBlocks and leveldbFormat to `exports`.
void ExportLevelDBCalls(Napi::Env env, Napi::Object exports);

}  // namespace nodewal

#endif  // NODEWAL_LEVELDB_CALLS_H_
