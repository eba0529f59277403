{
  "targets": [
    {
      "target_name": "nodewal",
      "sources": [
        "native/addon.cc",
        "native/async.cc",
        "native/crc32c.cc",
        "native/fast_calls.cc",
        "native/file.cc",
        "native/fs_error.cc",
        "native/glibc_compat.cc",
        "native/leveldb_calls.cc",
        "native/leveldb_scan.cc",
        "native/napi_args.cc",
        "native/sync_thread.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++1y", "-std=gnu++14", "-std=gnu++17"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3"]
    }
  ]
}
