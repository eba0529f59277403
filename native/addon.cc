// The addon's JS surface: registration, and the node-addon-api bindings of the CRC and file calls.
// The work lives in crc32c.cc (checksums), file.cc (syscalls), async.cc (threadpool),
// sync_thread.cc (the dedicated write + fdatasync thread) and fs_error.cc (errors); argument
// conversion in napi_args.cc, the raw Node-API hot calls in fast_calls.cc, the LevelDB calls in
// leveldb_calls.cc.
//
// Context-aware (Napi::Addon, no static JS handles), so it loads in worker threads.
#include <fcntl.h>
#include <napi.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "async.h"
#include "crc32c.h"
#include "fast_calls.h"
#include "file.h"
#include "fs_error.h"
#include "leveldb_calls.h"
#include "napi_args.h"
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
        InstanceMethod("write", &NodeWalAddon::Write),
        InstanceMethod("read", &NodeWalAddon::Read<true>),
        InstanceMethod("readSync", &NodeWalAddon::Read<false>),
        InstanceMethod("readv", &NodeWalAddon::Readv),
        InstanceMethod("datasync", &NodeWalAddon::FdCall<true, DataSync>),
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
        InstanceMethod("allocate", &NodeWalAddon::AllocateFile),
        InstanceMethod("size", &NodeWalAddon::Size<true>),
        InstanceMethod("sizeSync", &NodeWalAddon::Size<false>),
        InstanceMethod("lock", &NodeWalAddon::Lock<true>),
        InstanceMethod("lockSync", &NodeWalAddon::Lock<false>),
        InstanceValue("SyncThread", DefineSyncThread(env)),
    });
    ExportFastCalls(env, exports);
    ExportLevelDBCalls(env, exports);
  }

 private:
  // crc32cChain(data, bounds, seed) -> Uint32Array of running CRCs, one per [start, end) pair.
  Napi::Value Crc32cChain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Bytes bytes = ArgBytes(info, 0, "data");
    Napi::Uint32Array bounds = ArgUint32Array(info, 1, "bounds");
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

  // write(fd, buffers[], position, datasync, path?) -> undefined (pwritev + optional fdatasync)
  // on the threadpool; writeSync is fast_calls.cc's.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    const VectoredArgs args = ArgVectored(info, "buffers");
    const bool datasync = info[3].ToBoolean().Value();
    IoJob job;
    job.path = ArgPathForErrors(info, 4);
    // The job references the array, which keeps every buffer in it alive until the job
    // completes (as node:fs's writev does). Contract: the caller must not remove buffers from
    // this array meanwhile; src/io/native.ts passes a private copy.
    job.keep_alive = args.buffers;
    job.work = [fd = args.fd, iov = args.iov, position = args.position, datasync] {
      return WriteAll(fd, iov.get(), position, datasync);
    };
    return RunIoJob(info.Env(), true, std::move(job));
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
    const VectoredArgs args = ArgVectored(info, "targets");
    IoJob job;
    job.path = ArgPathForErrors(info, 3);
    // Same contract as write: the array keeps its buffers alive; src/io/native.ts passes a copy.
    job.keep_alive = args.buffers;
    auto done = std::make_shared<size_t>(0);
    job.work = [fd = args.fd, iov = args.iov, position = args.position, done] {
      return ReadvFull(fd, iov.get(), position, done.get());
    };
    job.result = [done](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*done)); };
    return RunIoJob(info.Env(), true, std::move(job));
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

  // allocate(fd, offset, length, path?) -> undefined, on the threadpool.
  Napi::Value AllocateFile(const Napi::CallbackInfo& info) {
    const int fd = ArgFd(info, 0);
    const int64_t offset = ArgInt64(info, 1, "offset");
    const int64_t length = ArgInt64(info, 2, "length");
    IoJob job;
    job.path = ArgPathForErrors(info, 3);
    job.work = [=] { return Allocate(fd, offset, length); };
    return RunIoJob(info.Env(), true, std::move(job));
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
