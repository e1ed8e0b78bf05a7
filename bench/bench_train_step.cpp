// Whole training steps, timed phase by phase, on a seeded synthetic graph:
// what a user waits for when training, rather than one kernel.
//
//   bench_train_step --users 200000 --communities 2000 --batch 1024 --fanouts 10,5 \
//                    --sampler-threads 2 --steps 20 --warmup 3 --objectives retrieval|ssmtl --device cpu
//
// Runs the Trainer's own loop (prefetched batches built on worker threads,
// one optimizer step each) with a StepProfile attached
// (engine/train/step_profile.h), discards `warmup` steps, and reports
// samples/s (queries per second of training-thread time), the min / median
// time of each phase per step (wait for the batch, upload, forward per
// objective, backward, optimizer; the batch's build time on its worker), one
// validation pass, peak RSS and the allocator's peak; a table and JSON lines.
// --contention starts one CPU-bound process at nice 19 on the same cores for
// the measurement (the shared-machine case). --dump DIR writes the first
// measured steps' batches and the initial weights for the PyTorch reference
// (bench/train_step_pytorch.py, bench/compare_train_step.sh).
// Under `mpirun -np R` it measures data-parallel steps (docs/distributed.md):
// --batch is then the global batch (R x batch for weak scaling), samples/s
// counts every rank's queries, the "allreduce" phase is the gradient
// exchange, and the all-reduce bytes per step are reported.
#include <CLI/CLI.hpp>
#include <omp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench_util.h"
#include "engine/data/prepare.h"
#include "engine/io/npy.h"
#include "engine/sampling/batch.h"
#include "engine/dist/communicator.h"
#include "engine/train/trainer.h"

using namespace ember;
namespace fs = std::filesystem;

