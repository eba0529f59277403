// Argument conversion for the addon's JS calls: each helper reads one argument or throws the
// TypeError that names it. Arguments are validated in TypeScript (src/io/native.ts); these
// re-check only what could crash the process: value types we dereference and buffer bounds.
#ifndef NODEWAL_NAPI_ARGS_H_
#define NODEWAL_NAPI_ARGS_H_

#include <napi.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nodewal {

struct Bytes {
  uint8_t* data;
  size_t length;
};

// One raw Node-API query per buffer (node-addon-api's wrappers would make three): batches of
// thousands of buffers per write are normal here. False (no exception) for anything that is
// not a Uint8Array.
bool GetBytes(napi_env env, napi_value value, Bytes* out);

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what);
double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* what);
// Integer arguments go through Node-API's own conversions, which are defined for every double
// (NaN and infinities give 0, int32 wraps, int64 saturates); a C++ cast of an out-of-range
// double would be undefined behaviour.
int32_t ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* what);
int64_t ArgInt64(const Napi::CallbackInfo& info, size_t i, const char* what);
inline int ArgFd(const Napi::CallbackInfo& info, size_t i) { return ArgInt32(info, i, "fd"); }
// A CRC seed: 0 when absent or undefined.
uint32_t ArgSeed(const Napi::CallbackInfo& info, size_t i);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what);
// fd-based calls take the file's path last, only to name it in errors: "" when absent.
std::string ArgPathForErrors(const Napi::CallbackInfo& info, size_t i);
// A Uint32Array argument.
Napi::Uint32Array ArgUint32Array(const Napi::CallbackInfo& info, size_t i, const char* what);

// The buffers of a JS array as iovecs, for pwritev/preadv on a threadpool thread. `what` names
// the array in errors ("buffers[3] must be ...").
std::shared_ptr<std::vector<iovec>> ArgIovecs(const Napi::CallbackInfo& info, size_t i, const char* what);

// The head every vectored call shares, (fd, buffers[], position, ...): the buffers as iovecs and
// the JS array itself, which the job must keep alive until it completes. Checked in that order,
// so the first bad argument is the one named; `what` names the array.
struct VectoredArgs {
  int fd;
  std::shared_ptr<std::vector<iovec>> iov;
  Napi::Array buffers;
  int64_t position;
};
VectoredArgs ArgVectored(const Napi::CallbackInfo& info, const char* what);

// The raw Node-API prologue of the fast calls (fast_calls.h): up to *argc arguments into argv
// (missing ones stay as they were), the first one read as a Uint8Array. Otherwise throws a
// TypeError saying "<what> must be a Uint8Array or Buffer" and returns false.
bool RawArgsWithBytes(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv, Bytes* bytes,
                      const char* what);

}  // namespace nodewal

#endif  // NODEWAL_NAPI_ARGS_H_
