// Blocking POSIX file primitives behind the WalFile interface. Plain C++ with no N-API types, so
// each one can run on the JS thread (sync forms) or on a libuv threadpool thread (async forms).
// Every function returns an IoStatus instead of throwing: err is a positive errno, 0 on success.
#ifndef NODEWAL_FILE_H_
#define NODEWAL_FILE_H_

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nodewal {

struct IoStatus {
  int err = 0;                  // positive errno; 0 = success
  const char* syscall = "";     // the call that failed, as Node names it ('write', 'fsync', ...)
  static IoStatus Ok() { return {}; }
  static IoStatus Fail(int e, const char* call) { return {e, call}; }
};

struct OpenResult {
  int fd = -1;
  bool direct = false;       // O_DIRECT is in effect
  uint32_t alignment = 1;    // required alignment for direct I/O, 1 when buffered
};

// open(2) with `flags` (O_RDONLY/O_WRONLY/O_RDWR/O_CREAT/O_EXCL/O_TRUNC as the caller computed
// them) plus O_CLOEXEC. With want_direct, O_DIRECT is added after the open with fcntl(F_SETFL),
// so a filesystem that refuses it (EINVAL) leaves a buffered descriptor rather than a file
// created by a failed open.
IoStatus OpenFile(const std::string& path, int flags, int mode, bool want_direct, OpenResult* out);

// pwritev of all of `iov` at `position`, in IOV_MAX chunks, looping on short writes and EINTR;
// then fdatasync when `datasync`. Consumes (modifies) `iov`.
IoStatus WriteAll(int fd, std::vector<iovec>* iov, int64_t position, bool datasync);
// The same over `size` iovecs in place (adjusted as short writes progress).
IoStatus WriteAll(int fd, iovec* iov, size_t size, int64_t position, bool datasync);

// pread into [data, data+len) until full or end of file; *done receives the bytes read.
IoStatus ReadFull(int fd, uint8_t* data, size_t len, int64_t position, size_t* done);
// preadv into every buffer of `iov` in order, until all are full or end of file, in IOV_MAX
// chunks, looping on short reads and EINTR; *done receives the bytes read. Consumes `iov`.
IoStatus ReadvFull(int fd, std::vector<iovec>* iov, int64_t position, size_t* done);

IoStatus DataSync(int fd);
IoStatus FullSync(int fd);
// open(O_DIRECTORY) + fsync + close: makes creates, renames and unlinks in it durable.
IoStatus SyncDirectory(const std::string& path);
IoStatus Truncate(int fd, int64_t length);
// fallocate(fd, 0, offset, length); where unsupported (EOPNOTSUPP, ENOSYS) or interrupted
// (EINTR), extends with ftruncate instead — never shrinks.
IoStatus Allocate(int fd, int64_t offset, int64_t length);
IoStatus FileSize(int fd, int64_t* size);
// Whole-file exclusive OFD lock (F_OFD_SETLK / F_OFD_SETLKW); a held lock gives EAGAIN.
IoStatus LockFile(int fd, bool wait);
IoStatus UnlockFile(int fd);
IoStatus CloseFile(int fd);

}  // namespace nodewal

#endif  // NODEWAL_FILE_H_
