// ember_serve: an HTTP/JSON service answering "friend candidates for user u"
// online from a run's HNSW index (engine/serve/service.h has the endpoints
// and error codes; cpp-httplib, Debian libcpp-httplib-dev, does the HTTP).
//   ember_serve --run runs/ssmtl [--port 8080] [--host 127.0.0.1] [--threads 4]
//               [--max-k 1000] [--max-batch 1000] [--max-body BYTES] [--timeout S]
//               [--watch S] [--expand ... --blend ...]
//   curl 'http://127.0.0.1:8080/v1/recommend?user=42&k=10'
// Binds to 127.0.0.1 (loopback) unless --host says otherwise. --port 0 picks a
// free port (printed). SIGINT / SIGTERM stop accepting connections; requests in
// flight are answered before the process exits (status 0).
#include <CLI/CLI.hpp>
#include <httplib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "engine/io/interrupt.h"
#include "engine/serve/service.h"
#include "engine/train/run_dir.h"
#include "retrieval_cli.h"

using namespace ember;

namespace {

void answer(RecommendService& svc, const httplib::Request& req, httplib::Response& res) {
  ServiceRequest r;
  r.method = req.method;
  r.path = req.path;
  for (const auto& [k, v] : req.params) r.params.emplace(k, v);  // the first value of a repeated parameter
  r.body = req.body;
  const ServiceResponse out = svc.handle(r);
  res.status = out.status;
  res.set_content(out.body, "application/json");
}

std::pair<int64_t, int64_t> file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {-1, -1};
  return {static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Serve friend candidates from a run's HNSW index over HTTP/JSON"};
  std::string run_path, host = "127.0.0.1";
  int port = 8080, threads = 4;
  double timeout = 5.0, watch = 0.0;
  ServeLimits limits;
  ember_cli::RetrievalOptions served;
  app.add_option("--run", run_path, "run directory (config, embeddings.npy, index.hnsw)")->required()->check(CLI::ExistingDirectory);
  app.add_option("--host", host, "address to bind (default 127.0.0.1: loopback only)");
  app.add_option("--port", port, "TCP port (0 = any free port)")->check(CLI::Range(0, 65535));
  app.add_option("--threads", threads, "worker threads (bounded pool)")->check(CLI::Range(1, 256));
  app.add_option("--max-k", limits.max_k, "largest k a request may ask for")->check(CLI::Range(1, 4096));
  app.add_option("--default-k", limits.default_k, "k when a request gives none")->check(CLI::Range(1, 4096));
  app.add_option("--max-batch", limits.max_batch, "users per POST /v1/recommend")->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  app.add_option("--max-body", limits.max_body_bytes, "request body limit in bytes (larger: 413)")
      ->check(CLI::Range(size_t(64), size_t(1) << 30));
  app.add_option("--timeout", timeout, "read / write timeout per request, seconds")->check(CLI::Range(0.01, 600.0));
  app.add_option("--watch", watch, "reload when index.hnsw changes, checking every S seconds (0 = off)")
      ->check(CLI::Range(0.0, 3600.0));
  served.add_to(app);
  CLI11_PARSE(app, argc, argv);
  try {
    RunDir run{run_path};
    const RetrievalConfig rc = served.apply(run.load_config().retrieval);
    RecommendService svc(run_path, rc, limits);
    httplib::Server http;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http.set_tcp_nodelay(true);  // no Nagle delay on small JSON answers
    http.set_payload_max_length(limits.max_body_bytes);
    const time_t sec = static_cast<time_t>(timeout);
    const time_t usec = static_cast<time_t>((timeout - static_cast<double>(sec)) * 1e6);
    http.set_read_timeout(sec, usec);
    http.set_write_timeout(sec, usec);
    http.set_keep_alive_timeout(std::max<time_t>(1, sec));
    auto route = [&svc](const httplib::Request& req, httplib::Response& res) { answer(svc, req, res); };
    http.Get(".*", route);
    http.Post(".*", route);
    http.Put(".*", route);
    http.Delete(".*", route);
    http.Patch(".*", route);
    // Errors raised by the HTTP layer itself (413 body too large, 400 bad
    // request line, ...) also get a JSON reason.
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      const std::string reason = res.status == 413   ? "request body too large"
                                 : res.status == 400 ? "malformed HTTP request"
                                                     : "HTTP error " + std::to_string(res.status);
      res.set_content(error_response(res.status, reason).body, "application/json");
    });
    const int bound = port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
    EMBER_CHECK(bound > 0, "cannot listen on " << host << ":" << port << " (in use, or not an address of this machine)");
    std::printf("serving %s (%lld users, index version %llu) on http://%s:%d%s\n", run_path.c_str(),
                (long long)svc.users(), (unsigned long long)svc.version(), host.c_str(), bound,
                host == "127.0.0.1" || host == "localhost" ? " (loopback only; --host 0.0.0.0 listens on every interface)"
                                                           : "");
    std::printf("  GET /v1/recommend?user=<id>&k=<n>, POST /v1/recommend {\"users\": [...], \"k\": n}, "
                "GET /v1/health, POST /v1/reload; %d threads, k <= %d, batch <= %lld, body <= %zu bytes\n",
                threads, limits.max_k, (long long)limits.max_batch, limits.max_body_bytes);
    std::fflush(stdout);
    install_interrupt_handler();
    std::atomic<bool> done{false};
    std::thread watcher([&] {
      auto stamp = file_stamp(run.index());
      auto last_check = std::chrono::steady_clock::now();
      while (!done) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (interrupt_requested()) {
          std::printf("signal received: finishing the requests in flight, then exiting\n");
          std::fflush(stdout);
          http.stop();
          return;
        }
        if (watch <= 0 || std::chrono::duration<double>(std::chrono::steady_clock::now() - last_check).count() < watch)
          continue;
        last_check = std::chrono::steady_clock::now();
        const auto now = file_stamp(run.index());
        if (now == stamp || now.first < 0) continue;
        stamp = now;
        try {
          svc.reload();
          std::printf("reloaded %s: index version %llu\n", run.index().c_str(), (unsigned long long)svc.version());
        } catch (const std::exception& e) {
          std::fprintf(stderr, "reload of %s failed, the previous index keeps serving: %s\n", run.index().c_str(), e.what());
        }
        std::fflush(stdout);
      }
    });
    const bool ok = http.listen_after_bind();
    done = true;
    watcher.join();
    std::printf("stopped\n");
    return ok || interrupt_requested() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember_serve: error: %s\n", e.what());
    return 1;
  }
}
