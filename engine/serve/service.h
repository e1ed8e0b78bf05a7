// The online recommendation service, independent of the transport: requests
// in, JSON responses out (the HTTP server of examples/ember_serve.cpp maps
// cpp-httplib's requests onto this; tests and the fuzzer call it directly).
//
//   GET  /v1/recommend?user=<id>&k=<n>   candidates of one user (original ids), friends excluded
//   POST /v1/recommend  {"users": [ids], "k": n}   a batch
//   GET  /v1/health                      index version, vectors, dimension, uptime, settings
//   POST /v1/reload                      loads the run directory again and swaps it in atomically
//
// Errors are JSON {"error": "<reason>"}: unknown user 404, malformed or
// out-of-range parameters 400, unknown endpoint 404, wrong method 405, body
// over the limit 413, a failed reload 500 (the previous index keeps serving).
// Thread-safe: requests run concurrently; each takes a snapshot of the loaded
// run, so a reload never disturbs requests in flight.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "engine/config/config.h"

namespace ember {

struct ServeLimits {
  int32_t default_k = 10;
  int32_t max_k = 1000;
  int64_t max_batch = 1000;         // users per POST /v1/recommend
  size_t max_body_bytes = 1 << 20;  // larger bodies: 413
};

struct ServiceRequest {
  std::string method;                         // "GET", "POST", ...
  std::string path;                           // "/v1/recommend"
  std::map<std::string, std::string> params;  // query-string parameters
  std::string body;
};

struct ServiceResponse {
  int status = 200;
  std::string body;  // JSON
};

struct ServedRun;  // one loaded run (engine/serve/service.cpp)

class RecommendService {
 public:
  // Loads the run directory (config, graph and split, embeddings, HNSW index);
  // `retrieval` is what is served (the run's section with any overrides).
  // Throws ember::Error naming what is missing or inconsistent.
  RecommendService(std::string run_path, const RetrievalConfig& retrieval, ServeLimits limits = {});
  ~RecommendService();

  ServiceResponse handle(const ServiceRequest& req) const;
  // Loads the run again (e.g. a new index.hnsw) and swaps it in; on failure
  // throws and the loaded run keeps serving.
  void reload();
  uint64_t version() const;
  int64_t users() const;
  const ServeLimits& limits() const { return limits_; }

 private:
  std::shared_ptr<const ServedRun> snapshot() const;
  ServiceResponse recommend_one(const ServiceRequest& req) const;
  ServiceResponse recommend_batch(const ServiceRequest& req) const;
  ServiceResponse health() const;
  ServiceResponse do_reload();

  std::string run_path_;
  RetrievalConfig retrieval_;
  ServeLimits limits_;
  mutable std::mutex mu_;
  std::shared_ptr<const ServedRun> run_;
  std::mutex reload_mu_;  // one reload at a time
  uint64_t loads_ = 0;
  std::chrono::steady_clock::time_point started_;
};

// {"error": reason} with `status`.
ServiceResponse error_response(int status, const std::string& reason);

}  // namespace ember