namespace {

std::vector<int64_t> parse_fanouts(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream in(s);
  for (std::string t; std::getline(in, t, ',');) {
    try {
      size_t used = 0;
      const long long v = std::stoll(t, &used);
      if (used != t.size() || (v != -1 && v < 1)) throw std::invalid_argument(t);
      out.push_back(v);
    } catch (const std::exception&) {
      throw Error("--fanouts: '" + s + "' must be comma-separated integers >= 1 (or -1 = all), e.g. 10,5");
    }
  }
  EMBER_CHECK(!out.empty() && out.size() <= 4, "--fanouts: 1 to 4 hops, got '" << s << "'");
  return out;
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// One CPU-bound process at nice 19 (killed by the destructor).
struct Contention {
  pid_t pid = -1;
  Contention() {
    pid = ::fork();
    if (pid == 0) {
      if (::nice(19) == -1) {}
      volatile uint64_t x = 0;
      for (;;) x = x * 6364136223846793005ULL + 1;
    }
  }
  ~Contention() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// The dump for the PyTorch reference: config, initial weights, and per batch
// the retrieval view (edges, sparse features) and the loss inputs.
void write_i64(const std::string& p, const std::vector<int64_t>& v) {
  NpyWriter w(p, DType::I64, static_cast<int64_t>(v.size()), 1);
  w.append_rows(v.data(), static_cast<int64_t>(v.size()));
  w.commit();
}
void write_f32(const std::string& p, const std::vector<float>& v, int64_t cols = 1) {
  NpyWriter w(p, DType::F32, static_cast<int64_t>(v.size()) / cols, cols);
  w.append_rows(v.data(), static_cast<int64_t>(v.size()) / cols);
  w.commit();
}
void dump_batch(const std::string& dir, const TrainBatch& b) {
  fs::create_directories(dir);
  const GraphView& v = b.retrieval;
  write_i64(dir + "/src.npy", std::vector<int64_t>(v.src.begin(), v.src.end()));
  write_i64(dir + "/dst.npy", std::vector<int64_t>(v.dst.begin(), v.dst.end()));
  write_i64(dir + "/x_row_ptr.npy", v.features.row_ptr.to_vector());
  write_i64(dir + "/x_col.npy", std::vector<int64_t>(v.features.col.begin(), v.features.col.end()));
  write_f32(dir + "/x_val.npy", v.features.val.to_vector());
  write_i64(dir + "/candidates.npy", b.candidates);
  write_i64(dir + "/mask.npy", std::vector<int64_t>(b.mask.begin(), b.mask.end()));
  write_f32(dir + "/log_q.npy", b.log_q);
  std::ofstream(dir + "/meta.json") << nlohmann::json{{"num_nodes", v.num_nodes}, {"num_queries", b.num_queries},
                                                      {"num_features", v.features.num_cols}}
                                           .dump()
                                    << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  return run_job("bench_train_step", &argc, &argv, [&](DistJob& job) -> int {
  Communicator& comm = job.comm();
  CLI::App app{"Whole training steps, phase by phase"};
  int64_t users = 200000, communities = 2000, batch = 1024, steps = 20, warmup = 3, sampler_threads = 2;
  int64_t hidden = 64, dim = 64, negatives = 256, dump_steps = 2;
  std::string fanouts_s = "10,5", objectives = "retrieval", device_s = "cpu", dump, json_out;
  bool contention = false, validation = true;
  double ssl_fraction = 1.0;
  app.add_option("--users", users, "synthetic users")->check(CLI::Range(int64_t(100), int64_t(1) << 31));
  app.add_option("--communities", communities, "synthetic communities")->check(CLI::Range(int64_t(1), int64_t(1) << 31));
  app.add_option("--batch", batch, "query users per step")->check(CLI::Range(int64_t(2), int64_t(1) << 20));
  app.add_option("--fanouts", fanouts_s, "neighbours per hop, e.g. 10,5");
  app.add_option("--sampler-threads", sampler_threads, "batch-building worker threads")->check(CLI::Range(int64_t(1), int64_t(256)));
  app.add_option("--steps", steps, "measured steps")->check(CLI::Range(int64_t(1), int64_t(100000)));
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::Range(int64_t(0), int64_t(1000)));
  app.add_option("--hidden", hidden, "model.hidden")->check(CLI::Range(int64_t(4), int64_t(4096)));
  app.add_option("--dim", dim, "model.embedding_dim")->check(CLI::Range(int64_t(1), int64_t(4096)));
  app.add_option("--negatives", negatives, "random negatives")->check(CLI::Range(int64_t(0), int64_t(1) << 20));
  app.add_option("--objectives", objectives, "retrieval (retrieval-only) or ssmtl (retrieval + CCA + MAE)")
      ->check(CLI::IsMember({"retrieval", "ssmtl"}));
  app.add_option("--ssl-fraction", ssl_fraction, "objectives.ssl_fraction (SSMTL: share of the batch the CCA / MAE views cover)")
      ->check(CLI::Range(0.01, 1.0));
  app.add_option("--device", device_s, "cpu, cuda or emu")->check(CLI::IsMember({"cpu", "cuda", "emu"}));
  app.add_flag("--contention", contention, "one CPU-bound process at nice 19 during the measurement");
  app.add_flag("!--no-validation", validation, "skip timing one validation pass");
  app.add_option("--dump", dump, "write the first measured batches and the initial weights here (PyTorch reference)");
  app.add_option("--dump-steps", dump_steps, "batches to dump")->check(CLI::Range(int64_t(1), int64_t(100)));
  app.add_option("--json", json_out, "also write the JSON line here");
  CLI11_PARSE(app, argc, argv);
  {
    const Device device = bench::parse_device(device_s);
    if (device == Device::CUDA)
      EMBER_CHECK(Context::get().cuda_available(), "--device cuda: no GPU is usable ("
                                                       << Context::get().cuda_unavailable_reason() << ")");
    TrainConfig c;
    c.device = device_s;
    c.data.synthetic.num_users = users;
    c.data.synthetic.num_communities = static_cast<int32_t>(std::min(communities, users));
    c.model.hidden = hidden;
    c.model.embedding_dim = dim;
    c.sampler.batch_size = batch;
    c.sampler.fanouts = parse_fanouts(fanouts_s);
    c.sampler.threads = sampler_threads;
    c.objectives.random_negatives = negatives;
    if (objectives == "ssmtl") {
      c.objectives.beta = 0.01;
      c.objectives.gamma = 0.1;
      c.objectives.ssl_fraction = ssl_fraction;
    }
    c.train.epochs = 1000;
    c.train.patience = 0;
    c.train.progress = false;
    if (!dump.empty()) {  // the comparison needs a deterministic forward: no dropout
      c.model.dropout = 0.0;
      c.model.attn_dropout = 0.0;
    }
    c.validate();
    std::printf("preparing a synthetic graph of %lld users ...\n", (long long)users);
    const PreparedData d = prepare_data(c.data, c.seed, "", false);
    job.use_device(device);
    Trainer t(c, d.split.train, d.val, RunDir{""}, &comm);
    if (!dump.empty()) {
      fs::create_directories(dump);
      for (const auto& [name, v] : t.model().named_parameters())
        if (name.rfind("encoder.", 0) == 0) {
          const Tensor w = v.value().to(Device::CPU);
          write_f32(dump + "/" + name + ".npy", w.to_vector<float>(), w.dim() == 2 ? w.size(1) : w.numel());
        }
      std::ofstream(dump + "/config.json") << c.to_json_text();
      // The batches of the first measured steps, exactly as the trainer builds them.
      std::vector<int32_t> us;
      for (int64_t u = 0; u < d.split.train.num_nodes(); ++u)
        if (d.split.train.degree(u) > 0) us.push_back(static_cast<int32_t>(u));
      BatchBuilder builder(d.split.train, c, us);
      for (int64_t i = 0; i < dump_steps; ++i) {
        const TrainBatch b = builder.build(0, warmup + i);
        dump_batch(dump + "/batch" + std::to_string(i), b);
        std::ofstream(dump + "/batch" + std::to_string(i) + "/ember_loss.txt") << t.batch_loss(b) << "\n";
      }
    }
    StepProfile profile;
    t.set_profile(&profile);
    std::unique_ptr<Contention> other;
    if (contention) other = std::make_unique<Contention>();
    bench::reset_peak(device);
    const auto t0 = std::chrono::steady_clock::now();
    if (warmup > 0) t.fit(false, warmup);
    Context::get().reset_transfers();
    const TrainResult r = t.fit(false, steps);
    const Context::TransferStats moved = Context::get().transfers();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double val_s = 0;
    if (validation) {
      const auto v0 = std::chrono::steady_clock::now();
      t.validate();
      val_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - v0).count();
    }
    other.reset();
    EMBER_CHECK(r.steps == warmup + steps && static_cast<int64_t>(profile.steps.size()) == warmup + steps,
                "ran " << r.steps << " steps, expected " << warmup + steps);
    std::map<std::string, std::vector<double>> phase;
    std::vector<double> step_s;
    int64_t samples = 0;
    for (size_t i = static_cast<size_t>(warmup); i < profile.steps.size(); ++i) {
      double total = 0;
      for (const auto& [name, sec] : profile.steps[i].seconds) {
        phase[name].push_back(sec);
        if (name != "build") total += sec;
      }
      step_s.push_back(total);
      samples += profile.steps[i].samples;
    }
    double measured = 0;
    for (double x : step_s) measured += x;
    // Every rank's queries; the ranks step in lockstep (each step all-reduces).
    std::vector<double> all{double(samples)};
    comm.allreduce_sum(all);
    samples = static_cast<int64_t>(all[0]);
    int64_t grad_floats = 0;
    for (const Variable& p : t.model().dense_parameters()) grad_floats += p.value().numel();
    const double allreduce_mib = comm.distributed() ? grad_floats * 4.0 / (1 << 20) : 0.0;
    if (!comm.is_root()) return 0;
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    const double rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
    const double peak_mib = static_cast<double>(bench::peak_bytes(device)) / (1 << 20);
    std::printf("work: %lld users, %lld training edges, batch %lld, fanouts %s, %lld random negatives, hidden %lld, "
                "d %lld, objectives %s, %lld sampler threads, %lld steps after %lld warm-up%s; %s\n",
                (long long)users, (long long)d.split.train.num_edges(), (long long)batch, fanouts_s.c_str(),
                (long long)negatives, (long long)hidden, (long long)dim, objectives.c_str(), (long long)sampler_threads,
                (long long)steps, (long long)warmup, contention ? ", one nice-19 CPU hog running" : "",
                bench::device_description(device).c_str());
    if (comm.distributed())
      std::printf("data-parallel: %d ranks (%s), global batch %lld (%lld per rank), OMP threads per rank %d; "
                  "all-reduce %.2f MiB of gradients per step\n",
                  comm.size(), comm.backend().c_str(), (long long)batch, (long long)(batch / comm.size()),
                  omp_get_max_threads(), allreduce_mib);
    std::printf("%-22s %10s %10s\n", "phase (per step)", "min ms", "median ms");
    for (const auto& [name, v] : phase)
      std::printf("%-22s %10.1f %10.1f%s\n", name.c_str(), pct(v, 0.0) * 1e3, pct(v, 0.5) * 1e3,
                  name == "build" ? "   (on a worker thread, overlapped)" : "");
    std::printf("%-22s %10.1f %10.1f\n", "step (training thread)", pct(step_s, 0.0) * 1e3, pct(step_s, 0.5) * 1e3);
    std::printf("throughput: %.0f samples/s (%lld queries in %.2f s of training-thread time; %.2f s wall with warm-up)\n",
                static_cast<double>(samples) / measured, (long long)samples, measured, wall);
    if (validation) std::printf("validation pass: %.2f s\n", val_s);
    if (device != Device::CPU)
      std::printf("per step: %.1f host-to-device copies (%.2f MiB), %.1f device-to-host copies (%.0f bytes)\n",
                  static_cast<double>(moved.to_device) / steps, static_cast<double>(moved.to_device_bytes) / steps / (1 << 20),
                  static_cast<double>(moved.to_host) / steps, static_cast<double>(moved.to_host_bytes) / steps);
    std::printf("peak RSS %.0f MiB, allocator peak %.0f MiB (%s)\n", rss_mib, peak_mib, device_s.c_str());
    nlohmann::json j{{"bench", "train_step"}, {"users", users}, {"batch", batch}, {"fanouts", fanouts_s},
                     {"objectives", objectives}, {"device", device_s}, {"sampler_threads", sampler_threads},
                     {"steps", steps}, {"contention", contention}, {"samples_per_s", static_cast<double>(samples) / measured},
                     {"step_ms_min", pct(step_s, 0.0) * 1e3}, {"step_ms_median", pct(step_s, 0.5) * 1e3},
                     {"validation_s", val_s}, {"peak_rss_mib", rss_mib}, {"allocator_peak_mib", peak_mib},
                     {"d2h_copies_per_step", static_cast<double>(moved.to_host) / steps},
                     {"d2h_bytes_per_step", static_cast<double>(moved.to_host_bytes) / steps},
                     {"ranks", comm.size()}, {"allreduce_mib_per_step", allreduce_mib}};
    for (const auto& [name, v] : phase) j["phase_ms_median"][name] = pct(v, 0.5) * 1e3;
    std::printf("%s\n", j.dump().c_str());
    if (!json_out.empty()) std::ofstream(json_out, std::ios::app) << j.dump() << "\n";
    return 0;
  }
  });
}
