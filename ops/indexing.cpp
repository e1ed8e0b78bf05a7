#include "ops/indexing.h"

#include "kernels/tensor_ops.h"

namespace ember {

Variable gather_rows(const Variable& x, const Tensor& idx) {
  const int64_t rows = x.size(0);
  return Variable::make(tensor::gather_rows(x.value(), idx), {x},
                        [idx, rows](const Tensor& g, std::vector<Variable>& in) {
                          in[0].accumulate_grad(tensor::scatter_add_rows(g, idx, rows));
                        },
                        "gather_rows");
}

Variable scatter_add_rows(const Variable& src, const Tensor& idx, int64_t num_rows) {
  return Variable::make(tensor::scatter_add_rows(src.value(), idx, num_rows), {src},
                        [idx](const Tensor& g, std::vector<Variable>& in) {
                          in[0].accumulate_grad(tensor::gather_rows(g, idx));
                        },
                        "scatter_add_rows");
}

Variable concat(const std::vector<Variable>& parts, int axis) {
  std::vector<Tensor> values;
  std::vector<int64_t> sizes;
  for (const Variable& p : parts) {
    values.push_back(p.value());
    sizes.push_back(p.size(axis));
  }
  return Variable::make(tensor::concat(values, axis), parts,
                        [axis, sizes](const Tensor& g, std::vector<Variable>& in) {
                          int64_t off = 0;
                          for (size_t i = 0; i < in.size(); ++i) {
                            if (in[i].requires_grad()) {
                              in[i].accumulate_grad(axis == 0 ? g.slice_rows(off, off + sizes[i]).contiguous()
                                                              : tensor::slice_columns(g, off, off + sizes[i]));
                            }
                            off += sizes[i];
                          }
                        },
                        "concat");
}

}  // namespace ember
