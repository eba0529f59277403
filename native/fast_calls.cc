// See fast_calls.h.
#include "fast_calls.h"

#include <sys/uio.h>

#include <string>
#include <vector>

#include "crc32c.h"
#include "file.h"
#include "fs_error.h"
#include "napi_args.h"

namespace nodewal {
namespace {

// crc32c(data, seed) -> number: at 64 B the call costs more than the CRC. One typed-array query.
napi_value Crc32cFast(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {nullptr, nullptr};
  Bytes bytes{};
  if (!RawArgsWithBytes(env, info, &argc, argv, &bytes, "data")) return nullptr;
  uint32_t seed = 0;
  if (argc >= 2) napi_get_value_uint32(env, argv[1], &seed);  // non-numbers leave 0
  napi_value result = nullptr;
  napi_create_uint32(env, Crc32c(seed, bytes.data, bytes.length), &result);
  return result;
}

// writeSync(fd, buffers[], position, datasync, path?) -> undefined: the generic job path cost
// more than the pwritev of a small record. Same checks and errors as the async write; the path
// is read only to report an error, and up to kStackIovecs buffers need no allocation.
constexpr uint32_t kStackIovecs = 16;

napi_value WriteSyncFast(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  napi_value undefined = nullptr;
  napi_get_undefined(env, &undefined);
  for (size_t i = argc; i < 5; i++) argv[i] = undefined;
  napi_valuetype kind = napi_undefined;
  int32_t fd = 0;
  if (napi_typeof(env, argv[0], &kind) != napi_ok || kind != napi_number) {
    napi_throw_type_error(env, nullptr, "fd must be a number");
    return nullptr;
  }
  napi_get_value_int32(env, argv[0], &fd);
  bool is_array = false;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, nullptr, "buffers must be an array");
    return nullptr;
  }
  int64_t position = 0;
  if (napi_typeof(env, argv[2], &kind) != napi_ok || kind != napi_number) {
    napi_throw_type_error(env, nullptr, "position must be a number");
    return nullptr;
  }
  napi_get_value_int64(env, argv[2], &position);
  bool datasync = false;
  napi_value datasync_bool = nullptr;
  if (napi_coerce_to_bool(env, argv[3], &datasync_bool) != napi_ok) return nullptr;
  napi_get_value_bool(env, datasync_bool, &datasync);
  uint32_t count = 0;
  napi_get_array_length(env, argv[1], &count);
  iovec stack[kStackIovecs];
  std::vector<iovec> heap;
  iovec* iov = stack;
  if (count > kStackIovecs) {
    heap.resize(count);
    iov = heap.data();
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value item = nullptr;
    Bytes bytes{};
    if (napi_get_element(env, argv[1], i, &item) != napi_ok || !GetBytes(env, item, &bytes)) {
      const std::string message = "buffers[" + std::to_string(i) + "] must be a Uint8Array or Buffer";
      napi_throw_type_error(env, nullptr, message.c_str());
      return nullptr;
    }
    iov[i] = {bytes.data, bytes.length};
  }
  const IoStatus status = WriteAll(fd, iov, count, position, datasync);
  if (status.err != 0) {
    try {
      std::string path;
      if (napi_typeof(env, argv[4], &kind) == napi_ok && kind == napi_string) {
        path = Napi::String(env, argv[4]).Utf8Value();
      }
      MakeFsError(env, status.err, status.syscall, path).ThrowAsJavaScriptException();
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();
    }
    return nullptr;
  }
  return undefined;
}

}  // namespace

void ExportRawFunction(Napi::Env env, Napi::Object exports, const char* name, napi_callback callback) {
  napi_value fn = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &fn));
  exports.Set(name, Napi::Value(env, fn));
}

void ExportFastCalls(Napi::Env env, Napi::Object exports) {
  ExportRawFunction(env, exports, "crc32c", Crc32cFast);
  ExportRawFunction(env, exports, "writeSync", WriteSyncFast);
}

}  // namespace nodewal
