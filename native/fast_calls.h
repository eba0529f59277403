// The addon's calls on raw Node-API, for the hot paths where node-addon-api's wrappers (three
// typed-array queries per buffer, std::function jobs, the path converted up front) cost more
// than the work: crc32c of a small record, the inline writeSync of a small batch.
#ifndef NODEWAL_FAST_CALLS_H_
#define NODEWAL_FAST_CALLS_H_

#include <napi.h>

namespace nodewal {

// exports[name] = a function calling `callback` directly (no node-addon-api wrapper).
void ExportRawFunction(Napi::Env env, Napi::Object exports, const char* name, napi_callback callback);

// Adds crc32c and writeSync to `exports`.
void ExportFastCalls(Napi::Env env, Napi::Object exports);

}  // namespace nodewal

#endif  // NODEWAL_FAST_CALLS_H_
