#include "engine/serve/service.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "engine/data/prepare.h"
#include "engine/io/npy.h"
#include "engine/retrieval/candidates.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/train/run_dir.h"

namespace ember {

using json = nlohmann::json;

struct ServedRun {
  TrainConfig cfg;
  PreparedData data;
  Tensor emb;
  HnswIndex index;
  std::unique_ptr<CandidateGenerator> gen;
  uint64_t version = 0;
  std::string index_path, loaded_at;
  int64_t index_bytes = 0, index_mtime = 0;
};

namespace {

std::shared_ptr<const ServedRun> load_run(const std::string& path, const RetrievalConfig& rc, uint64_t version) {
  auto r = std::make_shared<ServedRun>();
  RunDir run{path};
  r->cfg = run.load_config();
  r->data = prepare_data(r->cfg.data, r->cfg.seed, "", false);
  r->emb = load_npy(run.embeddings());
  const int64_t n = r->data.full.num_nodes();
  EMBER_CHECK(r->emb.size(0) == n, run.embeddings() << " has " << r->emb.size(0) << " rows, the graph has " << n);
  r->index = HnswIndex::load(run.index(), r->emb.size(1));
  EMBER_CHECK(r->index.size() == n, run.index() << " has " << r->index.size() << " vectors, the graph has " << n
                                                << " users (rebuild it with ember_index)");
  const Graph& friends = r->data.split.train;
  r->gen = std::make_unique<CandidateGenerator>(r->emb.data<float>(), n, r->emb.size(1), friends, friends, rc,
                                                &r->index, r->cfg.seed);
  r->version = version;
  r->index_path = run.index();
  struct stat st {};
  if (::stat(r->index_path.c_str(), &st) == 0) {
    r->index_bytes = static_cast<int64_t>(st.st_size);
    r->index_mtime = static_cast<int64_t>(st.st_mtime);
  }
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  r->loaded_at = buf;
  return r;
}

// A decimal int64 parameter (optional sign); false when malformed.
bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  out = v;
  return true;
}

std::string quoted(const std::string& s) { return "'" + (s.size() > 40 ? s.substr(0, 40) + "..." : s) + "'"; }

// JSON text; bytes that are not UTF-8 (echoed from a request) become U+FFFD.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json candidates_json(const ServedRun& r, const Rankings& rk, size_t row) {
  json list = json::array();
  for (int32_t j = 0; j < rk.k; ++j) {
    const int32_t c = rk.row(row)[j];
    if (c < 0) break;
    list.push_back({{"user", r.data.full.ids.original(c)}, {"score", rk.row_scores(row)[j]}});
  }
  return list;
}

}  // namespace

ServiceResponse error_response(int status, const std::string& reason) {
  return ServiceResponse{status, dump(json{{"error", reason}})};
}

RecommendService::RecommendService(std::string run_path, const RetrievalConfig& retrieval, ServeLimits limits)
    : run_path_(std::move(run_path)), retrieval_(retrieval), limits_(limits),
      started_(std::chrono::steady_clock::now()) {
  EMBER_CHECK(limits_.default_k >= 1 && limits_.default_k <= limits_.max_k && limits_.max_batch >= 1,
              "serve limits: need 1 <= default k <= max k and a batch limit >= 1");
  retrieval_.expansion.validate();
  retrieval_.blend.validate();
  run_ = load_run(run_path_, retrieval_, ++loads_);
}

RecommendService::~RecommendService() = default;

std::shared_ptr<const ServedRun> RecommendService::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return run_;
}

uint64_t RecommendService::version() const { return snapshot()->version; }
int64_t RecommendService::users() const { return snapshot()->data.full.num_nodes(); }

void RecommendService::reload() {
  std::lock_guard<std::mutex> one(reload_mu_);
  auto fresh = load_run(run_path_, retrieval_, loads_ + 1);  // throws: the old run stays
  ++loads_;
  std::lock_guard<std::mutex> lock(mu_);
  run_ = std::move(fresh);  // requests holding the old snapshot finish with it
}

ServiceResponse RecommendService::handle(const ServiceRequest& req) const {
  try {
    if (req.body.size() > limits_.max_body_bytes)
      return error_response(413, "request body of " + std::to_string(req.body.size()) + " bytes, at most " +
                                     std::to_string(limits_.max_body_bytes));
    const bool get = req.method == "GET", post = req.method == "POST";
    if (req.path == "/v1/recommend") {
      if (get) return recommend_one(req);
      if (post) return recommend_batch(req);
      return error_response(405, req.method + " is not allowed on /v1/recommend (GET or POST)");
    }
    if (req.path == "/v1/health") return get ? health() : error_response(405, "use GET /v1/health");
    if (req.path == "/v1/reload")
      return post ? const_cast<RecommendService*>(this)->do_reload() : error_response(405, "use POST /v1/reload");
    return error_response(404, "no such endpoint: " + req.method + " " + quoted(req.path) +
                                   " (GET/POST /v1/recommend, GET /v1/health, POST /v1/reload)");
  } catch (const std::exception& e) {
    return error_response(500, std::string("internal error: ") + e.what());
  }
}

