// The dedicated write + fdatasync thread (see sync_thread.h).
//
// Ownership: a Lane holds the thread, the job queue and the uv_async_t; the JS object
// (SyncThreadWrap) points to it. Shutdown (close() once idle, the object's finalizer, or the
// environment's async cleanup hook, whichever comes first) stops and joins the thread, settles
// what completed, and closes the uv_async_t; its close callback removes the cleanup hook and
// deletes the Lane. All of that runs on the JS thread.
#include "sync_thread.h"

#include <sched.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "file.h"
#include "fs_error.h"
#include "glibcxx_compat.h"


namespace nodewal {
namespace {

// The longest the thread waits, spinning, for the next job before it sleeps; it spins at all only
// while recent jobs came sooner than a wake-up from sleep takes (SpinPays).
constexpr uint32_t kDefaultSpinMicros = 250;
constexpr uint32_t kMaxSpinMicros = 100000;
// Weight of the newest sample in the running averages below: about the last 8 jobs count.
constexpr int64_t kAverageShift = 3;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Job {
  int fd = -1;
  uint8_t* data = nullptr;
  size_t length = 0;
  int64_t position = 0;
  bool datasync = false;
  std::string path;                  // for errors only
  napi_deferred deferred = nullptr;  // settled on the JS thread
  napi_ref keep = nullptr;           // the buffer, alive until the job is settled
  IoStatus status;
  int64_t submitted = 0;             // NowNanos() when write() queued it
};

class SyncThreadWrap;

struct Lane {
  napi_env env = nullptr;
  uv_async_t async{};
  napi_async_cleanup_hook_handle hook = nullptr;
  napi_async_context context = nullptr;
  uint32_t spin_micros = kDefaultSpinMicros;
  std::thread thread;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job*> queue;  // guarded by mu
  bool sleeping = false;   // guarded by mu
  bool stop = false;       // guarded by mu
  std::atomic<uint32_t> queued{0};  // queue.size(), readable without mu (the spin)

  // The thread's own, in nanoseconds: running averages of the gap between a job's completion and
  // the next submission, and of the time a sleeping thread takes to start after a submission.
  int64_t last_done = 0;
  int64_t average_gap = 0;
  int64_t average_wake = 0;  // 0 until a wake-up was seen: no spin until then

  std::mutex done_mu;
  std::vector<Job*> done;  // guarded by done_mu

  // JS thread only.
  uint32_t pending = 0;       // written and not yet settled
  bool close_requested = false;
  bool shut = false;
  SyncThreadWrap* owner = nullptr;
};

void Average(int64_t* average, int64_t sample) { *average += (sample - *average) >> kAverageShift; }

// Spinning costs about the gap in CPU and saves a wake-up's latency: it pays only while jobs
// come sooner than a wake-up takes. When they come later (Log at 1 producer: the next batch is
// ~60-100 µs away; at 256: more), the thread sleeps at once. A spin that misses makes the average
// gap grow, so it stops by itself; the gaps are measured while sleeping too, so it starts again
// when jobs come close together.
bool SpinPays(const Lane* lane) {
  if (lane->spin_micros == 0 || lane->average_wake == 0) return false;
  return lane->average_gap < lane->average_wake &&
         lane->average_gap < static_cast<int64_t>(lane->spin_micros) * 1000;
}

// Waits for the next job for up to spin_micros without sleeping: the thread stays runnable, so
// the next submit needs no wake-up. It yields the CPU in the loop rather than spinning on PAUSE:
// measured on a 2-vCPU KVM guest, a PAUSE (or plain) busy loop made Log slower (it holds a CPU
// that the JS thread and the kernel's I/O completion work need), sched_yield did not.
void Spin(Lane* lane) {
  if (!SpinPays(lane)) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(lane->spin_micros);
  while (lane->queued.load(std::memory_order_acquire) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) return;
    sched_yield();
  }
}

void Run(Lane* lane) {
  for (;;) {
    Job* job = nullptr;
    bool slept = false;
    {
      std::unique_lock<std::mutex> lock(lane->mu);
      while (lane->queue.empty()) {
        if (lane->stop) return;  // only once the queue is drained
        lane->sleeping = true;
        lane->cv.wait(lock);
        lane->sleeping = false;
        slept = true;
      }
      job = lane->queue.front();
      lane->queue.pop_front();
      lane->queued.fetch_sub(1, std::memory_order_relaxed);
    }
    const int64_t started = NowNanos();
    if (slept && started > job->submitted) Average(&lane->average_wake, started - job->submitted);
    // A job queued before the last one completed had no gap: the next was there already.
    Average(&lane->average_gap, job->submitted > lane->last_done ? job->submitted - lane->last_done : 0);
    iovec iov{job->data, job->length};
    job->status = WriteAll(job->fd, &iov, 1, job->position, job->datasync);
    lane->last_done = NowNanos();
    {
      std::lock_guard<std::mutex> lock(lane->done_mu);
      lane->done.push_back(job);
    }
    uv_async_send(&lane->async);
    Spin(lane);
  }
}

void Shutdown(Lane* lane, bool teardown);

class SyncThreadWrap final : public Napi::ObjectWrap<SyncThreadWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SyncThread",
                       {
                           InstanceMethod("write", &SyncThreadWrap::Write),
                           InstanceMethod("close", &SyncThreadWrap::Close),
                           InstanceAccessor("pending", &SyncThreadWrap::Pending, nullptr),
                       });
  }

  explicit SyncThreadWrap(const Napi::CallbackInfo& info);
  ~SyncThreadWrap() override {
    if (lane_ != nullptr) Shutdown(lane_, false);
  }

  // The Lane is going away (Shutdown): forget it.
  void Detach() { lane_ = nullptr; }
  // Keeps this object (and so the Lane) from being collected while writes are pending, so its
  // finalizer never has to join a thread that is in the middle of an fdatasync.
  void Hold() { Ref(); }
  void Release() { Unref(); }

 private:
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Pending(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), lane_ == nullptr ? 0 : lane_->pending);
  }

  Lane* lane_ = nullptr;
};

