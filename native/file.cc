// Blocking file primitives (see file.h). Linux only: O_DIRECT, statx, fallocate, OFD locks.
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace nodewal {
namespace {

// Used when statx cannot report direct-I/O alignment (kernels before 6.1, some filesystems):
// 4096 is a multiple of every logical block size in practice, so it is always accepted.
constexpr uint32_t kDefaultDirectAlignment = 4096;

uint32_t DirectAlignment(int fd) {
#if defined(STATX_DIOALIGN)
  struct statx stx{};
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN) != 0 &&
      stx.stx_dio_offset_align != 0) {
    return std::max(stx.stx_dio_mem_align, stx.stx_dio_offset_align);
  }
#else
  (void)fd;
#endif
  return kDefaultDirectAlignment;
}

}  // namespace

IoStatus OpenFile(const std::string& path, int flags, int mode, bool want_direct, OpenResult* out) {
  int fd;
  do {
    fd = open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return IoStatus::Fail(errno, "open");
  out->fd = fd;
  out->direct = false;
  out->alignment = 1;
  if (!want_direct) return IoStatus::Ok();

  const int current = fcntl(fd, F_GETFL);
  if (current >= 0 && fcntl(fd, F_SETFL, current | O_DIRECT) == 0) {
    out->direct = true;
    out->alignment = DirectAlignment(fd);
    return IoStatus::Ok();
  }
  if (current >= 0 && errno == EINVAL) return IoStatus::Ok();  // refused: stay buffered
  const int err = errno;
  close(fd);
  out->fd = -1;
  return IoStatus::Fail(err, "fcntl");
}

IoStatus WriteAll(int fd, std::vector<iovec>* iov, int64_t position, bool datasync) {
  return WriteAll(fd, iov->data(), iov->size(), position, datasync);
}

IoStatus WriteAll(int fd, iovec* v, size_t size, int64_t position, bool datasync) {
  size_t first = 0;  // first iovec not yet fully written
  for (;;) {
    while (first < size && v[first].iov_len == 0) first++;
    if (first == size) break;
    const int count = static_cast<int>(std::min<size_t>(IOV_MAX, size - first));
    const ssize_t n = pwritev(fd, &v[first], count, static_cast<off_t>(position));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoStatus::Fail(errno, "write");
    }
    if (n == 0) return IoStatus::Fail(EIO, "write");  // no progress on a non-empty write
    position += n;
    size_t left = static_cast<size_t>(n);
    while (left > 0) {
      if (left >= v[first].iov_len) {
        left -= v[first].iov_len;
        first++;
      } else {
        v[first].iov_base = static_cast<uint8_t*>(v[first].iov_base) + left;
        v[first].iov_len -= left;
        left = 0;
      }
    }
  }
  return datasync ? DataSync(fd) : IoStatus::Ok();
}

IoStatus ReadFull(int fd, uint8_t* data, size_t len, int64_t position, size_t* done) {
  size_t total = 0;
  while (total < len) {
    const ssize_t n = pread(fd, data + total, len - total, static_cast<off_t>(position + total));
    if (n < 0) {
      if (errno == EINTR) continue;
      *done = total;
      return IoStatus::Fail(errno, "read");
    }
    if (n == 0) break;  // end of file
    total += static_cast<size_t>(n);
  }
  *done = total;
  return IoStatus::Ok();
}

