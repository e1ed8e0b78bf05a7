#include "autograd/init.h"

#include <cmath>
#include <vector>

namespace ember {

Tensor glorot_uniform(const Shape& shape, Rng& rng, DType dtype, Device device, double gain) {
  EMBER_CHECK(!shape.empty() && shape.size() <= 2, "glorot_uniform: expected 1-D or 2-D shape, got "
                                                       << shape_str(shape));
  const double fan_in = shape.size() == 2 ? static_cast<double>(shape[0]) : 1.0;
  const double fan_out = static_cast<double>(shape.back());
  const double a = gain * std::sqrt(6.0 / (fan_in + fan_out));
  std::vector<double> vals(static_cast<size_t>(shape_numel(shape)));
  for (double& v : vals) v = (2.0 * rng.uniform() - 1.0) * a;
  Tensor t = Tensor::from_vector(vals, shape, Device::CPU);
  if (dtype != DType::F64) t = t.to_dtype(dtype);
  return device == Device::CPU ? t : t.to(device);
}

Variable parameter(Tensor value) { return Variable(std::move(value), true); }

}  // namespace ember
