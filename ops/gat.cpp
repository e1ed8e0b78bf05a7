#include "ops/gat.h"

#include <cmath>

#include "kernels/gat.h"
#include "ops/elementwise.h"
#include "ops/linear.h"

namespace ember {

namespace {

GatParams make_params(const GatOptions& o) {
  GatParams p;
  p.heads = o.heads;
  p.features = o.out_features;
  p.concat = o.concat;
  p.negative_slope = o.negative_slope;
  p.dropout = o.training ? o.attn_dropout : 0.0;
  p.seed = o.dropout_seed;
  p.stream = o.dropout_stream;
  return p;
}

void check_options(const GatOptions& o) {
  EMBER_CHECK(o.heads >= 1, "gat: heads must be >= 1, got " << o.heads);
  EMBER_CHECK(o.out_features >= 1, "gat: out_features must be >= 1, got " << o.out_features);
  EMBER_CHECK(o.heads * o.out_features < (int64_t(1) << 30),
              "gat: heads * out_features = " << o.heads * o.out_features << " is too large");
  EMBER_CHECK(std::isfinite(o.negative_slope), "gat: negative_slope must be finite");
  EMBER_CHECK(o.attn_dropout >= 0.0 && o.attn_dropout < 1.0,
              "gat: attention dropout rate must be in [0, 1), got " << o.attn_dropout);
}

void check_var(const Variable& v, const char* name, const Shape& shape, DType dt, Device dev) {
  EMBER_CHECK(v.defined(), "gat: " << name << " is undefined");
  EMBER_CHECK(v.value().shape() == shape, "gat: " << name << " is " << v.value().describe() << ", expected shape "
                                                  << shape_str(shape));
  EMBER_CHECK(v.dtype() == dt, "gat: " << name << " is " << v.value().describe() << ", expected dtype "
                                       << dtype_name(dt));
  EMBER_CHECK(v.device() == dev, "gat: " << name << " is " << v.value().describe() << ", expected device "
                                         << device_name(dev));
}

GatGraphView view_of(const MessageGraph& g, bool with_transpose) {
  GatGraphView v;
  v.num_nodes = g.num_nodes;
  v.row_ptr = g.row_ptr;
  v.col = g.col;
  const bool kernels = g.device() != Device::CPU;  // heavy-row lists are for the kernel backends
  if (with_transpose) {
    MessageGraphTranspose t = message_graph_transpose(g);
    v.t_row_ptr = t.row_ptr;
    v.t_dst = t.dst;
    v.t_eid = t.eid;
  }
  if (kernels) {
    MessageGraphHeavyRows h = message_graph_heavy_rows(g, with_transpose);
    v.heavy = h.in;
    v.t_heavy = h.out;
  }
  return v;
}

}  // namespace

Variable gat_attention(const Variable& wh, const MessageGraph& g, const Variable& att_src, const Variable& att_dst,
                       const GatOptions& options) {
  check_options(options);
  g.check();
  const int64_t H = options.heads, F = options.out_features;
  EMBER_CHECK(wh.defined() && wh.value().dim() == 2, "gat: wh must be a 2-D variable");
  EMBER_CHECK(is_float(wh.dtype()), "gat: wh must be float32 or float64, got " << wh.value().describe());
  EMBER_CHECK(wh.size(0) == g.num_nodes, "gat: " << wh.size(0) << " feature rows but the graph has "
                                                 << g.num_nodes << " nodes");
  EMBER_CHECK(wh.size(1) == H * F, "gat: projected features " << wh.value().describe() << " do not have heads * "
                                                              "out_features = " << H * F << " columns");
  EMBER_CHECK(wh.device() == g.device(), "gat: features on " << device_name(wh.device()) << " but graph on "
                                                             << device_name(g.device()));
  check_var(att_src, "att_src", {H, F}, wh.dtype(), wh.device());
  check_var(att_dst, "att_dst", {H, F}, wh.dtype(), wh.device());

  const GatParams p = make_params(options);
  const Device dev = wh.device();
  const int64_t N = g.num_nodes;
  Tensor whv = wh.value().contiguous();
  Tensor as = att_src.value().contiguous(), ad = att_dst.value().contiguous();
  Tensor s = Tensor::empty({N, H}, whv.dtype(), dev), d = Tensor::empty({N, H}, whv.dtype(), dev);
  Tensor lse = Tensor::empty({N, H}, whv.dtype(), dev);
  Tensor out = Tensor::empty({N, p.out_cols()}, whv.dtype(), dev);
  EMBER_DISPATCH(dev, gat_scores, whv, as, ad, p, s, d);
  {
    GatGraphView v = view_of(g, false);
    EMBER_DISPATCH(dev, gat_forward, v, whv, s, d, p, out, lse);
  }
  MessageGraph graph = g;  // shares the cache: the transpose is built once per graph
  return Variable::make(
      out, {wh, att_src, att_dst},
      [graph, whv, as, ad, s, d, lse, p](const Tensor& g_in, std::vector<Variable>& in) {
        Tensor gout = g_in.contiguous();
        const Device dv = whv.device();
        Tensor gwh = Tensor::empty(whv.shape(), whv.dtype(), dv);
        Tensor gas = Tensor::empty(as.shape(), as.dtype(), dv), gad = Tensor::empty(ad.shape(), ad.dtype(), dv);
        GatGraphView v = view_of(graph, true);
        EMBER_DISPATCH(dv, gat_backward, v, whv, as, ad, s, d, lse, gout, p, gwh, gas, gad);
        in[0].accumulate_grad(gwh);
        in[1].accumulate_grad(gas);
        in[2].accumulate_grad(gad);
      },
      "gat_attention");
}

Variable gat_conv(const Variable& x, const MessageGraph& g, const Variable& weight, const Variable& att_src,
                  const Variable& att_dst, const Variable& bias, const GatOptions& options,
                  const Variable& residual_weight) {
  check_options(options);
  g.check();
  EMBER_CHECK(x.defined() && x.value().dim() == 2, "gat_conv: x must be a 2-D variable");
  EMBER_CHECK(is_float(x.dtype()), "gat_conv: x must be float32 or float64, got " << x.value().describe());
  EMBER_CHECK(x.size(0) == g.num_nodes, "gat_conv: x " << x.value().describe() << " has " << x.size(0)
                                                       << " rows but the graph has " << g.num_nodes << " nodes");
  EMBER_CHECK(x.device() == g.device(), "gat_conv: x on " << device_name(x.device()) << " but graph on "
                                                          << device_name(g.device()));
  const int64_t H = options.heads, F = options.out_features, Fin = x.size(1);
  const int64_t out_cols = options.concat ? H * F : F;
  check_var(weight, "weight", {Fin, H * F}, x.dtype(), x.device());
  Variable wh = matmul(x, weight);
  Variable out = gat_attention(wh, g, att_src, att_dst, options);
  if (bias.defined()) {
    check_var(bias, "bias", {out_cols}, x.dtype(), x.device());
    out = add(out, bias);
  }
  if (options.residual) {
    if (residual_weight.defined()) {
      check_var(residual_weight, "residual_weight", {Fin, out_cols}, x.dtype(), x.device());
      out = add(out, matmul(x, residual_weight));
    } else {
      EMBER_CHECK(Fin == out_cols, "gat_conv: identity residual needs x's " << Fin
                                       << " features to equal the output width " << out_cols
                                       << " (pass a residual_weight)");
      out = add(out, x);
    }
  } else {
    EMBER_CHECK(!residual_weight.defined(), "gat_conv: residual_weight given but options.residual is false");
  }
  return out;
}

}  // namespace ember
