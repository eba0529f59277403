// A dedicated I/O thread per object (`new addon.SyncThread()`), for one writer that issues a
// write + fdatasync, waits for it, then issues the next one (Log's group commit).
//
// The libuv threadpool costs two cross-thread wake-ups per job: the submit (uv_queue_work signals
// a sleeping worker) and the completion (uv_async back to the loop). This thread removes the
// first one when it pays: after finishing a job it stays runnable (a sched_yield loop) for up to
// `spinMicros` (default 250) waiting for the next, so the submit is a store the thread sees at
// once, but only while recent jobs came sooner than its wake-ups from sleep took (it measures
// both); otherwise, and after the spin, it sleeps on a condition variable. A fixed 250 µs spin
// cost Log up to ~40 µs of CPU per durable append at 1 producer for no throughput (bench/sync-
// thread-cpu.bench.ts). Completion is a uv_async_t on the JS thread's loop. Blocking calls never
// run on the JS thread.
//
// Lifetime: `close()` stops and joins the thread (jobs still queued run first, so it is only
// called once they settled, see src/io/native.ts); the garbage collector does the same for an
// object dropped unclosed, and an async environment cleanup hook does it when the environment
// (main thread or worker) exits, so the thread never outlives it.
#ifndef NODEWAL_SYNC_THREAD_H_
#define NODEWAL_SYNC_THREAD_H_

#include <napi.h>

namespace nodewal {

// Defines the SyncThread class: new SyncThread(spinMicros?), .write(fd, buffer, position,
// datasync, path?) -> Promise<void>, .close() -> undefined, .pending (number of unsettled writes).
Napi::Function DefineSyncThread(Napi::Env env);

}  // namespace nodewal

#endif  // NODEWAL_SYNC_THREAD_H_