// Settles completed jobs on the JS thread. Outside teardown, inside a callback scope so that the
// promise reactions (microtasks) run when it closes, as after any other native callback.
void Settle(Lane* lane, std::vector<Job*>* jobs, bool teardown) {
  napi_env env = lane->env;
  napi_handle_scope scope = nullptr;
  napi_open_handle_scope(env, &scope);
  napi_callback_scope callback_scope = nullptr;
  if (!teardown && lane->context != nullptr) {
    napi_value resource = nullptr;
    napi_create_object(env, &resource);
    napi_open_callback_scope(env, resource, lane->context, &callback_scope);
  }
  for (Job* job : *jobs) {
    napi_value value = nullptr;
    if (job->status.err != 0) {
      try {
        value = MakeFsError(Napi::Env(env), job->status.err, job->status.syscall, job->path).Value();
      } catch (const Napi::Error&) {
        value = nullptr;
      }
      if (value == nullptr) napi_get_undefined(env, &value);
      napi_reject_deferred(env, job->deferred, value);
    } else {
      napi_get_undefined(env, &value);
      napi_resolve_deferred(env, job->deferred, value);
    }
    napi_delete_reference(env, job->keep);
    delete job;
  }
  lane->pending -= static_cast<uint32_t>(jobs->size());
  jobs->clear();
  if (lane->pending == 0) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&lane->async));
    if (lane->owner != nullptr && !teardown) lane->owner->Release();
  }
  if (callback_scope != nullptr) napi_close_callback_scope(env, callback_scope);
  napi_close_handle_scope(env, scope);
}

void OnAsync(uv_async_t* handle) {
  Lane* lane = static_cast<Lane*>(handle->data);
  if (lane->shut) return;
  std::vector<Job*> jobs;
  {
    std::lock_guard<std::mutex> lock(lane->done_mu);
    jobs.swap(lane->done);
  }
  if (!jobs.empty()) Settle(lane, &jobs, false);
  if (lane->close_requested && lane->pending == 0) Shutdown(lane, false);
}

void OnClosed(uv_handle_t* handle) {
  Lane* lane = static_cast<Lane*>(handle->data);
  if (lane->hook != nullptr) napi_remove_async_cleanup_hook(lane->hook);
  delete lane;
}

// Stops and joins the thread (it finishes the queued jobs first), settles them, closes the
// uv_async_t; the Lane is deleted in its close callback.
void Shutdown(Lane* lane, bool teardown) {
  if (lane->shut) return;
  if (lane->owner != nullptr) {
    // Pending writes held a reference to the object: a shutdown at teardown leaves it held.
    lane->owner->Detach();
    lane->owner = nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(lane->mu);
    lane->stop = true;
  }
  lane->cv.notify_all();
  if (lane->thread.joinable()) lane->thread.join();
  std::vector<Job*> jobs;
  {
    std::lock_guard<std::mutex> lock(lane->done_mu);
    jobs.swap(lane->done);
  }
  if (!jobs.empty()) Settle(lane, &jobs, teardown);
  lane->shut = true;
  if (lane->context != nullptr) {
    napi_async_destroy(lane->env, lane->context);
    lane->context = nullptr;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&lane->async), OnClosed);
}

