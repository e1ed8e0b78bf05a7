// The explicit context object: the only process-wide mutable state of ember.
//
// It owns one Allocator per device (and with them the memory counters) and
// the lazily created handles of device libraries (e.g. cuBLAS). The core
// does not know those libraries: the layer that uses one registers how to
// create and destroy its handle (kernels/cublas_handle.h), and the Context
// only keeps it for the life of the process. Everything else (RNG state,
// parameters, graphs, optimizer state) is owned by the objects the caller
// creates. Thread safety: allocators are internally locked; a library handle
// is created once under a lock and used on the default stream.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/dtype.h"

namespace ember {

class Context {
 public:
  static Context& get();

  // Allocator for a device. Device::CUDA throws ember::Error when no GPU is
  // usable, naming the reason (e.g. "cudaGetDeviceCount failed: ...").
  Allocator& allocator(Device d);

  // True when the CUDA backend is compiled in and a GPU is present.
  bool cuda_available();
  // Why CUDA is not available ("" when it is).
  std::string cuda_unavailable_reason();
  // True when the emulated CUDA backend (Device::EMU) is compiled in.
  bool emu_available() const;

  // Copies between the host (Device::CPU) and a device (CUDA or EMU), counted
  // by Tensor's copies: what a training step moves each way (tests check that
  // a step copies nothing back to the host but its loss values).
  struct TransferStats {
    uint64_t to_device = 0, to_device_bytes = 0, to_host = 0, to_host_bytes = 0;
  };
  TransferStats transfers() const;
  void count_transfer(bool to_device, size_t bytes);
  void reset_transfers();

  // A library handle (e.g. cublasHandle_t) named `name`, created by
  // create() on first use and destroyed by destroy() when the process ends.
  // Later calls with the same name return the same handle.
  using HandleCreate = void* (*)();
  using HandleDestroy = void (*)(void*);
  void* library_handle(const char* name, HandleCreate create, HandleDestroy destroy);

 private:
  Context();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  std::mutex mu_;
  std::unique_ptr<Allocator> cpu_, emu_, cuda_;
  int cuda_state_ = -1;  // -1 unknown, 0 unavailable, 1 available
  std::string cuda_reason_;
  struct LibraryHandle {
    std::string name;
    void* handle;
    HandleDestroy destroy;
  };
  std::vector<LibraryHandle> handles_;
  std::atomic<uint64_t> h2d_{0}, h2d_bytes_{0}, d2h_{0}, d2h_bytes_{0};
};

}  // namespace ember
