{
  "targets": [
    {
      "target_name": "gpubench_native",
      "sources": [
        "src/addon.cc",
        "src/loader.cc",
        "src/cuda.cc",
        "src/gemm.cc",
        "src/copy.cc",
        "src/nvml.cc",
        "src/topology.cc",
        "src/nccl.cc",
        "src/nccl_comm.cc",
        "src/reduce.cc",
        "src/accept.cc",
        "src/nvml_health.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
