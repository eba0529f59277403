// Keeps the addon loadable on glibc 2.28 / libstdc++ 8 (Debian 10, Ubuntu 20.04, RHEL 8) when it is built with a newer toolchain (the prebuild is made on Debian 12: glibc 2.36,
// GCC 12). Each definition below replaces an import that only newer systems export; the test
// test/unit/native-glibc-symbols.test.ts fails if the binary imports any newer symbol version.
#include <new>
#include <memory>
#include <typeinfo>

extern "C" {
// GCC 11+ headers read glibc's `__libc_single_threaded` (GLIBC_2.32) to skip atomic reference
// counts. Defined here as always 0 ("threads may exist"), shared_ptr always uses atomics: correct
// everywhere, at the cost of an uncontended atomic add.
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;
}

namespace std {
// GCC 11+ inline allocators call this (GLIBCXX_3.4.29) for an impossible array size; the
// exception type itself is old (CXXABI_1.3.8).
[[noreturn]] void __throw_bad_array_new_length() { throw std::bad_array_new_length(); }

// make_shared's type check (GLIBCXX_3.4.26). The addon is built with -fno-rtti, so compare the
// mangled names, which is what libstdc++'s own type_info equality does.
bool _Sp_make_shared_tag::_S_eq(const type_info& ti) noexcept {
  return __builtin_strcmp(ti.name(), "St19_Sp_make_shared_tag") == 0;
}
}  // namespace std