ServiceResponse RecommendService::recommend_one(const ServiceRequest& req) const {
  for (const auto& [k, v] : req.params)
    if (k != "user" && k != "k") return error_response(400, "unknown parameter " + quoted(k) + " (user, k)");
  auto it = req.params.find("user");
  if (it == req.params.end()) return error_response(400, "missing parameter 'user'");
  int64_t user = 0;
  if (!parse_int(it->second, user)) return error_response(400, "parameter 'user' must be an integer, got " + quoted(it->second));
  int64_t k = limits_.default_k;
  auto kt = req.params.find("k");
  if (kt != req.params.end() && (!parse_int(kt->second, k) || k < 1 || k > limits_.max_k))
    return error_response(400, "parameter 'k' must be an integer in [1, " + std::to_string(limits_.max_k) + "], got " +
                                   quoted(kt->second));
  const auto run = snapshot();
  const int64_t dense = run->data.full.ids.dense(user);
  if (dense < 0) return error_response(404, "user " + std::to_string(user) + " is not a user of this graph");
  const Rankings rk = run->gen->generate({static_cast<int32_t>(dense)}, static_cast<int32_t>(k));
  json out{{"user", user}, {"k", k}, {"candidates", candidates_json(*run, rk, 0)}, {"index_version", run->version}};
  return ServiceResponse{200, dump(out)};
}

ServiceResponse RecommendService::recommend_batch(const ServiceRequest& req) const {
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception&) {
    return error_response(400, "the body is not valid JSON (expected {\"users\": [ids], \"k\": n})");
  }
  if (!body.is_object()) return error_response(400, "the body must be a JSON object {\"users\": [ids], \"k\": n}");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "users" && it.key() != "k") return error_response(400, "unknown key " + quoted(it.key()) + " (users, k)");
  if (!body.contains("users") || !body["users"].is_array())
    return error_response(400, "'users' must be an array of user ids");
  const json& users = body["users"];
  if (users.empty()) return error_response(400, "'users' is empty");
  if (static_cast<int64_t>(users.size()) > limits_.max_batch)
    return error_response(400, std::to_string(users.size()) + " users in one request, at most " +
                                   std::to_string(limits_.max_batch));
  int64_t k = limits_.default_k;
  if (body.contains("k")) {
    const json& jk = body["k"];
    if (!jk.is_number_integer() || jk.get<int64_t>() < 1 || jk.get<int64_t>() > limits_.max_k)
      return error_response(400, "'k' must be an integer in [1, " + std::to_string(limits_.max_k) + "]");
    k = jk.get<int64_t>();
  }
  const auto run = snapshot();
  std::vector<int32_t> dense;
  std::vector<int64_t> originals;
  for (const json& u : users) {
    if (!u.is_number_integer()) return error_response(400, "'users' must hold integer ids, got " + dump(u).substr(0, 40));
    const int64_t id = u.get<int64_t>();
    const int64_t d = run->data.full.ids.dense(id);
    if (d < 0) return error_response(404, "user " + std::to_string(id) + " is not a user of this graph");
    dense.push_back(static_cast<int32_t>(d));
    originals.push_back(id);
  }
  const Rankings rk = run->gen->generate(dense, static_cast<int32_t>(k));
  json results = json::array();
  for (size_t i = 0; i < dense.size(); ++i)
    results.push_back({{"user", originals[i]}, {"candidates", candidates_json(*run, rk, i)}});
  return ServiceResponse{200, dump(json{{"k", k}, {"results", results}, {"index_version", run->version}})};
}

ServiceResponse RecommendService::health() const {
  const auto run = snapshot();
  const double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const ExpansionConfig& e = retrieval_.expansion;
  json out{{"status", "ok"},
           {"index_version", run->version},
           {"index", {{"path", run->index_path}, {"bytes", run->index_bytes}, {"mtime", run->index_mtime},
                      {"loaded_at", run->loaded_at}}},
           {"vectors", run->index.size()},
           {"dim", run->index.dim()},
           {"uptime_s", up},
           {"graph", run->data.name},
           {"retrieval", {{"expansion", e.enabled() ? e.merge : std::string("off")}, {"blend", retrieval_.blend.mode}}},
           {"limits", {{"max_k", limits_.max_k}, {"max_batch", limits_.max_batch}, {"max_body_bytes", limits_.max_body_bytes}}}};
  return ServiceResponse{200, dump(out)};
}

ServiceResponse RecommendService::do_reload() {
  try {
    reload();
  } catch (const std::exception& e) {
    return error_response(500, std::string("reload failed, the previous index keeps serving: ") + e.what());
  }
  const auto run = snapshot();
  return ServiceResponse{200, dump(json{{"status", "reloaded"}, {"index_version", run->version},
                                        {"vectors", run->index.size()}, {"loaded_at", run->loaded_at}})};
}

}  // namespace ember
