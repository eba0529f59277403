// The addon's JS surface: argument conversion and registration only. The work lives in
// crc32c.cc (checksums), file.cc (syscalls), async.cc (threadpool), sync_thread.cc (the dedicated
// write + fdatasync thread) and fs_error.cc (errors).
//
// Context-aware (Napi::Addon, no static JS handles), so it loads in worker threads.
// Arguments are validated in TypeScript (src/io/native.ts); here we re-check only what could
// crash the process: value types we dereference and buffer bounds.
#include <fcntl.h>
#include <napi.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "async.h"
#include "crc32c.h"
#include "file.h"
#include "fs_error.h"
#include "leveldb_scan.h"
#include "sync_thread.h"

namespace nodewal {
namespace {

// True in the AddressSanitizer/UBSan build (native/CMakeLists.txt, WAL_SANITIZE=ON), so the
// sanitizer job can check that it runs the binary it built.
#ifdef NODEWAL_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

struct Bytes {
  uint8_t* data;
  size_t length;
};

// One raw Node-API query per buffer (node-addon-api's wrappers would make three): batches of
// thousands of buffers per write are normal here.
bool GetBytes(napi_env env, napi_value value, Bytes* out) {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  // Fails with napi_invalid_arg (no exception) for anything that is not a typed array.
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  out->data = static_cast<uint8_t*>(data);
  out->length = length;
  return true;
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Bytes bytes{};
  if (!GetBytes(info.Env(), info[i], &bytes)) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Uint8Array or Buffer");
  }
  return bytes;
}

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// Integer arguments go through Node-API's own conversions, which are defined for every double
// (NaN and infinities give 0, int32 wraps, int64 saturates); a C++ cast of an out-of-range
// double would be undefined behaviour.
int32_t ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

int ArgFd(const Napi::CallbackInfo& info, size_t i) { return ArgInt32(info, i, "fd"); }

int64_t ArgInt64(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

uint32_t ArgSeed(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return 0;
  return info[i].As<Napi::Number>().Uint32Value();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// fd-based calls take the file's path last, only to name it in errors.
std::string ArgPathForErrors(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : std::string();
}

// The buffers of a JS array as iovecs, for pwritev/preadv on a threadpool thread. `what` names
// the array in errors ("buffers[3] must be ...").
std::shared_ptr<std::vector<iovec>> ArgIovecs(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Env env = info.Env();
  if (!info[i].IsArray()) throw Napi::TypeError::New(env, std::string(what) + " must be an array");
  Napi::Array array = info[i].As<Napi::Array>();
  const uint32_t count = array.Length();
  auto iov = std::make_shared<std::vector<iovec>>();
  iov->reserve(count);
  for (uint32_t k = 0; k < count; k++) {
    napi_value item = nullptr;
    Bytes bytes{};
    if (napi_get_element(env, array, k, &item) != napi_ok || !GetBytes(env, item, &bytes)) {
      throw Napi::TypeError::New(env, std::string(what) + "[" + std::to_string(k) + "] must be a Uint8Array or Buffer");
    }
    iov->push_back({bytes.data, bytes.length});
  }
  return iov;
}

// The raw Node-API prologue of the fast functions below: up to *argc arguments into argv (missing
// ones stay as they were), the first one read as a Uint8Array. Otherwise throws a TypeError saying
// "<what> must be a Uint8Array or Buffer" and returns false.
bool RawArgsWithBytes(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv, Bytes* bytes, const char* what) {
  if (napi_get_cb_info(env, info, argc, argv, nullptr, nullptr) != napi_ok) return false;
  if (*argc < 1 || !GetBytes(env, argv[0], bytes)) {
    napi_throw_type_error(env, nullptr, (std::string(what) + " must be a Uint8Array or Buffer").c_str());
    return false;
  }
  return true;
}

// crc32c(data, seed) -> number, on raw Node-API: at 64 B the call costs more than the CRC, and
// node-addon-api's wrappers would query the typed array three times. One query here.
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

// scanLevelDBFullRecords(block, from, to, verify) -> offset, on raw Node-API: called once per
// block span by the LevelDB reader, so the call must stay cheap next to ~300 small records.
// from/to are clamped to the buffer; a bad argument throws a TypeError.
napi_value ScanLevelDBFullRecordsFast(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4] = {nullptr, nullptr, nullptr, nullptr};
  Bytes block{};
  if (!RawArgsWithBytes(env, info, &argc, argv, &block, "block")) return nullptr;
  uint32_t from = 0;
  uint32_t to = 0;
  bool verify = true;
  if (argc < 4 || napi_get_value_uint32(env, argv[1], &from) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &to) != napi_ok || napi_get_value_bool(env, argv[3], &verify) != napi_ok) {
    napi_throw_type_error(env, nullptr, "expected (block, from, to, verify)");
    return nullptr;
  }
  const size_t end = to < block.length ? to : block.length;
  const size_t start = from < end ? from : end;
  napi_value result = nullptr;
  napi_create_uint32(env, static_cast<uint32_t>(ScanLevelDBFullRecords(block.data, start, end, verify)), &result);
  return result;
}

// writeSync(fd, buffers[], position, datasync, path?) -> undefined, on raw Node-API: the generic
// job path (std::function, shared vector, the path converted up front) cost more than the
// pwritev of a small record. Same checks and errors as Write<false>; the path is read only to
// report an error, and up to kStackIovecs buffers need no allocation.
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
      if (napi_typeof(env, argv[4], &kind) == napi_ok && kind == napi_string) path = Napi::String(env, argv[4]).Utf8Value();
      MakeFsError(env, status.err, status.syscall, path).ThrowAsJavaScriptException();
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();
    }
    return nullptr;
  }
  return undefined;
}

