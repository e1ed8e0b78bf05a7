// The recommendation service without sockets (engine/serve/service.h): the
// answers equal the candidate generator's, every error code with its reason,
// a reload while requests run, and a corpus of malformed requests that must
// each get a JSON error (never a crash). The HTTP layer is exercised by
// tests/serve_round_trip.sh.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

#include "engine/data/prepare.h"
#include "engine/io/npy.h"
#include "engine/retrieval/candidates.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/serve/service.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"
#include "train_test_configs.h"

using namespace ember;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A trained tiny run with its index, made once for the file's tests.
const std::string& tiny_run() {
  static const std::string dir = [] {
    const fs::path p = fs::temp_directory_path() / ("ember_serve_run_" + std::to_string(::getpid()));
    fs::remove_all(p);
    TrainConfig c = ember_test::tiny_train_config();
    PreparedData d = prepare_data(c.data, c.seed, p.string(), false);
    Trainer t(c, d.split.train, d.val, RunDir{p.string()});
    t.fit();
    RunDir run{p.string()};
    write_embeddings(run, t.embed_all(), d.full.ids);
    const Tensor emb = load_npy(run.embeddings());
    HnswIndex index;
    HnswConfig hc;
    hc.build_threads = 1;
    index.build(emb.data<float>(), emb.size(0), emb.size(1), hc);
    index.save(run.index());
    return p.string();
  }();
  return dir;
}

ServiceRequest get(const std::string& path, std::map<std::string, std::string> params = {}) {
  return ServiceRequest{"GET", path, std::move(params), ""};
}
ServiceRequest post(const std::string& path, const std::string& body) { return ServiceRequest{"POST", path, {}, body}; }

}  // namespace

TEST_CASE("serve: answers equal the candidate generator's, batch and single", "[serve]") {
  const RunDir run{tiny_run()};
  const TrainConfig cfg = run.load_config();
  RecommendService svc(run.path, cfg.retrieval);
  // The same candidates as CandidateGenerator over the index.
  const PreparedData d = prepare_data(cfg.data, cfg.seed, "", false);
  const Tensor emb = load_npy(run.embeddings());
  const HnswIndex index = HnswIndex::load(run.index());
  const CandidateGenerator gen(emb.data<float>(), emb.size(0), emb.size(1), d.split.train, d.split.train,
                               cfg.retrieval, &index, cfg.seed);
  for (int64_t user : {0, 7, 123}) {
    const ServiceResponse r = svc.handle(get("/v1/recommend", {{"user", std::to_string(user)}, {"k", "8"}}));
    REQUIRE(r.status == 200);
    const json j = json::parse(r.body);
    const Rankings want = gen.generate({static_cast<int32_t>(d.full.ids.dense(user))}, 8);
    REQUIRE(j["candidates"].size() == 8);
    for (int i = 0; i < 8; ++i) {
      REQUIRE(j["candidates"][i]["user"].get<int64_t>() == d.full.ids.original(want.row(0)[i]));
      REQUIRE_FALSE(d.split.train.has_edge(d.full.ids.dense(user), want.row(0)[i]));
    }
  }
  const ServiceResponse b = svc.handle(post("/v1/recommend", R"({"users": [7, 0], "k": 3})"));
  REQUIRE(b.status == 200);
  const json jb = json::parse(b.body);
  REQUIRE(jb["results"].size() == 2);
  REQUIRE(jb["results"][0]["user"] == 7);
  REQUIRE(jb["results"][0]["candidates"] == json::parse(svc.handle(get("/v1/recommend", {{"user", "7"}, {"k", "3"}})).body)["candidates"]);
  const json h = json::parse(svc.handle(get("/v1/health")).body);
  REQUIRE(h["status"] == "ok");
  REQUIRE(h["vectors"] == 400);
  REQUIRE(h["index_version"] == 1);
}

