// Node-style fs errors (see fs_error.h). libuv's error codes are negated errnos on Unix, so
// uv_err_name / uv_strerror give the same code and text that node:fs reports.
#include "fs_error.h"

#include <uv.h>

namespace nodewal {

Napi::Error MakeFsError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  const int uv_code = -err;
  const char* code = uv_err_name(uv_code);
  std::string message = std::string(code) + ": " + uv_strerror(uv_code) + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, uv_code));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  return error;
}

}  // namespace nodewal
