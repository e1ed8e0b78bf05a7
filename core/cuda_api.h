// The CUDA runtime calls the core needs, behind a header free of CUDA types.
// Built as real calls when EMBER_WITH_CUDA, as "not available" otherwise.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace ember {
namespace cuda_api {

// True when the library was compiled with the CUDA backend.
bool built_with_cuda();
// True when a usable GPU is present. Otherwise *why says why not
// (not built with CUDA, no driver, no device...).
bool device_available(std::string* why = nullptr);
void* malloc_device(size_t bytes);
void free_device(void* p);
// Copies between any combination of host and device pointers (cudaMemcpyDefault).
void copy(void* dst, const void* src, size_t bytes);
void memset_device(void* p, int value, size_t bytes);
void synchronize();
// Name of the current device, "" when none.
std::string device_name();
// Free and total bytes of the current device (cudaMemGetInfo); false (and
// nothing written) when no GPU is usable.
bool memory_info(size_t* free_bytes, size_t* total_bytes);
// Milliseconds taken by fn() on the GPU's default stream, measured with CUDA
// events (the work is synchronised before and after).
double time_ms_events(const std::function<void()>& fn);

}  // namespace cuda_api
}  // namespace ember
