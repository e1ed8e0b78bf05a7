// Element types and devices.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"

namespace ember {

enum class DType { F32, F64, I32, I64 };

// CPU: host memory, plain C++ / OpenMP implementations (the reference).
// CUDA: device memory on a real GPU, hand-written kernels + cuBLAS.
// EMU: host memory from the emulator's allocator; the CUDA kernels' own
//      source code runs under the kernel emulator (kernels/emu). Test backend.
enum class Device { CPU, CUDA, EMU };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::I32: return 4;
    case DType::I64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
  }
  return "?";
}

inline const char* device_name(Device d) {
  switch (d) {
    case Device::CPU: return "cpu";
    case Device::CUDA: return "cuda";
    case Device::EMU: return "emu";
  }
  return "?";
}

// "cpu", "cuda" or "emu" -> Device; anything else throws naming the choices.
inline Device parse_device_name(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda") return Device::CUDA;
  if (name == "emu") return Device::EMU;
  EMBER_FAIL("unknown device '" << name << "' (expected cpu, cuda or emu)");
}

inline bool is_float(DType t) { return t == DType::F32 || t == DType::F64; }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };

}  // namespace ember
