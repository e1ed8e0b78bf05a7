#include "core/context.h"

#include "core/cuda_api.h"
#include "core/error.h"

namespace ember {

namespace {
class CudaAllocator final : public Allocator {
 public:
  Device device() const override { return Device::CUDA; }

 protected:
  void* raw_allocate(size_t bytes) override { return cuda_api::malloc_device(bytes); }
  void raw_deallocate(void* p) override { cuda_api::free_device(p); }
};
}  // namespace

Context& Context::get() {
  static Context ctx;
  return ctx;
}

Context::Context()
    : cpu_(new HostAllocator(Device::CPU, /*caching=*/true)), emu_(new HostAllocator(Device::EMU, /*caching=*/false)) {}

Context::~Context() {
  for (auto it = handles_.rbegin(); it != handles_.rend(); ++it) it->destroy(it->handle);
}

bool Context::cuda_available() {
  std::lock_guard<std::mutex> lock(mu_);
  if (cuda_state_ < 0) {
    cuda_state_ = cuda_api::device_available(&cuda_reason_) ? 1 : 0;
    if (cuda_state_ == 1) cuda_.reset(new CudaAllocator());
  }
  return cuda_state_ == 1;
}

std::string Context::cuda_unavailable_reason() {
  return cuda_available() ? std::string() : cuda_reason_;
}

bool Context::emu_available() const {
#if defined(EMBER_WITH_EMU)
  return true;
#else
  return false;
#endif
}

Allocator& Context::allocator(Device d) {
  switch (d) {
    case Device::CPU: return *cpu_;
    case Device::EMU:
      EMBER_CHECK(emu_available(), "device 'emu' requested but ember was built with EMBER_EMULATOR=OFF");
      return *emu_;
    case Device::CUDA:
      EMBER_CHECK(cuda_available(), "device 'cuda' requested but no GPU is usable: " << cuda_reason_);
      return *cuda_;
  }
  EMBER_FAIL("unknown device");
}

Context::TransferStats Context::transfers() const {
  return TransferStats{h2d_.load(), h2d_bytes_.load(), d2h_.load(), d2h_bytes_.load()};
}

void Context::count_transfer(bool to_device, size_t bytes) {
  if (to_device) {
    ++h2d_;
    h2d_bytes_ += bytes;
  } else {
    ++d2h_;
    d2h_bytes_ += bytes;
  }
}

void Context::reset_transfers() { h2d_ = h2d_bytes_ = d2h_ = d2h_bytes_ = 0; }

void* Context::library_handle(const char* name, HandleCreate create, HandleDestroy destroy) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const LibraryHandle& h : handles_)
    if (h.name == name) return h.handle;
  void* h = create();  // throws naming the library on failure; nothing is kept then
  handles_.push_back(LibraryHandle{name, h, destroy});
  return h;
}

}  // namespace ember