TEST_CASE("serve: every error code with its reason", "[serve][errors]") {
  ServeLimits lim;
  lim.max_k = 50;
  lim.max_batch = 4;
  lim.max_body_bytes = 200;
  RecommendService svc(tiny_run(), RunDir{tiny_run()}.load_config().retrieval, lim);
  struct Case {
    ServiceRequest req;
    int status;
    const char* reason;
  };
  const std::vector<Case> cases{
      {get("/v1/recommend", {{"user", "999999"}}), 404, "is not a user"},
      {get("/v1/recommend"), 400, "missing parameter 'user'"},
      {get("/v1/recommend", {{"user", "12x"}}), 400, "must be an integer"},
      {get("/v1/recommend", {{"user", "99999999999999999999999"}}), 400, "must be an integer"},
      {get("/v1/recommend", {{"user", "1"}, {"k", "51"}}), 400, "'k' must be an integer in [1, 50]"},
      {get("/v1/recommend", {{"user", "1"}, {"k", "-1"}}), 400, "'k'"},
      {get("/v1/recommend", {{"user", "1"}, {"kk", "3"}}), 400, "unknown parameter 'kk'"},
      {post("/v1/recommend", "{not json"), 400, "not valid JSON"},
      {post("/v1/recommend", "[1, 2]"), 400, "must be a JSON object"},
      {post("/v1/recommend", R"({"users": 3})"), 400, "'users' must be an array"},
      {post("/v1/recommend", R"({"users": []})"), 400, "'users' is empty"},
      {post("/v1/recommend", R"({"users": [1, 2, 3, 4, 5]})"), 400, "at most 4"},
      {post("/v1/recommend", R"({"users": ["a"]})"), 400, "integer ids"},
      {post("/v1/recommend", R"({"users": [1], "k": 0})"), 400, "'k' must be an integer"},
      {post("/v1/recommend", R"({"users": [1], "kay": 2})"), 400, "unknown key 'kay'"},
      {post("/v1/recommend", R"({"users": [1, 123456]})"), 404, "user 123456"},
      {post("/v1/recommend", std::string(300, ' ')), 413, "at most 200"},
      {get("/v2/recommend"), 404, "no such endpoint"},
      {ServiceRequest{"DELETE", "/v1/recommend", {}, ""}, 405, "not allowed"},
      {post("/v1/health", "{}"), 405, "use GET /v1/health"},
      {get("/v1/reload"), 405, "use POST /v1/reload"},
  };
  for (const Case& c : cases) {
    const ServiceResponse r = svc.handle(c.req);
    INFO(c.req.method << " " << c.req.path << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == c.status);
    const json j = json::parse(r.body);
    REQUIRE(j["error"].get<std::string>().find(c.reason) != std::string::npos);
  }
}

TEST_CASE("serve: a reload swaps the index while requests keep being answered", "[serve]") {
  RecommendService svc(tiny_run(), RunDir{tiny_run()}.load_config().retrieval);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, bad{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t)
    clients.emplace_back([&, t] {
      uint64_t last = 0;
      for (int i = 0; !stop; ++i) {
        const ServiceResponse r = svc.handle(get("/v1/recommend", {{"user", std::to_string((t * 31 + i) % 400)}, {"k", "5"}}));
        const json j = json::parse(r.body);
        const bool good = r.status == 200 && j["candidates"].size() == 5 && j["index_version"].get<uint64_t>() >= last;
        if (good) last = j["index_version"].get<uint64_t>();
        (good ? ok : bad)++;
      }
    });
  for (int i = 0; i < 3; ++i) REQUIRE(svc.handle(post("/v1/reload", "")).status == 200);
  stop = true;
  for (auto& c : clients) c.join();
  REQUIRE(bad == 0);
  REQUIRE(ok > 0);
  REQUIRE(svc.version() == 4);
  // A failed reload keeps the old index serving.
  const std::string idx = RunDir{tiny_run()}.index();
  fs::rename(idx, idx + ".away");
  const ServiceResponse r = svc.handle(post("/v1/reload", ""));
  fs::rename(idx + ".away", idx);
  REQUIRE(r.status == 500);
  REQUIRE(r.body.find("previous index keeps serving") != std::string::npos);
  REQUIRE(svc.handle(get("/v1/recommend", {{"user", "3"}})).status == 200);
  REQUIRE(svc.version() == 4);
}

TEST_CASE("serve: malformed requests always get a JSON error, never a crash", "[serve][errors]") {
  RecommendService svc(tiny_run(), RunDir{tiny_run()}.load_config().retrieval);
  Rng rng(17);
  const std::vector<std::string> pieces{"{", "}", "[", "]", "\"users\"", ":", ",", "\"k\"", "-1", "1e999", "null",
                                        "3.5", "\"x\"", "\\u0000", "99999999999999999999", "true", "{}", "\xff\xfe"};
  for (int i = 0; i < 2000; ++i) {
    std::string body;
    const int n = static_cast<int>(rng.below(12));
    for (int j = 0; j < n; ++j) body += pieces[rng.below(pieces.size())];
    std::string user;
    for (int j = 0; j < static_cast<int>(rng.below(6)); ++j) user += pieces[rng.below(pieces.size())];
    const ServiceResponse a = svc.handle(post("/v1/recommend", body));
    const ServiceResponse b = svc.handle(get("/v1/recommend", {{"user", user}, {"k", pieces[rng.below(pieces.size())]}}));
    for (const ServiceResponse* r : {&a, &b}) {
      INFO(body << " | " << user << " -> " << r->status << " " << r->body);
      REQUIRE(json::accept(r->body));
      REQUIRE((r->status == 200 || r->status == 400 || r->status == 404));
    }
  }
}
