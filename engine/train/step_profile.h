// Where the time of training steps goes (bench/bench_train_step.cpp): the
// Trainer records each phase of each step into a StepProfile when one is
// attached (Trainer::set_profile), nothing otherwise. On a GPU the device is
// synchronised at every phase boundary while profiling, so each phase's time
// is its own (this slows the step a little; the step's total is also
// measured without the phases' synchronisation by the caller).
//
// Phases (seconds): wait (the training thread waiting for the prefetched
// batch), upload (views, index tensors and the CSR to the device),
// forward.retrieval / forward.cca / forward.mae (each objective's encoder
// pass and loss), backward, optimizer (clipping and the updates), and, from
// the batch, build (its construction on a worker thread).
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace ember {

struct StepProfile {
  struct Step {
    std::map<std::string, double> seconds;
    int64_t samples = 0;
  };
  std::vector<Step> steps;
  Step& current() { return steps.back(); }
};

// Adds the time from construction to destruction to `phase` of the profile's
// current step (no-op without a profile).
class PhaseClock {
 public:
  PhaseClock(StepProfile* profile, const char* phase, Device device);
  ~PhaseClock();
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

 private:
  StepProfile* profile_;
  const char* phase_;
  Device device_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace ember
