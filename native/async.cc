// Threadpool jobs (see async.h). One AsyncWorker per call; node-addon-api deletes it on the JS
// thread after OnOK, which also drops the references that kept the job's buffers alive.
#include "async.h"

#include <utility>

#include "fs_error.h"

namespace nodewal {
namespace {

class IoWorker final : public Napi::AsyncWorker {
 public:
  IoWorker(Napi::Env env, IoJob job)
      : Napi::AsyncWorker(env, "nodewal:io"), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {
    if (!job_.keep_alive.IsEmpty()) ref_ = Napi::Persistent(job_.keep_alive.As<Napi::Object>());
    job_.keep_alive = Napi::Value();
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override { status_ = job_.work(); }

  // Always OnOK: a failed syscall is a normal outcome carried in status_, not SetError's string.
  void OnOK() override {
    Napi::Env env = Env();
    if (status_.err != 0) {
      deferred_.Reject(MakeFsError(env, status_.err, status_.syscall, job_.path).Value());
    } else {
      deferred_.Resolve(job_.result ? job_.result(env) : env.Undefined());
    }
  }

 private:
  IoJob job_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference ref_;
  IoStatus status_;
};

}  // namespace

Napi::Value RunIoJob(Napi::Env env, bool async, IoJob job) {
  if (!async) {
    const IoStatus status = job.work();
    if (status.err != 0) throw MakeFsError(env, status.err, status.syscall, job.path);
    return job.result ? job.result(env) : env.Undefined();
  }
  auto* worker = new IoWorker(env, std::move(job));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace nodewal
