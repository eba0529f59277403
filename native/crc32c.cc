// CRC-32C implementations and the run-time choice between them.
//
// All update functions work on the raw CRC register (no pre/post inversion); Crc32c() applies the
// inversions once, so chaining through the public value is exact.
//
// The register is linear over GF(2): feeding bytes B after register r gives
//   r * x^(8|B|) mod P  XOR  (register of B fed from 0).
// That is what lets three streams run independently and be combined afterwards.
#include "crc32c.h"

#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#define NODEWAL_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#if defined(__aarch64__) && defined(__linux__)
#define NODEWAL_ARM64 1
#include <arm_acle.h>
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

namespace nodewal {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

using UpdateFn = uint32_t (*)(uint32_t reg, const uint8_t* p, size_t n);

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// ---- GF(2) arithmetic modulo P, reflected (bit 31 is the coefficient of x^0) ----

uint32_t MulModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;  // b *= x
  }
  return product;
}

uint32_t XPowModP(uint64_t n) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t base = 1u << 30;    // x^1
  while (n != 0) {
    if (n & 1) result = MulModP(result, base);
    base = MulModP(base, base);
    n >>= 1;
  }
  return result;
}

// ---- portable: slicing-by-8 ----

struct SliceTables {
  uint32_t t[8][256];
};

const SliceTables& Tables() {
  static const SliceTables tables = [] {
    SliceTables s{};
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      s.t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
      for (int k = 1; k < 8; k++) s.t[k][i] = (s.t[k - 1][i] >> 8) ^ s.t[0][s.t[k - 1][i] & 0xff];
    }
    return s;
  }();
  return tables;
}

uint32_t TableUpdate(uint32_t reg, const uint8_t* p, size_t n) {
  const auto& t = Tables().t;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    reg = (reg >> 8) ^ t[0][(reg ^ *p++) & 0xff];
    n--;
  }
  while (n >= 8) {
    // The first byte needs eight more byte steps (table 7), the last one step (table 0).
    const uint64_t w = Load64(p) ^ reg;
    reg = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
          t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
#endif
  while (n-- != 0) reg = (reg >> 8) ^ t[0][(reg ^ *p++) & 0xff];
  return reg;
}

#ifdef NODEWAL_X86

// ---- x86-64 SSE4.2 ----

__attribute__((target("sse4.2"))) uint32_t Sse42Update(uint32_t reg, const uint8_t* p, size_t n) {
  while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    reg = _mm_crc32_u8(reg, *p++);
    n--;
  }
  uint64_t r64 = reg;
  while (n >= 8) {
    r64 = _mm_crc32_u64(r64, Load64(p));
    p += 8;
    n -= 8;
  }
  reg = static_cast<uint32_t>(r64);
  while (n-- != 0) reg = _mm_crc32_u8(reg, *p++);
  return reg;
}

// Per-stream block sizes of the three-way loop: long blocks for throughput, short ones so
// buffers from ~1 KiB up also run three streams. Each is a multiple of 8.
constexpr size_t kLongBlock = 8192;
constexpr size_t kShortBlock = 256;

// Multiplier that shifts a register past `bytes` zero bytes with one carry-less multiply and
// one crc32 instruction: clmul(r, K) has r*K's coefficient of x^(62-i) at bit i; crc32q reads
// bit i as x^(63-i) and multiplies by x^32, so it yields r*K*x^33 mod P. K = x^(8*bytes-33).
struct ShiftConstants {
  uint64_t long1, long2, short1, short2;  // shift by one block and by two blocks
};

const ShiftConstants& Shifts() {
  static const ShiftConstants k = {
      XPowModP(8 * kLongBlock - 33), XPowModP(16 * kLongBlock - 33),
      XPowModP(8 * kShortBlock - 33), XPowModP(16 * kShortBlock - 33)};
  return k;
}

__attribute__((target("sse4.2,pclmul"))) inline uint64_t ShiftReg(uint64_t reg, uint64_t k) {
  const __m128i product = _mm_clmulepi64_si128(_mm_cvtsi64_si128(static_cast<int64_t>(reg)),
                                               _mm_cvtsi64_si128(static_cast<int64_t>(k)), 0x00);
  return _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(product)));
}

