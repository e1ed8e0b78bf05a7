// The smallest end-to-end program: a two-layer MLP trained with Adam through
// ember's tape autograd on a synthetic 3-class problem, printing the loss.
//   train_mlp [--epochs 200] [--device cpu|emu|cuda] [--seed 1]
#include <CLI/CLI.hpp>

#include <cstdio>

#include "autograd/init.h"
#include "autograd/optimizer.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/reduce.h"
#include "ops/rows.h"
#include "kernels/tensor_ops.h"

using namespace ember;

int main(int argc, char** argv) {
  CLI::App app{"Train a small MLP through ember's autograd"};
  int epochs = 200;
  uint64_t seed = 1;
  std::string device_name = "cpu";
  app.add_option("--epochs", epochs, "training epochs")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "random seed");
  app.add_option("--device", device_name, "cpu, cuda or emu")->check(CLI::IsMember({"cpu", "cuda", "emu"}));
  CLI11_PARSE(app, argc, argv);
  try {
    const Device dev = device_name == "cuda" ? Device::CUDA : device_name == "emu" ? Device::EMU : Device::CPU;
    Rng rng(seed);
    const int64_t n = 600, h = 64, k = 3;
    std::vector<float> xs, ys(n * k, 0.0f);
    const double cx[3] = {0.0, 2.0, -2.0}, cy[3] = {2.0, -1.0, -1.0};
    for (int64_t i = 0; i < n; ++i) {
      const int c = static_cast<int>(i % k);
      xs.push_back(static_cast<float>(cx[c] + 0.8 * rng.normal()));
      xs.push_back(static_cast<float>(cy[c] + 0.8 * rng.normal()));
      ys[i * k + c] = 1.0f;
    }
    Variable X(Tensor::from_vector(xs, {n, 2}, dev)), Y(Tensor::from_vector(ys, {n, k}, dev));
    Variable w1 = parameter(glorot_uniform({2, h}, rng, DType::F32, dev));
    Variable b1 = parameter(Tensor::zeros({h}, DType::F32, dev));
    Variable w2 = parameter(glorot_uniform({h, k}, rng, DType::F32, dev));
    Variable b2 = parameter(Tensor::zeros({k}, DType::F32, dev));
    Adam opt({w1, b1, w2, b2}, AdamOptions{0.01});
    std::printf("training a 2-%ld-%ld MLP on %ld points (%s)\n", (long)h, (long)k, (long)n, device_name.c_str());
    for (int e = 1; e <= epochs; ++e) {
      opt.zero_grad();
      Variable logp = log_softmax_rows(linear(relu(linear(X, w1, b1)), w2, b2));
      Variable loss = scale(sum(mul(logp, Y)), -1.0 / n);
      loss.backward();
      opt.step();
      if (e == 1 || e % 20 == 0) std::printf("epoch %4d  loss %.4f\n", e, tensor::scalar(loss.value()));
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_mlp: error: %s\n", e.what());
    return 1;
  }
}
