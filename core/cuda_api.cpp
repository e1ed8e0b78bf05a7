#include "core/cuda_api.h"

#include "core/error.h"

#if defined(EMBER_WITH_CUDA)
#include "core/cuda_check.h"
#endif

namespace ember {
namespace cuda_api {

#if defined(EMBER_WITH_CUDA)

bool built_with_cuda() { return true; }

bool device_available(std::string* why) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (why) *why = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error
    return false;
  }
  if (n == 0) {
    if (why) *why = "no CUDA device found";
    return false;
  }
  return true;
}

void* malloc_device(size_t bytes) {
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes);
  EMBER_CHECK(err == cudaSuccess, "cudaMalloc of " << bytes << " bytes failed: "
                                                    << cudaGetErrorString(err));
  return p;
}

void free_device(void* p) {
  if (p) cudaFree(p);  // never throws from a destructor path
}

void copy(void* dst, const void* src, size_t bytes) {
  if (bytes) EMBER_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
}

void memset_device(void* p, int value, size_t bytes) {
  if (bytes) EMBER_CUDA_CHECK(cudaMemset(p, value, bytes));
}

void synchronize() { EMBER_CUDA_CHECK(cudaDeviceSynchronize()); }

std::string device_name() {
  if (!device_available()) return "";
  int dev = 0;
  cudaDeviceProp prop;
  EMBER_CUDA_CHECK(cudaGetDevice(&dev));
  EMBER_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  return prop.name;
}

bool memory_info(size_t* free_bytes, size_t* total_bytes) {
  if (!device_available()) return false;
  size_t f = 0, t = 0;
  if (cudaMemGetInfo(&f, &t) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    return false;
  }
  *free_bytes = f;
  *total_bytes = t;
  return true;
}

double time_ms_events(const std::function<void()>& fn) {
  cudaEvent_t start, stop;
  EMBER_CUDA_CHECK(cudaEventCreate(&start));
  EMBER_CUDA_CHECK(cudaEventCreate(&stop));
  EMBER_CUDA_CHECK(cudaDeviceSynchronize());
  EMBER_CUDA_CHECK(cudaEventRecord(start));
  fn();
  EMBER_CUDA_CHECK(cudaEventRecord(stop));
  EMBER_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0.0f;
  EMBER_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms;
}

#else

[[noreturn]] static void no_cuda() { EMBER_FAIL("ember was built without CUDA"); }
bool built_with_cuda() { return false; }
double time_ms_events(const std::function<void()>&) { no_cuda(); }
bool device_available(std::string* why) {
  if (why) *why = "ember was built without CUDA (EMBER_CUDA=OFF or nvcc not found)";
  return false;
}
void* malloc_device(size_t) { no_cuda(); }
void free_device(void*) {}
void copy(void*, const void*, size_t) { no_cuda(); }
void memset_device(void*, int, size_t) { no_cuda(); }
void synchronize() {}
std::string device_name() { return ""; }
bool memory_info(size_t*, size_t*) { return false; }

#endif

}  // namespace cuda_api
}  // namespace ember