IoStatus ReadvFull(int fd, std::vector<iovec>* iov, int64_t position, size_t* done) {
  size_t total = 0;
  size_t first = 0;
  const size_t count = iov->size();
  for (;;) {
    while (first < count && (*iov)[first].iov_len == 0) first++;
    if (first == count) break;
    const int chunk = static_cast<int>(std::min<size_t>(count - first, IOV_MAX));
    const ssize_t n = preadv(fd, iov->data() + first, chunk, static_cast<off_t>(position + total));
    if (n < 0) {
      if (errno == EINTR) continue;
      *done = total;
      return IoStatus::Fail(errno, "read");
    }
    if (n == 0) break;  // end of file
    total += static_cast<size_t>(n);
    // Skip what was filled; a partly filled buffer continues where the read stopped.
    size_t left = static_cast<size_t>(n);
    while (left > 0) {
      iovec& v = (*iov)[first];
      if (left >= v.iov_len) {
        left -= v.iov_len;
        v.iov_len = 0;
        first++;
      } else {
        v.iov_base = static_cast<uint8_t*>(v.iov_base) + left;
        v.iov_len -= left;
        left = 0;
      }
    }
  }
  *done = total;
  return IoStatus::Ok();
}

IoStatus DataSync(int fd) {
  while (fdatasync(fd) != 0) {
    if (errno != EINTR) return IoStatus::Fail(errno, "fdatasync");
  }
  return IoStatus::Ok();
}

IoStatus FullSync(int fd) {
  while (fsync(fd) != 0) {
    if (errno != EINTR) return IoStatus::Fail(errno, "fsync");
  }
  return IoStatus::Ok();
}

IoStatus SyncDirectory(const std::string& path) {
  int fd;
  do {
    fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return IoStatus::Fail(errno, "open");
  const IoStatus status = FullSync(fd);
  close(fd);
  return status;
}

IoStatus Truncate(int fd, int64_t length) {
  while (ftruncate(fd, static_cast<off_t>(length)) != 0) {
    if (errno != EINTR) return IoStatus::Fail(errno, "ftruncate");
  }
  return IoStatus::Ok();
}

IoStatus Allocate(int fd, int64_t offset, int64_t length) {
  if (fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0) return IoStatus::Ok();
  const int err = errno;
  if (err != EOPNOTSUPP && err != ENOSYS && err != EINTR) return IoStatus::Fail(err, "fallocate");
  // Unsupported here: extend (sparsely) like etcd's fileutil.Preallocate does, never shrink.
  int64_t size = 0;
  const IoStatus stat = FileSize(fd, &size);
  if (stat.err != 0) return stat;
  if (offset + length <= size) return IoStatus::Ok();
  return Truncate(fd, offset + length);
}

IoStatus FileSize(int fd, int64_t* size) {
  // statx, not fstat: glibc 2.33 made fstat64 a real symbol (GLIBC_2.33), and the prebuild must
  // load on glibc 2.28 (docs/native.md, "Which Linux the prebuild runs on").
  struct statx stx{};
  // Reported as fstat, the call it stands for (and what the fallback's fs.fstat reports).
  if (statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &stx) != 0) return IoStatus::Fail(errno, "fstat");
  *size = static_cast<int64_t>(stx.stx_size);
  return IoStatus::Ok();
}

namespace {

IoStatus SetLock(int fd, short type, bool wait) {
  struct flock fl{};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;  // whole file, including growth
  fl.l_pid = 0;  // required for OFD locks
  const int cmd = wait ? F_OFD_SETLKW : F_OFD_SETLK;
  while (fcntl(fd, cmd, &fl) != 0) {
    if (errno == EINTR) continue;
    // POSIX allows EACCES for a conflicting lock; report it as Node users expect: EAGAIN.
    return IoStatus::Fail(errno == EACCES ? EAGAIN : errno, "fcntl");
  }
  return IoStatus::Ok();
}

}  // namespace

IoStatus LockFile(int fd, bool wait) { return SetLock(fd, F_WRLCK, wait); }

IoStatus UnlockFile(int fd) { return SetLock(fd, F_UNLCK, false); }

IoStatus CloseFile(int fd) {
  // No retry on EINTR: on Linux the descriptor is released even then, and a retry could
  // close a descriptor another thread just opened.
  if (close(fd) != 0 && errno != EINTR) return IoStatus::Fail(errno, "close");
  return IoStatus::Ok();
}

}  // namespace nodewal
