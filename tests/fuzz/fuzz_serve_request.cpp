// The recommendation service's request handling (engine/serve/service.h):
// the input is split into method, path, the `user` and `k` parameters and a
// body; every request must get a JSON answer with a known status (never a
// crash, another exception, or a non-JSON body). The service serves a tiny
// run (400 users, random embeddings) made once at start-up.
#include <nlohmann/json.hpp>

#include "engine/data/prepare.h"
#include "engine/io/npy.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/serve/service.h"
#include "engine/train/run_dir.h"
#include "fuzz_common.h"

namespace {
ember::RecommendService* service() {
  static ember::RecommendService* svc = [] {
    using namespace ember;
    const std::string dir = ember_fuzz::scratch_dir() + "/run";
    TrainConfig c;
    c.data.synthetic.num_users = 400;
    c.data.synthetic.num_communities = 8;
    c.data.synthetic.feature_dim = 64;
    c.model.embedding_dim = 8;
    const PreparedData d = prepare_data(c.data, c.seed, dir, false);
    RunDir run{dir};
    const std::string text = c.to_json_text();
    write_file_atomic(run.config(), text.data(), text.size());
    Rng r(1);
    std::vector<float> e(400 * 8);
    for (float& x : e) x = static_cast<float>(r.normal());
    write_embeddings(run, Tensor::from_vector(e, {400, 8}), d.full.ids);
    HnswIndex index;
    index.build(e.data(), 400, 8);
    index.save(run.index());
    ServeLimits lim;
    lim.max_body_bytes = 4096;
    return new RecommendService(dir, c.retrieval, lim);
  }();
  return svc;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Fields separated by 0x01 bytes: method, path, user, k, body.
  std::vector<std::string> f(5);
  size_t i = 0;
  for (size_t p = 0; p < size; ++p) {
    if (data[p] == 0x01 && i < 4) ++i;
    else f[i].push_back(static_cast<char>(data[p]));
  }
  ember::ServiceRequest req{f[0].empty() ? "GET" : f[0], f[1].empty() ? "/v1/recommend" : f[1], {}, f[4]};
  if (!f[2].empty()) req.params["user"] = f[2];
  if (!f[3].empty()) req.params["k"] = f[3];
  if (req.path == "/v1/reload") return 0;  // reloading per input is slow and covered by the tests
  const ember::ServiceResponse r = service()->handle(req);
  const int s = r.status;
  if (!(s == 200 || s == 400 || s == 404 || s == 405 || s == 413) || !nlohmann::json::accept(r.body)) __builtin_trap();
  return 0;
}
