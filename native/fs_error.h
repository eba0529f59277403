// Node-style fs errors: { errno (negative), code ('EAGAIN'), syscall, path? } with the message
// "CODE: description, syscall 'path'", exactly as node:fs builds them.
#ifndef NODEWAL_FS_ERROR_H_
#define NODEWAL_FS_ERROR_H_

#include <napi.h>

#include <string>

namespace nodewal {

// `err` is a positive errno value; `path` is omitted when empty.
Napi::Error MakeFsError(Napi::Env env, int err, const char* syscall, const std::string& path);

}  // namespace nodewal

#endif  // NODEWAL_FS_ERROR_H_
