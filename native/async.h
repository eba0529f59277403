// Runs a blocking job either inline (sync forms) or on the libuv threadpool behind a Promise
// (async forms), with the same result conversion and the same Node-style errors for both.
#ifndef NODEWAL_ASYNC_H_
#define NODEWAL_ASYNC_H_

#include <napi.h>

#include <functional>
#include <string>
#include <vector>

#include "file.h"

namespace nodewal {

struct IoJob {
  // Runs on a threadpool thread (async) or the JS thread (sync); must not touch JS values.
  std::function<IoStatus()> work;
  // Runs on the JS thread after success; converts the job's result. Empty -> undefined.
  std::function<Napi::Value(Napi::Env)> result;
  // Shown in errors as `path`.
  std::string path;
  // The JS object (a buffer, or an array of them) the job reads or writes: referenced until the
  // job completes so the garbage collector cannot free its memory while a threadpool thread uses it.
  Napi::Value keep_alive;
};

// Sync: runs the job now and returns its result or throws the fs error.
// Async: queues it and returns a Promise settled with the result or the fs error.
Napi::Value RunIoJob(Napi::Env env, bool async, IoJob job);

}  // namespace nodewal

#endif  // NODEWAL_ASYNC_H_
