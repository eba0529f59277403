// See napi_args.h.
#include "napi_args.h"

namespace nodewal {

bool GetBytes(napi_env env, napi_value value, Bytes* out) {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  // Fails with napi_invalid_arg (no exception) for anything that is not a typed array.
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  out->data = static_cast<uint8_t*>(data);
  out->length = length;
  return true;
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Bytes bytes{};
  if (!GetBytes(info.Env(), info[i], &bytes)) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Uint8Array or Buffer");
  }
  return bytes;
}

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

int32_t ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

int64_t ArgInt64(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

uint32_t ArgSeed(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return 0;
  return info[i].As<Napi::Number>().Uint32Value();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::string ArgPathForErrors(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : std::string();
}

Napi::Uint32Array ArgUint32Array(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Uint32Array");
  }
  return info[i].As<Napi::Uint32Array>();
}

std::shared_ptr<std::vector<iovec>> ArgIovecs(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Env env = info.Env();
  if (!info[i].IsArray()) throw Napi::TypeError::New(env, std::string(what) + " must be an array");
  Napi::Array array = info[i].As<Napi::Array>();
  const uint32_t count = array.Length();
  auto iov = std::make_shared<std::vector<iovec>>();
  iov->reserve(count);
  for (uint32_t k = 0; k < count; k++) {
    napi_value item = nullptr;
    Bytes bytes{};
    if (napi_get_element(env, array, k, &item) != napi_ok || !GetBytes(env, item, &bytes)) {
      throw Napi::TypeError::New(env, std::string(what) + "[" + std::to_string(k) + "] must be a Uint8Array or Buffer");
    }
    iov->push_back({bytes.data, bytes.length});
  }
  return iov;
}

VectoredArgs ArgVectored(const Napi::CallbackInfo& info, const char* what) {
  const int fd = ArgFd(info, 0);
  auto iov = ArgIovecs(info, 1, what);
  const Napi::Array buffers = info[1].As<Napi::Array>();
  const int64_t position = ArgInt64(info, 2, "position");
  return VectoredArgs{fd, std::move(iov), buffers, position};
}

bool RawArgsWithBytes(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv, Bytes* bytes,
                      const char* what) {
  if (napi_get_cb_info(env, info, argc, argv, nullptr, nullptr) != napi_ok) return false;
  if (*argc < 1 || !GetBytes(env, argv[0], bytes)) {
    napi_throw_type_error(env, nullptr, (std::string(what) + " must be a Uint8Array or Buffer").c_str());
    return false;
  }
  return true;
}

}  // namespace nodewal