class NodeWalAddon final : public Napi::Addon<NodeWalAddon> {
 public:
  NodeWalAddon(Napi::Env env, Napi::Object exports) {
    Napi::Array implementations = Napi::Array::New(env);
    uint32_t n = 0;
    for (const char* name : Crc32cAvailableImplementations()) implementations.Set(n++, name);

    DefineAddon(exports, {
        InstanceValue("crcImplementation", Napi::String::New(env, Crc32cImplementation())),
        InstanceValue("crcImplementations", implementations),
        InstanceValue("sanitized", Napi::Boolean::New(env, kSanitized)),
        InstanceMethod("crc32cChain", &NodeWalAddon::Crc32cChain),
        InstanceMethod("crc32cWith", &NodeWalAddon::Crc32cWithImpl),
        InstanceMethod("allocAligned", &NodeWalAddon::AllocAligned),
        InstanceMethod("open", &NodeWalAddon::Open<true>),
        InstanceMethod("openSync", &NodeWalAddon::Open<false>),
        InstanceMethod("write", &NodeWalAddon::Write<true>),
        InstanceMethod("read", &NodeWalAddon::Read<true>),
        InstanceMethod("readSync", &NodeWalAddon::Read<false>),
        InstanceMethod("readv", &NodeWalAddon::Readv),
        InstanceMethod("readLevelDBBlocks", &NodeWalAddon::ReadLevelDBBlocks),
        InstanceMethod("datasync", &NodeWalAddon::FdCall<true, DataSync>),
        InstanceMethod("datasyncSync", &NodeWalAddon::FdCall<false, DataSync>),
        InstanceMethod("fsync", &NodeWalAddon::FdCall<true, FullSync>),
        InstanceMethod("fsyncSync", &NodeWalAddon::FdCall<false, FullSync>),
        InstanceMethod("unlock", &NodeWalAddon::FdCall<true, UnlockFile>),
        InstanceMethod("unlockSync", &NodeWalAddon::FdCall<false, UnlockFile>),
        InstanceMethod("close", &NodeWalAddon::FdCall<true, CloseFile>),
        InstanceMethod("closeSync", &NodeWalAddon::FdCall<false, CloseFile>),
        InstanceMethod("fsyncDir", &NodeWalAddon::FsyncDir<true>),
        InstanceMethod("fsyncDirSync", &NodeWalAddon::FsyncDir<false>),
        InstanceMethod("truncate", &NodeWalAddon::TruncateFile<true>),
        InstanceMethod("truncateSync", &NodeWalAddon::TruncateFile<false>),
        InstanceMethod("allocate", &NodeWalAddon::AllocateFile<true>),
        InstanceMethod("allocateSync", &NodeWalAddon::AllocateFile<false>),
        InstanceMethod("size", &NodeWalAddon::Size<true>),
        InstanceMethod("sizeSync", &NodeWalAddon::Size<false>),
        InstanceMethod("lock", &NodeWalAddon::Lock<true>),
        InstanceMethod("lockSync", &NodeWalAddon::Lock<false>),
        InstanceValue("SyncThread", DefineSyncThread(env)),
    });
    napi_value crc32c_fn = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "crc32c", NAPI_AUTO_LENGTH, Crc32cFast, nullptr, &crc32c_fn));
    exports.Set("crc32c", Napi::Value(env, crc32c_fn));
    napi_value write_sync_fn = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "writeSync", NAPI_AUTO_LENGTH, WriteSyncFast, nullptr, &write_sync_fn));
    exports.Set("writeSync", Napi::Value(env, write_sync_fn));
    napi_value scan_fn = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "scanLevelDBFullRecords", NAPI_AUTO_LENGTH,
                                                        ScanLevelDBFullRecordsFast, nullptr, &scan_fn));
    exports.Set("scanLevelDBFullRecords", Napi::Value(env, scan_fn));
  }

 private:
  // crc32cChain(data, bounds, seed) -> Uint32Array of running CRCs, one per [start, end) pair.
  Napi::Value Crc32cChain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Bytes bytes = ArgBytes(info, 0, "data");
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      throw Napi::TypeError::New(env, "bounds must be a Uint32Array");
    }
    Napi::Uint32Array bounds = info[1].As<Napi::Uint32Array>();
    const size_t pairs = bounds.ElementLength() / 2;
    if (bounds.ElementLength() % 2 != 0) throw Napi::RangeError::New(env, "bounds must hold start,end pairs");
    const uint32_t crc = ArgSeed(info, 2);
    Napi::Uint32Array out = Napi::Uint32Array::New(env, pairs);
    const uint32_t* b = bounds.Data();
    uint32_t* o = out.Data();
    for (size_t i = 0; i < pairs; i++) {
      const uint32_t start = b[2 * i];
      const uint32_t end = b[2 * i + 1];
      if (end < start || end > bytes.length) {
        throw Napi::RangeError::New(env, "slice " + std::to_string(i) + " [" + std::to_string(start) + ", " +
                                             std::to_string(end) + ") is out of bounds");
      }
    }
    nodewal::Crc32cChain(crc, bytes.data, b, pairs, o);
    return out;
  }

  // crc32cWith(name, data, seed) -> number, or undefined when this CPU lacks `name` (tests).
  Napi::Value Crc32cWithImpl(const Napi::CallbackInfo& info) {
    const std::string name = ArgString(info, 0, "name");
    const Bytes bytes = ArgBytes(info, 1, "data");
    uint32_t out = 0;
    if (!Crc32cWith(name.c_str(), ArgSeed(info, 2), bytes.data, bytes.length, &out)) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), out);
  }

  // allocAligned(size, alignment) -> zero-filled Uint8Array over posix_memalign memory, freed
  // by its finalizer when the ArrayBuffer is collected.
  Napi::Value AllocAligned(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const double size_arg = ArgNumber(info, 0, "size");
    const double align_arg = ArgNumber(info, 1, "alignment");
    if (!(size_arg >= 0 && size_arg <= 9007199254740991.0)) throw Napi::RangeError::New(env, "size out of range");
    if (!(align_arg >= 1 && align_arg <= 1 << 30)) throw Napi::RangeError::New(env, "alignment out of range");
    size_t alignment = static_cast<size_t>(align_arg);
    if ((alignment & (alignment - 1)) != 0) throw Napi::RangeError::New(env, "alignment must be a power of two");
    if (alignment < sizeof(void*)) alignment = sizeof(void*);  // posix_memalign's minimum
    const size_t size = static_cast<size_t>(size_arg);
    void* memory = nullptr;
    const int rc = posix_memalign(&memory, alignment, size == 0 ? alignment : size);
    if (rc != 0) throw MakeFsError(env, rc, "posix_memalign", "");
    std::memset(memory, 0, size);
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(size));
    // A plain Uint8Array (not a Buffer), like the fallback's, so callers cannot come to rely on
    // Buffer methods that only one backend provides.
    Napi::ArrayBuffer backing = Napi::ArrayBuffer::New(env, memory, size, [size](Napi::Env e, void* data) {
      std::free(data);
      Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(size));
    });
    return Napi::Uint8Array::New(env, size, backing, 0);
  }

  // open(path, flags, mode, direct) -> { fd, direct, alignment }
  template <bool Async>
  Napi::Value Open(const Napi::CallbackInfo& info) {
    IoJob job;
    job.path = ArgString(info, 0, "path");
    const int flags = ArgInt32(info, 1, "flags");
    const int mode = ArgInt32(info, 2, "mode");
    const bool direct = info[3].ToBoolean().Value();
    auto result = std::make_shared<OpenResult>();
    const std::string path = job.path;
    job.work = [=] { return OpenFile(path, flags, mode, direct, result.get()); };
    job.result = [result](Napi::Env env) -> Napi::Value {
      Napi::Object out = Napi::Object::New(env);
      out.Set("fd", result->fd);
      out.Set("direct", result->direct);
      out.Set("alignment", result->alignment);
      return out;
    };
    return RunIoJob(info.Env(), Async, std::move(job));
  }

  // write(fd, buffers[], position, datasync, path?) -> undefined (pwritev + optional fdatasync).
  template <bool Async>
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int fd = ArgFd(info, 0);
    auto iov = ArgIovecs(info, 1, "buffers");
    Napi::Array buffers = info[1].As<Napi::Array>();
    const int64_t position = ArgInt64(info, 2, "position");
    const bool datasync = info[3].ToBoolean().Value();
    IoJob job;
    job.path = ArgPathForErrors(info, 4);
    // Async: the job references the array, which keeps every buffer in it alive until the job
    // completes (as node:fs's writev does). Contract: the caller must not remove buffers from
    // this array meanwhile; src/io/native.ts passes a private copy.
    if (Async) job.keep_alive = buffers;
    job.work = [=] { return WriteAll(fd, iov.get(), position, datasync); };
    return RunIoJob(env, Async, std::move(job));
  }

  // read(fd, target, position, path?) -> bytes read (short only at end of file)
  template <bool Async>
  Napi::Value Read(const Napi::CallbackInfo& info) {
    const int fd = ArgFd(info, 0);
    const Bytes target = ArgBytes(info, 1, "target");
    const int64_t position = ArgInt64(info, 2, "position");
    IoJob job;
    job.path = ArgPathForErrors(info, 3);
    if (Async) job.keep_alive = info[1];
    auto done = std::make_shared<size_t>(0);
    job.work = [=] { return ReadFull(fd, target.data, target.length, position, done.get()); };
    job.result = [done](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*done)); };
    return RunIoJob(info.Env(), Async, std::move(job));
  }

  // readv(fd, targets[], position, path?) -> bytes read into the targets in order (short only at
  // end of file). Async only: it serves read-ahead, which never blocks the JS thread.
  Napi::Value Readv(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int fd = ArgFd(info, 0);
    auto iov = ArgIovecs(info, 1, "targets");
    Napi::Array targets = info[1].As<Napi::Array>();
    const int64_t position = ArgInt64(info, 2, "position");
    IoJob job;
    job.path = ArgPathForErrors(info, 3);
    // Same contract as write: the array keeps its buffers alive; src/io/native.ts passes a copy.
    job.keep_alive = targets;
    auto done = std::make_shared<size_t>(0);
    job.work = [=] { return ReadvFull(fd, iov.get(), position, done.get()); };
    job.result = [done](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*done)); };
    return RunIoJob(env, true, std::move(job));
  }

  // readLevelDBBlocks(fd, blocks[], position, verify, runs, path?) -> bytes read: readv into one
  // buffer per LevelDB block, then, still on the threadpool thread, FindLevelDBRuns on each block
  // read, writing block i's pairs to runs[i * 2 * R ...] with R = runs.length / (2 * blocks).
  // The CRC checks of a whole read then run beside the JS thread instead of on it.
  Napi::Value ReadLevelDBBlocks(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int fd = ArgFd(info, 0);
    auto iov = ArgIovecs(info, 1, "blocks");
    Napi::Array blocks = info[1].As<Napi::Array>();
    const int64_t position = ArgInt64(info, 2, "position");
    const bool verify = info[3].ToBoolean().Value();
    if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      throw Napi::TypeError::New(env, "runs must be a Uint32Array");
    }
    Napi::Uint32Array runs_array = info[4].As<Napi::Uint32Array>();
    IoJob job;
    job.path = ArgPathForErrors(info, 5);
    const size_t count = iov->size();
    if (count == 0 || runs_array.ElementLength() % (2 * count) != 0) {
      throw Napi::RangeError::New(env, "runs must hold the same number of pairs for every block");
    }
    const size_t runs_per_block = runs_array.ElementLength() / (2 * count);
    const std::vector<iovec> layout = *iov;  // ReadvFull consumes iov; the scan needs the blocks
    uint32_t* runs = runs_array.Data();
    // The job keeps [blocks, runs] alive until it completes.
    Napi::Array held = Napi::Array::New(env, 2);
    held.Set(0u, blocks);
    held.Set(1u, runs_array);
    job.keep_alive = held;
    auto done = std::make_shared<size_t>(0);
    job.work = [=] {
      const IoStatus status = ReadvFull(fd, iov.get(), position, done.get());
      size_t left = *done;
      for (size_t i = 0; i < layout.size(); i++) {
        const size_t filled = std::min(left, layout[i].iov_len);
        left -= filled;
        FindLevelDBRuns(static_cast<const uint8_t*>(layout[i].iov_base), filled, verify, runs + i * 2 * runs_per_block,
                        runs_per_block);
      }
      return status;
    };
    job.result = [done](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*done)); };
    return RunIoJob(env, true, std::move(job));
  }

  // datasync / fsync / unlock / close (fd, path?) -> undefined
  template <bool Async, IoStatus (*Call)(int)>
  Napi::Value FdCall(const Napi::CallbackInfo& info) {
    const int fd = ArgFd(info, 0);
    IoJob job;
    job.path = ArgPathForErrors(info, 1);
    job.work = [fd] { return Call(fd); };
    return RunIoJob(info.Env(), Async, std::move(job));
  }

  // fsyncDir(path) -> undefined
  template <bool Async>
  Napi::Value FsyncDir(const Napi::CallbackInfo& info) {
    IoJob job;
    job.path = ArgString(info, 0, "path");
    const std::string path = job.path;
    job.work = [path] { return SyncDirectory(path); };
    return RunIoJob(info.Env(), Async, std::move(job));
  }

  // truncate(fd, length, path?) -> undefined
  template <bool Async>
  Napi::Value TruncateFile(const Napi::CallbackInfo& info) {
    const int fd = ArgFd(info, 0);
    const int64_t length = ArgInt64(info, 1, "length");
    IoJob job;
    job.path = ArgPathForErrors(info, 2);
    job.work = [=] { return Truncate(fd, length); };
    return RunIoJob(info.Env(), Async, std::move(job));
  }

  // allocate(fd, offset, length, path?) -> undefined
  template <bool Async>
  Napi::Value AllocateFile(const Napi::CallbackInfo& info) {
    const int fd = ArgFd(info, 0);
    const int64_t offset = ArgInt64(info, 1, "offset");
    const int64_t length = ArgInt64(info, 2, "length");
    IoJob job;
    job.path = ArgPathForErrors(info, 3);
    job.work = [=] { return Allocate(fd, offset, length); };
    return RunIoJob(info.Env(), Async, std::move(job));
  }

  // size(fd, path?) -> number
  template <bool Async>
  Napi::Value Size(const Napi::CallbackInfo& info) {
    const int fd = ArgFd(info, 0);
    IoJob job;
    job.path = ArgPathForErrors(info, 1);
    auto size = std::make_shared<int64_t>(0);
    job.work = [=] { return FileSize(fd, size.get()); };
    job.result = [size](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*size)); };
    return RunIoJob(info.Env(), Async, std::move(job));
  }

  // lock(fd, wait, path?) -> undefined; a held lock rejects with code 'EAGAIN' when !wait.
  // The waiting form blocks a threadpool thread until the holder releases the lock. It waits on
  // a duplicate descriptor (same open file description, so the OFD lock is the same lock): if
  // the file is closed meanwhile and its number reused, the wait cannot lock the wrong file,
  // and closing the duplicate afterwards releases the lock when the original is already gone.
  template <bool Async>
  Napi::Value Lock(const Napi::CallbackInfo& info) {
    const int fd = ArgFd(info, 0);
    const bool wait = info[1].ToBoolean().Value();
    IoJob job;
    job.path = ArgPathForErrors(info, 2);
    if (Async && wait) {
      const int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (dup_fd < 0) return RunIoJob(info.Env(), true, {[err = errno] { return IoStatus::Fail(err, "fcntl"); }, {}, job.path, {}});
      job.work = [dup_fd] {
        const IoStatus status = LockFile(dup_fd, true);
        CloseFile(dup_fd);
        return status;
      };
    } else {
      job.work = [=] { return LockFile(fd, wait); };
    }
    return RunIoJob(info.Env(), Async, std::move(job));
  }
};

}  // namespace
}  // namespace nodewal

using nodewal::NodeWalAddon;
NODE_API_ADDON(NodeWalAddon)
