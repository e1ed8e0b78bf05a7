#include "engine/train/step_profile.h"

#include "core/cuda_api.h"

namespace ember {

PhaseClock::PhaseClock(StepProfile* profile, const char* phase, Device device)
    : profile_(profile), phase_(phase), device_(device) {
  if (!profile_) return;
  if (device_ == Device::CUDA) cuda_api::synchronize();
  t0_ = std::chrono::steady_clock::now();
}

PhaseClock::~PhaseClock() {
  if (!profile_ || profile_->steps.empty()) return;
  if (device_ == Device::CUDA) cuda_api::synchronize();
  profile_->current().seconds[phase_] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

}  // namespace ember
