// Data-parallel checks, run by ctest under `mpirun -np 2` (tests/CMakeLists.txt;
// registered only when ember is built with MPI). Every rank runs every check;
// a failed check prints "FAIL <rank>: <what>" and the job exits 1 (MPI_Abort).
//   1. the collectives: all-reduce of a flat gradient buffer = the mean of
//      the ranks' buffers (after dividing by R); host sum / max; broadcast;
//      all-gather; gather;
//   2. sharded training: parameters and optimizer state identical on every
//      rank after N steps (checksums all-gathered and compared), and not the
//      same as a one-process run (the ranks really trained on their shards);
//   3. replicate mode: R ranks on identical data = one process (float tolerance);
//   4. sharded inference = whole-graph inference, bit for bit (CPU), and
//      sharded validation (block top-K lists merged on rank 0) = validate();
//   5. id embeddings: the gathered id-row gradients keep every rank's table identical;
//   6. METIS-partitioned batches (distributed.partition) train in lockstep too;
//   7. data.cache_dir: prepare_shared_caches builds the graph and split caches
//      before any rank loads, no rank rebuilds them, and every rank's
//      features and training graph are mappings of the same two files.
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/data/partition.h"
#include "engine/data/prepare.h"
#include "engine/dist/communicator.h"
#include "engine/train/shared_caches.h"
#include "engine/train/trainer.h"
#include "../train_test_configs.h"

using namespace ember;

namespace {
int failures = 0;
int my_rank = 0;
std::string device = "cpu";  // --device cuda: the NCCL path (scripts/gpu_checks.sh, one GPU per rank)
void check(bool ok, const std::string& what) {
  std::printf("%s %d: %s\n", ok ? "ok  " : "FAIL", my_rank, what.c_str());
  std::fflush(stdout);
  if (!ok) ++failures;
}

double max_abs_diff(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto x = a[i].to(Device::CPU).to_vector<float>(), y = b[i].to(Device::CPU).to_vector<float>();
    for (size_t j = 0; j < x.size(); ++j) m = std::max(m, std::fabs(double(x[j]) - y[j]));
  }
  return m;
}

std::vector<Tensor> params_of(Trainer& t) {
  std::vector<Tensor> out;
  for (const Variable& p : t.model().parameters()) out.push_back(p.value().to(Device::CPU));
  return out;
}

std::vector<uint64_t> all_checksums(Communicator& comm, uint64_t mine) {
  std::vector<char> b(sizeof mine);
  std::memcpy(b.data(), &mine, sizeof mine);
  std::vector<uint64_t> out;
  for (const auto& p : comm.allgather(b)) {
    uint64_t v = 0;
    std::memcpy(&v, p.data(), sizeof v);
    out.push_back(v);
  }
  return out;
}

void collectives(Communicator& comm) {
  const int R = comm.size(), r = comm.rank();
  const int64_t n = 1000;
  std::vector<float> mine(n);
  for (int64_t i = 0; i < n; ++i) mine[i] = float(std::sin(0.1 * i + r)) * (r + 1);
  Tensor t = Tensor::from_vector(mine, {n});
  comm.allreduce_sum(t);
  const std::vector<float> got = t.to_vector<float>();
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double mean = 0;
    for (int q = 0; q < R; ++q) mean += std::sin(0.1 * i + q) * (q + 1);
    mean /= R;
    worst = std::max(worst, std::fabs(got[i] / R - mean));
  }
  check(worst < 1e-6, "all-reduce of a flat buffer / R = the mean of the ranks' buffers (max error " +
                          std::to_string(worst) + ")");
  std::vector<double> s{double(r), double(r + 1)}, m{double(r) * 3, -double(r)};
  comm.allreduce_sum(s);
  comm.allreduce_max(m);
  check(s[0] == R * (R - 1) / 2.0 && s[1] == R * (R + 1) / 2.0, "host all-reduce (sum)");
  check(m[0] == 3.0 * (R - 1) && m[1] == 0.0, "host all-reduce (max)");
  check(broadcast_string(comm, r == 0 ? std::string("from rank 0") : std::string("x"), 0) == "from rank 0",
        "broadcast from rank 0");
  const auto all = comm.allgather(std::vector<char>(size_t(r + 1), char('a' + r)));
  bool ok = all.size() == size_t(R);
  for (int q = 0; ok && q < R; ++q) ok = all[q] == std::vector<char>(size_t(q + 1), char('a' + q));
  check(ok, "all-gather of variable-sized buffers in rank order");
  const auto g = comm.gather(std::vector<char>(size_t(2 * r + 1), char('k' + r)), 0);
  ok = r == 0 ? g.size() == size_t(R) : g.empty();
  for (int q = 0; ok && r == 0 && q < R; ++q) ok = g[q] == std::vector<char>(size_t(2 * q + 1), char('k' + q));
  check(ok, "gather to rank 0");
}

