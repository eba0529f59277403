// See leveldb_calls.h.
#include "leveldb_calls.h"

#include <sys/uio.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "async.h"
#include "fast_calls.h"
#include "file.h"
#include "leveldb_format.h"
#include "leveldb_scan.h"
#include "napi_args.h"

namespace nodewal {
namespace {

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

// readLevelDBBlocks(fd, blocks[], position, verify, runs, path?) -> bytes read: readv into one
// buffer per LevelDB block, then, still on the threadpool thread, FindLevelDBRuns on each block
// read, writing block i's pairs to runs[i * 2 * R ...] with R = runs.length / (2 * blocks).
// The CRC checks of a whole read then run beside the JS thread instead of on it.
Napi::Value ReadLevelDBBlocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const VectoredArgs args = ArgVectored(info, "blocks");
  const int fd = args.fd;
  const auto iov = args.iov;
  const int64_t position = args.position;
  const bool verify = info[3].ToBoolean().Value();
  Napi::Uint32Array runs_array = ArgUint32Array(info, 4, "runs");
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
  held.Set(0u, args.buffers);
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

// The constants of leveldb_format.h, under the names src/leveldb/format.ts gives them.
Napi::Object FormatConstants(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("BLOCK_SIZE", static_cast<double>(leveldb_format::kBlockSize));
  out.Set("HEADER_SIZE", static_cast<double>(leveldb_format::kHeaderSize));
  out.Set("ZERO_TYPE", static_cast<double>(leveldb_format::kZeroType));
  out.Set("FULL_TYPE", static_cast<double>(leveldb_format::kFullType));
  out.Set("MASK_DELTA", static_cast<double>(leveldb_format::kMaskDelta));
  return out;
}

}  // namespace

void ExportLevelDBCalls(Napi::Env env, Napi::Object exports) {
  ExportRawFunction(env, exports, "scanLevelDBFullRecords", ScanLevelDBFullRecordsFast);
  exports.Set("readLevelDBBlocks", Napi::Function::New(env, ReadLevelDBBlocks, "readLevelDBBlocks"));
  exports.Set("leveldbFormat", FormatConstants(env));
}

}  // namespace nodewal
