// Host <-> device traffic of a training step on an accelerator: batches
// arrive ready (CSR, transposes and row lists built on the workers), so a
// step uploads and never waits on the device except for one read-back of the
// loss values and the gradient norm. Counted by the Context on the emulated
// device (and on a real GPU when one is present).
#include <catch2/catch.hpp>

#include "backend_harness.h"
#include "core/context.h"
#include "engine/data/prepare.h"
#include "engine/train/trainer.h"
#include "train_test_configs.h"

using namespace ember;

namespace {

struct StepTraffic {
  double to_host_per_step = 0, to_host_bytes_per_step = 0, to_device_per_step = 0;
};

StepTraffic measure(TrainConfig c, Device d) {
  c.device = device_name(d);
  c.train.epochs = 1;
  PreparedData data = prepare_data(c.data, c.seed, "", false);
  Trainer t(c, data.split.train, data.val, RunDir{""});
  t.fit(false, 1);  // warm-up: parameters and optimizer state uploaded
  Context::get().reset_transfers();
  const int64_t steps = 3;
  t.fit(false, steps);
  const Context::TransferStats s = Context::get().transfers();
  return StepTraffic{static_cast<double>(s.to_host) / steps, static_cast<double>(s.to_host_bytes) / steps,
                     static_cast<double>(s.to_device) / steps};
}

}  // namespace

TEST_CASE("training step: one device-to-host read per step (losses and gradient norm together)",
          "[engine][train][transfers]") {
  for (Device d : testing::accelerator_devices()) {
    for (const char* objectives : {"retrieval", "ssmtl"}) {
      INFO("device " << device_name(d) << ", objectives " << objectives);
      TrainConfig c = ember_test::tiny_train_config();
      c.sampler.fanouts = {4, 2};
      if (std::string(objectives) == "ssmtl") {
        c.objectives.beta = 0.5;
        c.objectives.gamma = 0.5;
      }
      const StepTraffic t = measure(c, d);
      CHECK(t.to_host_per_step == 1.0);
      // The loss values (retrieval, total, and CCA and MAE when trained; float)
      // and the squared norm.
      const bool ssl = std::string(objectives) == "ssmtl";
      CHECK(t.to_host_bytes_per_step == (ssl ? 5 : 3) * sizeof(float));
      CHECK(t.to_device_per_step > 0.0);  // the batch itself is uploaded
    }
  }
}
