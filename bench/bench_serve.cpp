// Load test of the recommendation service over HTTP on loopback, and the
// maker of a synthetic run directory of any size for it and for
// ember_recommend's throughput.
//
//   bench_serve --make-run runs/bench100k --users 100000        # graph, split, random embeddings, index
//   bench_serve --run runs/bench100k --clients 2 --threads 2 --requests 20000 --seconds 30 --k 10
//
// The run's embeddings are seeded random vectors (quality does not matter for
// speed; the index and the service work the same). The load test starts the
// service in this process (cpp-httplib on 127.0.0.1, port picked by the
// system) and `clients` keep-alive connections issuing single-user
// GET /v1/recommend requests for random users, bounded by --requests and
// --seconds; it reports QPS and the p50 / p99 / max latency seen by the
// clients, as a table line and a JSON line. Loopback only.
#include <CLI/CLI.hpp>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "bench_util.h"
#include "core/philox.h"
#include "engine/data/prepare.h"
#include "engine/io/binary_io.h"
#include "engine/io/npy.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/serve/service.h"
#include "engine/train/run_dir.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {

void make_run(const std::string& dir, int64_t users, int64_t dim, uint64_t seed) {
  TrainConfig c;
  c.seed = seed;
  c.data.synthetic.num_users = users;
  c.data.synthetic.num_communities = static_cast<int32_t>(std::max<int64_t>(1, users / 250));
  c.model.embedding_dim = dim;
  fs::create_directories(dir);
  RunDir run{dir};
  const std::string text = c.to_json_text();
  write_file_atomic(run.config(), text.data(), text.size());
  auto t0 = std::chrono::steady_clock::now();
  const PreparedData d = prepare_data(c.data, c.seed, dir, false);
  std::vector<float> e(static_cast<size_t>(users * dim));
#pragma omp parallel for schedule(static)
  for (int64_t u = 0; u < users; ++u) {
    Rng r(seed, static_cast<uint64_t>(u));
    for (int64_t j = 0; j < dim; ++j) e[u * dim + j] = static_cast<float>(r.normal());
  }
  write_embeddings(run, Tensor::from_vector(e, {users, dim}), d.full.ids);
  HnswIndex index;
  index.build(e.data(), users, dim);
  index.save(run.index());
  std::printf("made %s: %lld users, %lld training edges, d = %lld, index built (%.1f s)\n", dir.c_str(),
              (long long)users, (long long)d.split.train.num_edges(), (long long)dim,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load test of ember's recommendation service over loopback HTTP"};
  std::string run_path, make;
  int64_t users = 100000, dim = 64, requests = 20000;
  int clients = 2, threads = 2, k = 10;
  double seconds = 30;
  uint64_t seed = 1;
  app.add_option("--make-run", make, "create a synthetic run directory here (then exit)");
  app.add_option("--users", users, "users of the made run")->check(CLI::Range(int64_t(10), int64_t(1) << 30));
  app.add_option("--dim", dim, "embedding dimension of the made run")->check(CLI::Range(int64_t(1), int64_t(4096)));
  app.add_option("--seed", seed, "seed of the made run");
  app.add_option("--run", run_path, "run directory to serve")->check(CLI::ExistingDirectory);
  app.add_option("--clients", clients, "concurrent keep-alive client connections")->check(CLI::Range(1, 256));
  app.add_option("--threads", threads, "service worker threads")->check(CLI::Range(1, 256));
  app.add_option("--requests", requests, "requests in all (bound)")->check(CLI::Range(int64_t(1), int64_t(1) << 32));
  app.add_option("--seconds", seconds, "time bound of the load phase")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--k", k, "candidates per request")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  try {
    if (!make.empty()) {
      make_run(make, users, dim, seed);
      return 0;
    }
    EMBER_CHECK(!run_path.empty(), "give --run DIR (or --make-run DIR to create one)");
    RunDir run{run_path};
    RecommendService svc(run_path, run.load_config().retrieval);
    const int64_t n = svc.users();
    httplib::Server http;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http.set_tcp_nodelay(true);  // no Nagle delay on small JSON answers
    http.Get("/v1/recommend", [&svc](const httplib::Request& req, httplib::Response& res) {
      ServiceRequest r{"GET", req.path, {}, ""};
      for (const auto& [key, v] : req.params) r.params.emplace(key, v);
      const ServiceResponse out = svc.handle(r);
      res.status = out.status;
      res.set_content(out.body, "application/json");
    });
    const int port = http.bind_to_any_port("127.0.0.1");
    EMBER_CHECK(port > 0, "cannot bind a loopback port");
    std::thread server([&] { http.listen_after_bind(); });
    while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));

    std::atomic<int64_t> issued{0}, failed{0};
    std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
    const auto t0 = std::chrono::steady_clock::now();
    const auto deadline = t0 + std::chrono::duration<double>(seconds);
    std::vector<std::thread> cs;
    for (int c = 0; c < clients; ++c)
      cs.emplace_back([&, c] {
        httplib::Client cli("127.0.0.1", port);
        cli.set_keep_alive(true);
        cli.set_tcp_nodelay(true);
        Rng rng(seed, 1000 + static_cast<uint64_t>(c));
        while (issued.fetch_add(1) < requests && std::chrono::steady_clock::now() < deadline) {
          const std::string path = "/v1/recommend?user=" + std::to_string(rng.below(static_cast<uint64_t>(n))) +
                                   "&k=" + std::to_string(k);
          const auto a = std::chrono::steady_clock::now();
          auto res = cli.Get(path.c_str());
          const auto b = std::chrono::steady_clock::now();
          if (!res || res->status != 200) ++failed;
          else lat[static_cast<size_t>(c)].push_back(std::chrono::duration<double, std::milli>(b - a).count());
        }
      });
    for (auto& t : cs) t.join();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    http.stop();
    server.join();
    std::vector<double> all;
    for (const auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    EMBER_CHECK(!all.empty(), "no request succeeded (" << failed.load() << " failed)");
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) { return all[std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())))]; };
    const double qps = static_cast<double>(all.size()) / wall;
    std::printf("work: %lld users, k = %d, %d clients, %d service threads, %zu requests in %.1f s (%lld failed), %s\n",
                (long long)n, k, clients, threads, all.size(), wall, (long long)failed.load(),
                bench::device_description(Device::CPU).c_str());
    std::printf("serve GET /v1/recommend   %9.0f requests/s   latency p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", qps,
                pct(0.50), pct(0.99), all.back());
    nlohmann::json j{{"bench", "serve"},     {"users", n},       {"k", k},          {"clients", clients},
                     {"threads", threads},   {"requests", all.size()}, {"failed", failed.load()},
                     {"seconds", wall},      {"qps", qps},       {"p50_ms", pct(0.5)}, {"p99_ms", pct(0.99)},
                     {"max_ms", all.back()}};
    std::printf("%s\n", j.dump().c_str());
    return failed.load() == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_serve: error: %s\n", e.what());
    return 1;
  }
}