// Consumes whole groups of three blocks of `block` bytes: stream 0 continues the register,
// streams 1 and 2 start from zero, and the three are combined by shifting.
__attribute__((target("sse4.2,pclmul"))) inline uint64_t ThreeStreams(uint64_t reg, const uint8_t*& p,
                                                                        size_t& n, size_t block,
                                                                        uint64_t k1, uint64_t k2) {
  while (n >= 3 * block) {
    uint64_t c0 = reg, c1 = 0, c2 = 0;
    const uint8_t* const end = p + block;
    do {
      c0 = _mm_crc32_u64(c0, Load64(p));
      c1 = _mm_crc32_u64(c1, Load64(p + block));
      c2 = _mm_crc32_u64(c2, Load64(p + 2 * block));
      p += 8;
    } while (p != end);
    reg = ShiftReg(c0, k2) ^ ShiftReg(c1, k1) ^ c2;
    p += 2 * block;
    n -= 3 * block;
  }
  return reg;
}

__attribute__((target("sse4.2,pclmul"))) uint32_t Sse42ThreeWayUpdate(uint32_t reg, const uint8_t* p,
                                                                      size_t n) {
  const ShiftConstants& k = Shifts();
  while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    reg = _mm_crc32_u8(reg, *p++);
    n--;
  }
  uint64_t r64 = reg;
  r64 = ThreeStreams(r64, p, n, kLongBlock, k.long1, k.long2);
  r64 = ThreeStreams(r64, p, n, kShortBlock, k.short1, k.short2);
  while (n >= 8) {
    r64 = _mm_crc32_u64(r64, Load64(p));
    p += 8;
    n -= 8;
  }
  reg = static_cast<uint32_t>(r64);
  while (n-- != 0) reg = _mm_crc32_u8(reg, *p++);
  return reg;
}

struct X86Features {
  bool sse42 = false;
  bool pclmul = false;
};

X86Features DetectX86() {
  X86Features f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    f.sse42 = (ecx & bit_SSE4_2) != 0;
    f.pclmul = (ecx & bit_PCLMUL) != 0;
  }
  return f;
}

#endif  // NODEWAL_X86

#ifdef NODEWAL_ARM64

// ---- arm64 CRC32 extension (one stream) ----

#if defined(__clang__)
#define NODEWAL_TARGET_CRC __attribute__((target("crc")))
#else
#define NODEWAL_TARGET_CRC __attribute__((target("+crc")))
#endif

NODEWAL_TARGET_CRC uint32_t Armv8Update(uint32_t reg, const uint8_t* p, size_t n) {
  while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    reg = __crc32cb(reg, *p++);
    n--;
  }
  while (n >= 8) {
    reg = __crc32cd(reg, Load64(p));
    p += 8;
    n -= 8;
  }
  while (n-- != 0) reg = __crc32cb(reg, *p++);
  return reg;
}

bool DetectArmCrc() { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }

#endif  // NODEWAL_ARM64

struct Implementation {
  const char* name;
  UpdateFn update;
};

std::vector<Implementation> Available() {
  std::vector<Implementation> list;
#ifdef NODEWAL_X86
  const X86Features f = DetectX86();
  if (f.sse42 && f.pclmul) list.push_back({"sse4.2-3way", Sse42ThreeWayUpdate});
  if (f.sse42) list.push_back({"sse4.2", Sse42Update});
#endif
#ifdef NODEWAL_ARM64
  if (DetectArmCrc()) list.push_back({"armv8", Armv8Update});
#endif
  list.push_back({"table", TableUpdate});
  return list;
}

// Chosen once; a function-local static is initialised thread-safely (worker threads).
const Implementation& Chosen() {
  static const Implementation best = Available().front();
  return best;
}

}  // namespace

uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t len) {
  return ~Chosen().update(~crc, data, len);
}

const char* Crc32cImplementation() { return Chosen().name; }

std::vector<const char*> Crc32cAvailableImplementations() {
  std::vector<const char*> names;
  for (const auto& impl : Available()) names.push_back(impl.name);
  return names;
}

bool Crc32cWith(const char* name, uint32_t crc, const uint8_t* data, size_t len, uint32_t* out) {
  for (const auto& impl : Available()) {
    if (std::strcmp(impl.name, name) == 0) {
      *out = ~impl.update(~crc, data, len);
      return true;
    }
  }
  return false;
}

}  // namespace nodewal
