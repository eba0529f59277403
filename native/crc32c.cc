// CRC-32C implementations and the run-time choice between them.
//
// All update functions work on the raw CRC register (no pre/post inversion); Crc32c() applies the
// inversions once, so chaining through the public value is exact.
//
// The register is linear over GF(2): feeding bytes B after register r gives
//   r * x^(8|B|) mod P  XOR  (register of B fed from 0).
// That is what lets three streams run independently and be combined afterwards.
#include "crc32c.h"

#include <algorithm>
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

[[maybe_unused]] uint32_t MulModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;  // b *= x
  }
  return product;
}

[[maybe_unused]] uint32_t XPowModP(uint64_t n) {
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

// Chained CRCs of many short slices (crc32cChain). One record at a time is one dependent chain
// of crc32q, a third of the unit's throughput; so three records are checksummed from zero side
// by side and then folded into the running register in order:
//   reg_i = shift(reg_{i-1}, len_i) ^ raw_i,   shift by len bytes = ShiftReg(reg, x^(8*len-33)).
// Records of 8..kMaxChainRecord bytes take this path; others go one at a time.
constexpr size_t kMaxChainRecord = 4096;

const uint64_t* ChainShiftTable() {
  static const std::vector<uint64_t> table = [] {
    std::vector<uint64_t> k(kMaxChainRecord + 1, 0);
    uint32_t v = XPowModP(8 * 8 - 33);  // length 8
    for (size_t len = 8; len <= kMaxChainRecord; len++) {
      k[len] = v;
      for (int bit = 0; bit < 8; bit++) v = (v & 1) ? (v >> 1) ^ kPoly : v >> 1;  // *= x^8
    }
    return k;
  }();
  return table.data();
}

__attribute__((target("sse4.2"))) inline uint64_t Sse42Tail(uint64_t reg, const uint8_t* p, size_t n) {
  while (n >= 8) {
    reg = _mm_crc32_u64(reg, Load64(p));
    p += 8;
    n -= 8;
  }
  uint32_t r = static_cast<uint32_t>(reg);
  while (n-- != 0) r = _mm_crc32_u8(r, *p++);
  return r;
}

__attribute__((target("sse4.2,pclmul"))) void Sse42ThreeWayChain(uint32_t reg, const uint8_t* data,
                                                               const uint32_t* bounds, size_t pairs,
                                                               uint32_t* out) {
  const uint64_t* k = ChainShiftTable();
  size_t i = 0;
  while (i < pairs) {
    const uint8_t* pa = data + bounds[2 * i];
    const size_t la = bounds[2 * i + 1] - bounds[2 * i];
    if (i + 3 > pairs) {
      reg = Sse42ThreeWayUpdate(reg, pa, la);
      out[i++] = ~reg;
      continue;
    }
    const uint8_t* pb = data + bounds[2 * i + 2];
    const size_t lb = bounds[2 * i + 3] - bounds[2 * i + 2];
    const uint8_t* pc = data + bounds[2 * i + 4];
    const size_t lc = bounds[2 * i + 5] - bounds[2 * i + 4];
    const size_t shortest = std::min(la, std::min(lb, lc));
    const size_t longest = std::max(la, std::max(lb, lc));
    if (shortest < 8 || longest > kMaxChainRecord) {
      reg = Sse42ThreeWayUpdate(reg, pa, la);
      out[i++] = ~reg;
      continue;
    }
    uint64_t ra = 0, rb = 0, rc = 0;
    const size_t common = shortest & ~static_cast<size_t>(7);
    for (size_t j = 0; j < common; j += 8) {
      ra = _mm_crc32_u64(ra, Load64(pa + j));
      rb = _mm_crc32_u64(rb, Load64(pb + j));
      rc = _mm_crc32_u64(rc, Load64(pc + j));
    }
    ra = Sse42Tail(ra, pa + common, la - common);
    rb = Sse42Tail(rb, pb + common, lb - common);
    rc = Sse42Tail(rc, pc + common, lc - common);
    uint64_t r = ShiftReg(reg, k[la]) ^ ra;
    out[i] = ~static_cast<uint32_t>(r);
    r = ShiftReg(r, k[lb]) ^ rb;
    out[i + 1] = ~static_cast<uint32_t>(r);
    r = ShiftReg(r, k[lc]) ^ rc;
    out[i + 2] = ~static_cast<uint32_t>(r);
    reg = static_cast<uint32_t>(r);
    i += 3;
  }
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

using ChainFn = void (*)(uint32_t reg, const uint8_t* data, const uint32_t* bounds, size_t pairs, uint32_t* out);

struct Implementation {
  const char* name;
  UpdateFn update;
  ChainFn chain;  // nullptr: one slice at a time through `update`
};

std::vector<Implementation> Available() {
  std::vector<Implementation> list;
#ifdef NODEWAL_X86
  const X86Features f = DetectX86();
  if (f.sse42 && f.pclmul) list.push_back({"sse4.2-3way", Sse42ThreeWayUpdate, Sse42ThreeWayChain});
  if (f.sse42) list.push_back({"sse4.2", Sse42Update, nullptr});
#endif
#ifdef NODEWAL_ARM64
  if (DetectArmCrc()) list.push_back({"armv8", Armv8Update, nullptr});
#endif
  list.push_back({"table", TableUpdate, nullptr});
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

void Crc32cChain(uint32_t crc, const uint8_t* data, const uint32_t* bounds, size_t pairs, uint32_t* out) {
  const Implementation& impl = Chosen();
  if (impl.chain != nullptr) return impl.chain(~crc, data, bounds, pairs, out);
  for (size_t i = 0; i < pairs; i++) {
    crc = ~impl.update(~crc, data + bounds[2 * i], bounds[2 * i + 1] - bounds[2 * i]);
    out[i] = crc;
  }
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
