// C++-side checks run under AddressSanitizer + UBSan by scripts/test-asan.sh. The JS tests pass
// slices of larger buffers; here every input is its own exact-size heap allocation, so a read
// one byte past the end (or before the start) of any CRC implementation is reported by ASan.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crc32c.h"
#include "file.h"

using nodewal::Crc32c;
using nodewal::Crc32cAvailableImplementations;
using nodewal::Crc32cWith;

static int failures = 0;
#define CHECK(cond, ...)                         \
  do {                                           \
    if (!(cond)) {                               \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);         \
      std::fprintf(stderr, "\n");                \
      failures++;                                \
    }                                            \
  } while (0)

static void TestKnownValues() {
  const char* check = "123456789";
  CHECK(Crc32c(0, reinterpret_cast<const uint8_t*>(check), 9) == 0xE3069283u, "check value");
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xff), inc(32), dec(32);
  for (int i = 0; i < 32; i++) inc[i] = static_cast<uint8_t>(i), dec[i] = static_cast<uint8_t>(31 - i);
  for (const char* name : Crc32cAvailableImplementations()) {
    uint32_t v = 0;
    CHECK(Crc32cWith(name, 0, zeros.data(), 32, &v) && v == 0x8A9136AAu, "%s zeros", name);
    CHECK(Crc32cWith(name, 0, ones.data(), 32, &v) && v == 0x62A8AB43u, "%s ones", name);
    CHECK(Crc32cWith(name, 0, inc.data(), 32, &v) && v == 0x46DD794Eu, "%s incrementing", name);
    CHECK(Crc32cWith(name, 0, dec.data(), 32, &v) && v == 0x113FDB5Cu, "%s decrementing", name);
  }
}

// Exact-size heap copies at every length and start alignment; every implementation must agree
// with the table and must not touch a byte outside [p, p + len).
static void TestExactBuffers() {
  std::mt19937 rng(42);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 1600; n++) lengths.push_back(n);
  for (size_t n : {24575u, 24576u, 24577u, 49152u + 768u + 7u, 200003u}) lengths.push_back(n);
  for (size_t len : lengths) {
    for (size_t align = 0; align < 8; align++) {
      // malloc returns 16-aligned memory; allocate align+len and use the tail so the buffer ends
      // exactly at the allocation's end and starts at the wanted alignment.
      uint8_t* block = static_cast<uint8_t*>(std::malloc(align + len + (align + len == 0 ? 1 : 0)));
      uint8_t* p = block + align;
      for (size_t i = 0; i < len; i++) p[i] = static_cast<uint8_t>(rng());
      uint32_t want = 0;
      Crc32cWith("table", 0x9abc, p, len, &want);
      for (const char* name : Crc32cAvailableImplementations()) {
        uint32_t got = 0;
        Crc32cWith(name, 0x9abc, p, len, &got);
        CHECK(got == want, "%s len %zu align %zu", name, len, align);
      }
      std::free(block);
    }
  }
}

// crc32cChain's kernel on an exact-size buffer: mixed record lengths, compared with one call per
// record through the table.
static void TestChain() {
  std::mt19937 rng(7);
  std::vector<uint32_t> bounds;
  uint32_t at = 0;
  for (int i = 0; i < 2000; i++) {
    const uint32_t pick = rng() % 100;
    const uint32_t len = pick < 2 ? 4090 + rng() % 12 : pick < 10 ? rng() % 8 : rng() % 301;
    at += rng() % 3;
    bounds.push_back(at);
    bounds.push_back(at + len);
    at += len;
  }
  uint8_t* data = static_cast<uint8_t*>(std::malloc(at));
  for (uint32_t i = 0; i < at; i++) data[i] = static_cast<uint8_t>(rng());
  std::vector<uint32_t> out(bounds.size() / 2);
  nodewal::Crc32cChain(0x55, data, bounds.data(), out.size(), out.data());
  uint32_t crc = 0x55;
  for (size_t i = 0; i < out.size(); i++) {
    Crc32cWith("table", crc, data + bounds[2 * i], bounds[2 * i + 1] - bounds[2 * i], &crc);
    if (out[i] != crc) {
      CHECK(false, "chain record %zu", i);
      break;
    }
  }
  std::free(data);
}

static void TestFileRoundTrip() {
  char dir[] = "/tmp/nodewal-native-XXXXXX";
  CHECK(mkdtemp(dir) != nullptr, "mkdtemp");
  const std::string path = std::string(dir) + "/f.bin";
  nodewal::OpenResult opened;
  CHECK(nodewal::OpenFile(path, O_RDWR | O_CREAT | O_EXCL, 0600, false, &opened).err == 0, "open");
  // 3000 small exact-size buffers: more than IOV_MAX, so WriteAll must chunk.
  std::vector<std::vector<uint8_t>> parts;
  std::vector<iovec> iov;
  std::vector<uint8_t> expected;
  for (int i = 0; i < 3000; i++) {
    parts.emplace_back(static_cast<size_t>(i % 13), static_cast<uint8_t>(i));
  }
  for (auto& part : parts) {
    iov.push_back({part.data(), part.size()});
    expected.insert(expected.end(), part.begin(), part.end());
  }
  CHECK(nodewal::WriteAll(opened.fd, &iov, 3, true).err == 0, "writev");
  int64_t size = 0;
  CHECK(nodewal::FileSize(opened.fd, &size).err == 0 && size == static_cast<int64_t>(expected.size() + 3), "size");
  std::vector<uint8_t> back(expected.size() + 100);
  size_t done = 0;
  CHECK(nodewal::ReadFull(opened.fd, back.data(), back.size(), 3, &done).err == 0 && done == expected.size(), "read");
  CHECK(std::memcmp(back.data(), expected.data(), expected.size()) == 0, "read back");
  CHECK(nodewal::Allocate(opened.fd, 0, 1 << 20).err == 0, "fallocate");
  CHECK(nodewal::LockFile(opened.fd, false).err == 0, "lock");
  nodewal::OpenResult other;
  CHECK(nodewal::OpenFile(path, O_RDWR, 0, true, &other).err == 0 && other.direct, "open O_DIRECT on /tmp");
  CHECK(nodewal::LockFile(other.fd, false).err == EAGAIN, "second open description is refused");
  nodewal::CloseFile(other.fd);
  CHECK(nodewal::CloseFile(opened.fd).err == 0, "close");
  CHECK(nodewal::DataSync(opened.fd).err == EBADF, "datasync on a closed fd");
  unlink(path.c_str());
  rmdir(dir);
}

int main() {
  TestKnownValues();
  TestExactBuffers();
  TestChain();
  TestFileRoundTrip();
  std::printf("native_test: %s (%d failures), implementations:", failures ? "FAILED" : "ok", failures);
  for (const char* name : Crc32cAvailableImplementations()) std::printf(" %s", name);
  std::printf("\n");
  return failures == 0 ? 0 : 1;
}