TrainConfig small_config() {
  TrainConfig c = ember_test::tiny_train_config();
  c.device = device;
  c.sampler.batch_size = 64;
  c.objectives.beta = 0.01;
  c.objectives.gamma = 0.01;
  return c;
}

void sharded_training(Communicator& comm) {
  TrainConfig c = small_config();
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  Trainer t(c, d.split.train, d.val, RunDir{""}, &comm);
  t.fit(false, /*max_steps=*/4);
  const auto sums = all_checksums(comm, t.state_checksum());
  bool same = true;
  for (uint64_t v : sums) same = same && v == sums[0];
  check(same, "sharded batches: parameters and Adam state identical on every rank after 4 steps");
  Trainer alone(c, d.split.train, d.val, RunDir{""});
  alone.fit(false, 4);
  check(max_abs_diff(params_of(t), params_of(alone)) > 1e-4,
        "sharded batches: the job's parameters differ from one process's (each rank saw its own shard)");
}

void metis_partitioned_training(Communicator& comm) {
  if (!metis_available()) {
    if (comm.is_root()) std::printf("skip: METIS partitioned training (built without METIS)\n");
    return;
  }
  TrainConfig c = small_config();
  c.data.synthetic.num_users = 1500;
  c.data.synthetic.num_communities = 15;
  c.distributed.partition = "metis";
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  Trainer t(c, d.split.train, d.val, RunDir{""}, &comm);
  const TrainResult r = t.fit(false, 4);
  const auto sums = all_checksums(comm, t.state_checksum());
  check(r.steps == 4 && sums.size() > 1 && sums[0] == sums[1],
        "METIS-partitioned batches: 4 steps, parameters and Adam state identical on every rank");
}

void replicate_equals_one_process(Communicator& comm) {
  TrainConfig c = small_config();
  c.distributed.batches = "replicate";
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  Trainer job(c, d.split.train, d.val, RunDir{""}, &comm);
  job.fit(false, 5);
  Trainer alone(c, d.split.train, d.val, RunDir{""});
  alone.fit(false, 5);
  const double diff = max_abs_diff(params_of(job), params_of(alone));
  check(diff <= 1e-5, "replicate mode: " + std::to_string(comm.size()) +
                          " ranks = one process after 5 steps (max parameter difference " + std::to_string(diff) +
                          ", tolerance 1e-5)");
}

void sharded_inference(Communicator& comm, bool ids) {
  TrainConfig c = small_config();
  c.data.synthetic.num_users = 1500;  // 3 blocks of 512 rows: every rank has a block
  c.data.synthetic.num_communities = 15;
  c.model.id_embeddings = ids;
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  Trainer t(c, d.split.train, d.val, RunDir{""}, &comm);
  t.fit(false, 3);
  const Tensor sharded = t.embed_sharded();
  const double val_sharded = t.validate_sharded();  // collective
  if (ids) {
    const auto sums = all_checksums(comm, t.state_checksum());
    check(sums.size() > 1 && sums[0] == sums[1], "id embeddings: table and row-sparse Adam state identical on every rank");
  }
  if (!comm.is_root()) return;
  const Tensor whole = t.embed_all();
  const double val_whole = t.validate();
  check(device == "cpu" ? val_sharded == val_whole : std::fabs(val_sharded - val_whole) <= 0.01,
        std::string("sharded validation") + (ids ? " (id embeddings)" : "") + ": Recall@50 " +
            std::to_string(val_sharded) + " = one process's " + std::to_string(val_whole) +
            (device == "cpu" ? " (exact)" : " (tolerance 0.01)"));
  if (device == "cpu") {
    const bool same = sharded.shape() == whole.shape() &&
                      std::memcmp(sharded.raw_data(), whole.raw_data(), whole.nbytes()) == 0;
    check(same, std::string("sharded inference") + (ids ? " (id embeddings)" : "") +
                    " = whole-graph inference, bit for bit (" + std::to_string(whole.size(0)) + " users)");
  } else {  // cuBLAS may sum a row differently in a block of other height
    const double diff = max_abs_diff({sharded}, {whole});
    check(diff <= 1e-5, std::string("sharded inference") + (ids ? " (id embeddings)" : "") +
                            " = whole-graph inference on " + device + " (max difference " + std::to_string(diff) +
                            ", tolerance 1e-5)");
  }
}
}  // namespace