// The environment (main thread or a worker) is exiting: no thread may outlive it.
void OnCleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  Lane* lane = static_cast<Lane*>(arg);
  // Already shut down: its close callback, still to come, removes this hook.
  if (lane->shut) return;
  Shutdown(lane, true);
}

SyncThreadWrap::SyncThreadWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SyncThreadWrap>(info) {
  Napi::Env env = info.Env();
  uint32_t spin = kDefaultSpinMicros;
  if (info.Length() > 0 && info[0].IsNumber()) {
    const double requested = info[0].As<Napi::Number>().DoubleValue();
    if (!(requested >= 0 && requested <= kMaxSpinMicros)) {
      throw Napi::RangeError::New(env, "spinMicros must be in [0, " + std::to_string(kMaxSpinMicros) + "]");
    }
    spin = static_cast<uint32_t>(requested);
  }
  uv_loop_t* loop = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop));
  Lane* lane = new Lane();
  lane->env = env;
  lane->spin_micros = spin;
  if (uv_async_init(loop, &lane->async, OnAsync) != 0) {
    delete lane;
    throw Napi::Error::New(env, "SyncThread: uv_async_init failed");
  }
  lane->async.data = lane;
  uv_unref(reinterpret_cast<uv_handle_t*>(&lane->async));  // referenced only while writes are pending
  lane->owner = this;
  lane_ = lane;
  napi_value name = nullptr;
  napi_create_string_utf8(env, "nodewal:syncThread", NAPI_AUTO_LENGTH, &name);
  napi_value resource = nullptr;
  napi_create_object(env, &resource);
  if (napi_async_init(env, resource, name, &lane->context) != napi_ok ||
      napi_add_async_cleanup_hook(env, OnCleanup, lane, &lane->hook) != napi_ok) {
    Shutdown(lane, false);
    throw Napi::Error::New(env, "SyncThread: cannot register with the environment");
  }
  try {
    lane->thread = std::thread(Run, lane);
  } catch (const std::system_error& e) {
    Shutdown(lane, false);
    throw Napi::Error::New(env, std::string("SyncThread: cannot start a thread: ") + e.what());
  }
}

// write(fd, buffer, position, datasync, path?) -> Promise<void>: pwrite of all of `buffer` at
// `position` (looping on short writes), then fdatasync when `datasync`, on this object's thread.
// Jobs run in submission order. The buffer is referenced until the promise settles.
Napi::Value SyncThreadWrap::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (lane_ == nullptr || lane_->close_requested) throw Napi::Error::New(env, "SyncThread is closed");
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (!info[1].IsTypedArray() ||
      napi_get_typedarray_info(env, info[1], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    throw Napi::TypeError::New(env, "buffer must be a Uint8Array or Buffer");
  }
  if (!info[2].IsNumber()) throw Napi::TypeError::New(env, "position must be a number");
  auto* job = new Job();
  job->fd = info[0].As<Napi::Number>().Int32Value();
  job->data = static_cast<uint8_t*>(data);
  job->length = length;
  job->position = info[2].As<Napi::Number>().Int64Value();
  job->datasync = info[3].ToBoolean().Value();
  if (info.Length() > 4 && info[4].IsString()) job->path = info[4].As<Napi::String>().Utf8Value();
  napi_value promise = nullptr;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    delete job;
    NAPI_THROW(Napi::Error::New(env, "SyncThread: cannot create a promise"), Napi::Value());
  }
  napi_create_reference(env, info[1], 1, &job->keep);
  Lane* lane = lane_;
  job->submitted = NowNanos();
  if (lane->pending++ == 0) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&lane->async));
    Hold();
  }
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(lane->mu);
    lane->queue.push_back(job);
    lane->queued.fetch_add(1, std::memory_order_release);
    wake = lane->sleeping;
  }
  if (wake) lane->cv.notify_one();
  return Napi::Value(env, promise);
}

// close() -> undefined: stops the thread once every write issued so far has settled (at once
// when none is pending). Later writes throw.
Napi::Value SyncThreadWrap::Close(const Napi::CallbackInfo& info) {
  if (lane_ != nullptr) {
    lane_->close_requested = true;
    if (lane_->pending == 0) Shutdown(lane_, false);
  }
  return info.Env().Undefined();
}

}  // namespace

Napi::Function DefineSyncThread(Napi::Env env) { return SyncThreadWrap::Define(env); }

}  // namespace nodewal
