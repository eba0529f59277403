// Include in a translation unit that waits on a std::condition_variable. GCC 12 binds
// condition_variable::wait(unique_lock&) to a new symbol version (GLIBCXX_3.4.30) although the
// function is the same; pinning the old version (GLIBCXX_3.4.11, which every libstdc++ since GCC
// 4.4 still exports) keeps the addon loadable with libstdc++ 8 (glibc-2.28 systems).
// See native/glibc_compat.cc for the other imports newer toolchains add.
#pragma once

#if defined(__linux__) && defined(__GLIBCXX__)
__asm__(".symver _ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE,"
        "_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE@GLIBCXX_3.4.11");
#endif