// The inode of the file whose mapping holds `p` (0: anonymous memory).
uint64_t mapped_inode(const void* p) {
  std::ifstream maps("/proc/self/maps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev;
    uint64_t inode = 0;
    in >> range >> perms >> offset >> dev >> inode;
    const size_t dash = range.find('-');
    if (addr >= std::stoull(range.substr(0, dash), nullptr, 16) && addr < std::stoull(range.substr(dash + 1), nullptr, 16))
      return inode;
  }
  return 0;
}

// The inodes of the one *.egraph and the one *.esplit file in `dir` (0 when
// there is not exactly one of a kind).
std::pair<uint64_t, uint64_t> cache_inodes(const std::string& dir) {
  uint64_t g = 0, s = 0;
  int ng = 0, ns = 0;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st;
    if (::stat(f.path().c_str(), &st) != 0) continue;
    if (f.path().extension() == ".egraph") g = st.st_ino, ++ng;
    if (f.path().extension() == ".esplit") s = st.st_ino, ++ns;
  }
  return {ng == 1 ? g : 0, ns == 1 ? s : 0};
}

void shared_caches(Communicator& comm) {
  // A folder rank 0 creates on this machine (the ranks of this test share it).
  std::string dir = comm.is_root() ? (std::filesystem::temp_directory_path() /
                                      ("ember_dist_cache_" + std::to_string(::getpid()))).string()
                                   : std::string();
  dir = broadcast_string(comm, dir, 0);
  if (comm.is_root()) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::ofstream edges(dir + "/g.txt"), feats(dir + "/f.json");
    feats << "{";
    for (int u = 0; u < 300; ++u) {
      edges << u << " " << (u + 1) % 300 << "\n" << u << " " << (u * 7 + 3) % 300 << "\n";
      feats << (u ? ", " : "") << "\"" << u << "\": [" << u % 5 << ", " << 5 + u % 9 << "]";
    }
    feats << "}";
  }
  comm.barrier();
  DataConfig d;
  d.graph = dir + "/g.txt";
  d.features = dir + "/f.json";
  d.cache_dir = dir + "/cache";
  prepare_shared_caches(comm, d, 5);
  const auto before = cache_inodes(d.cache_dir);
  check(before.first != 0 && before.second != 0, "data.cache_dir: the graph and split caches exist before any rank loads");
  comm.barrier();  // every rank has looked before any rank loads
  const PreparedData p = prepare_data(d, 5, "", false);
  comm.barrier();
  const auto after = cache_inodes(d.cache_dir);
  check(after == before, "data.cache_dir: no rank rebuilt a cache while loading");
  const uint64_t mine[2] = {mapped_inode(p.full.features.col.data()), mapped_inode(p.split.train.neighbors.data())};
  check(mine[0] == before.first && mine[1] == before.second,
        "data.cache_dir: the features and the training graph are mappings of the cache files");
  std::vector<char> b(sizeof mine);
  std::memcpy(b.data(), mine, sizeof mine);
  bool same = true;
  for (const auto& q : comm.allgather(b)) same = same && std::memcmp(q.data(), mine, sizeof mine) == 0;
  check(same, "data.cache_dir: every rank maps the same two files");
  comm.barrier();
  if (comm.is_root()) std::filesystem::remove_all(dir);
}

int main(int argc, char** argv) {
  return run_job("dist_checks", &argc, &argv, [&](DistJob& job) -> int {
    Communicator& comm = job.comm();
    my_rank = comm.rank();
    if (argc == 3 && std::string(argv[1]) == "--device") device = argv[2];
    job.use_device(parse_device_name(device));
    if (comm.is_root()) std::printf("dist_checks: %d ranks, device %s, collectives over %s\n", comm.size(),
                                    device.c_str(), comm.backend().c_str());
    if (!comm.distributed()) {
      std::printf("dist_checks: needs at least 2 ranks (mpirun -np 2)\n");
      return 1;
    }
    collectives(comm);
    sharded_training(comm);
    metis_partitioned_training(comm);
    replicate_equals_one_process(comm);
    sharded_inference(comm, false);
    sharded_inference(comm, true);
    shared_caches(comm);
    std::vector<double> f{double(failures)};
    comm.allreduce_sum(f);
    if (comm.is_root()) std::printf("dist_checks: %d failure(s) over %d ranks\n", int(f[0]), comm.size());
    return f[0] == 0 ? 0 : 1;
  });
}
