// Fault injection on the real drivers (examples/ember_train, ember_index,
// ember_embed run as subprocesses):
//  - SIGKILL at seeded random moments during training, then --resume, until
//    the run completes: the final checkpoint, embeddings and node ids are
//    byte-identical to an uninterrupted run with the same seed, and every
//    checkpoint left behind by a kill loads;
//  - a read-only output directory: a clear error, exit status 1, earlier
//    files untouched;
//  - a full disk (a tiny tmpfs when mounting is allowed, ENOSPC) and a file
//    size limit (RLIMIT_FSIZE, EFBIG): a clear error, earlier files
//    untouched, no temporary files left behind.
// The driver paths come from tests/CMakeLists.txt (EMBER_TRAIN_BIN, ...).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/data/prepare.h"
#include "engine/io/binary_io.h"
#include "engine/train/checkpoint.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/train/trainer.h"
#include "test_data_util.h"
#include "train_test_configs.h"

namespace fs = std::filesystem;
using namespace ember;

#if defined(EMBER_TRAIN_BIN) && defined(EMBER_INDEX_BIN) && defined(EMBER_EMBED_BIN)

namespace {

struct ChildOptions {
  int kill_after_ms = -1;          // SIGKILL after this many milliseconds (-1: never)
  int64_t file_size_limit = -1;    // RLIMIT_FSIZE in bytes (-1: unchanged); SIGXFSZ is ignored
  bool drop_privileges = false;    // run as nobody (65534) so that directory permissions apply to root too
  std::vector<std::string> env;    // extra NAME=value entries
  int timeout_s = 300;
  // SIGKILL kill_delay_ms after the file kill_after_writes_of has been
  // (re)written kill_after_writes times by this child (atomic writes replace
  // the file: a new inode each time). -1: never.
  std::string kill_after_writes_of;
  int kill_after_writes = -1;
  int kill_delay_ms = 0;
};

struct ChildResult {
  bool exited = false, killed = false;
  int status = -1;  // exit status when exited
  int signal = 0;
  double seconds = 0;
  std::string output;  // stdout + stderr
};

ChildResult run_child(const std::vector<std::string>& args, const ChildOptions& o, const std::string& log_path) {
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    if (o.file_size_limit >= 0) {
      ::signal(SIGXFSZ, SIG_IGN);  // writes past the limit fail with EFBIG instead of killing
      rlimit r{static_cast<rlim_t>(o.file_size_limit), static_cast<rlim_t>(o.file_size_limit)};
      ::setrlimit(RLIMIT_FSIZE, &r);
    }
    if (o.drop_privileges) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(121);
    }
    for (const std::string& e : o.env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ChildResult r;
  int st = 0;
  bool sent_kill = false;
  auto inode_of = [](const std::string& f) -> ino_t {
    struct stat sb {};
    return ::stat(f.c_str(), &sb) == 0 ? sb.st_ino : 0;
  };
  const bool by_writes = o.kill_after_writes > 0 && !o.kill_after_writes_of.empty();
  ino_t last_inode = by_writes ? inode_of(o.kill_after_writes_of) : 0;
  int writes = 0;
  double kill_at_ms = o.kill_after_ms;
  for (;;) {
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (by_writes && writes < o.kill_after_writes) {
      const ino_t ino = inode_of(o.kill_after_writes_of);
      if (ino != 0 && ino != last_inode) {
        last_inode = ino;
        if (++writes == o.kill_after_writes) kill_at_ms = ms + o.kill_delay_ms;
      }
    }
    if (!sent_kill && kill_at_ms >= 0 && ms >= kill_at_ms) {
      ::kill(pid, SIGKILL);
      sent_kill = true;
    }
    if (ms > o.timeout_s * 1000.0 && !sent_kill) {
      ::kill(pid, SIGKILL);
      sent_kill = true;
      FAIL_CHECK("subprocess " << args[0] << " ran past " << o.timeout_s << " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.exited = WIFEXITED(st);
  r.status = r.exited ? WEXITSTATUS(st) : -1;
  r.killed = WIFSIGNALED(st);
  r.signal = r.killed ? WTERMSIG(st) : 0;
  r.output = file_exists(log_path) ? read_file_text(log_path) : "";
  return r;
}

// A config small enough for ~1-2 s of training in a Release build: 3 epochs,
// a checkpoint every 2 steps (so kills land between in-epoch checkpoints too).
const char* kConfig = R"({"seed": 5,
 "data": {"synthetic": {"num_users": 300, "num_communities": 6, "feature_dim": 120, "features_per_user": 6}},
 "model": {"hidden": 16, "embedding_dim": 16, "heads": 2},
 "sampler": {"batch_size": 32, "fanouts": [5, 3]},
 "objectives": {"beta": 0.01, "gamma": 0.01, "random_negatives": 32,
                "cca": {"head_hidden": 16, "head_out": 16}},
 "optim": {"warmup_steps": 3},
 "train": {"epochs": 3, "patience": 0, "val_queries": 100, "checkpoint_every": 2, "progress": false}})";

std::vector<std::string> train_args(const std::string& cfg, const std::string& out, bool resume) {
  std::vector<std::string> a{EMBER_TRAIN_BIN, "--out", out};
  if (resume) a.push_back("--resume");
  else { a.push_back("--config"); a.push_back(cfg); }
  return a;
}

// Every regular file under dir: relative path -> bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = read_file_text(e.path().string());
  return out;
}

std::vector<std::string> temp_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().string());
  return out;
}

std::string file_or_empty(const std::string& p) { return file_exists(p) ? read_file_text(p) : std::string(); }

void chmod_tree(const std::string& dir, bool writable) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    ::chmod(e.path().c_str(), e.is_directory() ? (writable ? 0755 : 0555) : (writable ? 0644 : 0444));
  ::chmod(dir.c_str(), writable ? 0755 : 0555);
}

}  // namespace

TEST_CASE("faults: SIGKILL at random points during training, then --resume, equals the uninterrupted run",
          "[reliability][faults]") {
  ember_test::TempDir dir("kill");
  const std::string cfg = dir.file("cfg.json", kConfig);
  const std::string ref = dir / "ref", run = dir / "run", log = dir / "log.txt";
  ChildResult base = run_child(train_args(cfg, ref, false), {}, log);
  INFO(base.output);
  REQUIRE(base.exited);
  REQUIRE(base.status == 0);
  const double T = base.seconds;
  // "trained N steps in X s": the training part of T (the rest is start-up:
  // process, graph, split, memory check).
  int total_steps = 0;
  double train_s = 0.0;
  {
    const size_t p = base.output.find("trained ");
    REQUIRE(p != std::string::npos);
    REQUIRE(std::sscanf(base.output.c_str() + p, "trained %d steps in %lf s", &total_steps, &train_s) == 2);
    REQUIRE(total_steps > 0);
  }

  // Kills are placed by progress, not by wall time (a loaded machine would
  // otherwise let a resumed run finish before its kill): each killed run is
  // let through 1-3 checkpoint writes (one every 2 steps), then killed after
  // a random delay of up to two steps' time, so kills land anywhere in a step,
  // in a checkpoint write or between them.
  const double step_ms = 1000.0 * train_s / total_steps;
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> writes_before_kill(1, 3);
  std::uniform_real_distribution<double> delay(0.0, 2.0);
  int kills = 0, attempts = 0, resumed = 0, checkpoints_seen = 0;
  std::vector<std::string> history;
  for (;;) {
    REQUIRE(attempts < 12);
    const bool resume = file_exists(run + "/checkpoint.bin");
    ChildOptions o;
    if (kills < 5) {
      o.kill_after_writes_of = run + "/checkpoint.bin";
      o.kill_after_writes = writes_before_kill(rng);
      o.kill_delay_ms = static_cast<int>(delay(rng) * step_ms);
    }
    ChildResult r = run_child(train_args(cfg, run, resume), o, log);
    ++attempts;
    resumed += resume ? 1 : 0;
    char line[160];
    std::snprintf(line, sizeof line, "attempt %d: %s, kill %d ms after checkpoint write %d -> %s", attempts,
                  resume ? "--resume" : "fresh", o.kill_delay_ms, o.kill_after_writes, r.killed ? "killed" : (r.exited ? ("exit " + std::to_string(r.status)).c_str() : "?"));
    history.push_back(line);
    if (r.killed) {
      ++kills;
      // Whatever the kill interrupted, the checkpoint on disk is complete.
      if (file_exists(run + "/checkpoint.bin")) {
        ++checkpoints_seen;
        INFO("after " << line);
        REQUIRE_NOTHROW(load_checkpoint(run + "/checkpoint.bin"));
      }
      continue;
    }
    INFO(line << "\n" << r.output);
    REQUIRE(r.exited);
    REQUIRE(r.status == 0);
    break;
  }
  std::string hist;
  for (const auto& h : history) hist += h + "\n";
  INFO("uninterrupted run " << T << " s\n" << hist);
  WARN("kill/resume: " << kills << " kills, " << resumed << " resumes, " << checkpoints_seen
                       << " checkpoints checked after a kill (reference " << T << " s, " << total_steps
                       << " steps)\n" << hist);
  CHECK(kills >= 3);
  CHECK(resumed >= 2);
  for (const char* f : {"checkpoint.bin", "embeddings.npy", "node_ids.txt", "split/train.tsv", "split/test.tsv"}) {
    INFO(f);
    CHECK(file_exists(run + "/" + f));
    const bool identical = file_or_empty(run + "/" + f) == file_or_empty(ref + "/" + f);
    CHECK(identical);
  }
  // A SIGKILL during an atomic write leaves its temporary file (never the
  // target) behind; the next run removes those of dead processes.
  const auto litter = temp_files(run);
  INFO("left: " << (litter.empty() ? std::string("-") : litter.front()));
  CHECK(litter.empty());
}

TEST_CASE("faults: read-only output directory gives a clear error and leaves the files intact",
          "[reliability][faults]") {
  ember_test::TempDir dir("readonly");
  const std::string cfg = dir.file("cfg.json", kConfig);
  const std::string run = dir / "run", log = dir / "log.txt";
  ChildResult base = run_child(train_args(cfg, run, false), {}, log);
  INFO(base.output);
  REQUIRE(base.status == 0);
  REQUIRE(run_child({EMBER_INDEX_BIN, "--run", run}, {}, log).status == 0);
  const auto before = snapshot(run);
  chmod_tree(run, false);
  ChildOptions o;
  o.drop_privileges = ::geteuid() == 0;  // root ignores permission bits
  // The log is written by the (possibly unprivileged) child: make it writable.
  {
    std::ofstream(log).flush();
    ::chmod(log.c_str(), 0666);
    ::chmod(dir.path.c_str(), 0777);
  }
  struct Case {
    const char* name;
    std::vector<std::string> args;
  };
  const std::vector<Case> cases = {
      {"train (fresh)", train_args(cfg, run, false)},
      {"train --resume", train_args(cfg, run, true)},
      {"embed", {EMBER_EMBED_BIN, "--run", run}},
      {"index", {EMBER_INDEX_BIN, "--run", run}},
  };
  for (const Case& c : cases) {
    ChildResult r = run_child(c.args, o, log);
    INFO(c.name << ":\n" << r.output);
    if (r.status == 121) {
      WARN("cannot drop privileges to test a read-only directory as root; skipped");
      break;
    }
    CHECK(r.exited);
    CHECK(r.status == 1);
    CHECK(r.output.find("error:") != std::string::npos);
    CHECK(r.output.find("Permission denied") != std::string::npos);
    const bool intact = snapshot(run) == before;
    CHECK(intact);
  }
  chmod_tree(run, true);
  ::chmod(dir.path.c_str(), 0755);
}

TEST_CASE("faults: a full disk or a file size limit gives a clear error and leaves earlier files intact",
          "[reliability][faults]") {
  ember_test::TempDir dir("fulldisk");
  const std::string cfg = dir.file("cfg.json", kConfig);
  const std::string run = dir / "run", log = dir / "log.txt";
  REQUIRE(run_child(train_args(cfg, run, false), {}, log).status == 0);
  REQUIRE(run_child({EMBER_INDEX_BIN, "--run", run}, {}, log).status == 0);
  const auto before = snapshot(run);

  SECTION("RLIMIT_FSIZE (EFBIG)") {
    ChildOptions o;
    o.file_size_limit = 4096;  // smaller than the checkpoint and the split's train.tsv
    for (const auto& args : {train_args(cfg, run, true), std::vector<std::string>{EMBER_EMBED_BIN, "--run", run},
                             std::vector<std::string>{EMBER_INDEX_BIN, "--run", run}}) {
      ChildResult r = run_child(args, o, log);
      INFO(args[0] << ":\n" << r.output);
      CHECK(r.status == 1);
      CHECK((r.output.find("File too large") != std::string::npos ||
             r.output.find("file size limit") != std::string::npos));
      const bool intact = snapshot(run) == before;
      CHECK(intact);
      CHECK(temp_files(run).empty());
    }
    // A fresh run into a new directory stops at the first file over the limit.
    ChildResult r = run_child(train_args(cfg, dir / "fresh", false), o, log);
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("File too large") != std::string::npos);
    CHECK(temp_files(dir / "fresh").empty());
  }

  SECTION("tmpfs without space (ENOSPC)") {
    const std::string mnt = dir / "tmpfs";
    fs::create_directories(mnt);
    if (::geteuid() != 0 || ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=4m") != 0) {
      WARN("cannot mount a tmpfs here (" << std::strerror(errno) << "); ENOSPC not tested");
      return;
    }
    struct Unmount {
      std::string p;
      ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
    } unmount{mnt};
    const std::string full = mnt + "/run";
    fs::copy(run, full, fs::copy_options::recursive);
    // Fill the file system, leaving a few KiB.
    {
      std::ofstream fill(mnt + "/filler", std::ios::binary);
      std::string block(4096, 'x');
      while (fill.write(block.data(), static_cast<std::streamsize>(block.size())) && fill.flush()) {
      }
    }
    std::error_code ec;
    fs::resize_file(mnt + "/filler", fs::file_size(mnt + "/filler") - 8192, ec);
    const auto full_before = snapshot(full);
    for (const auto& args : {train_args(cfg, full, true), std::vector<std::string>{EMBER_EMBED_BIN, "--run", full},
                             std::vector<std::string>{EMBER_INDEX_BIN, "--run", full}}) {
      ChildResult r = run_child(args, {}, log);
      INFO(args[0] << ":\n" << r.output);
      CHECK(r.status == 1);
      CHECK((r.output.find("No space left on device") != std::string::npos ||
             r.output.find("no space left") != std::string::npos));
      const bool intact = snapshot(full) == full_before;
      CHECK(intact);
      CHECK(temp_files(full).empty());
    }
    // HNSW: hnswlib writes its index to a scratch file in TMPDIR first. With
    // TMPDIR full and the run directory fine, the save must still fail
    // cleanly instead of storing a truncated index under a valid checksum.
    ChildOptions o;
    o.env = {"TMPDIR=" + mnt};
    ChildResult r = run_child({EMBER_INDEX_BIN, "--run", run}, o, log);
    INFO("ember_index with a full TMPDIR:\n" << r.output);
    if (r.status == 0) {
      CHECK_NOTHROW(HnswIndex::load(run + "/index.hnsw"));
    } else {
      CHECK(r.status == 1);
      CHECK(r.output.find("error:") != std::string::npos);
      const bool intact = file_or_empty(run + "/index.hnsw") == before.at("index.hnsw");
      CHECK(intact);
    }
  }
}

TEST_CASE("faults: ember_train refuses a job over the memory limit before writing anything",
          "[reliability][faults][memory]") {
  ember_test::TempDir dir("memlimit");
  const std::string cfg = dir.file("cfg.json", kConfig);
  ChildOptions o;
  o.env = {"EMBER_MEMORY_LIMIT=64k"};
  ChildResult r = run_child(train_args(cfg, dir / "run", false), o, dir / "log.txt");
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(r.output.find("ember_train: error: loading the graph 'synthetic': needs about") != std::string::npos);
  CHECK(r.output.find("only 64 KiB of host memory is available") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "run"));
}

#else

TEST_CASE("faults: driver subprocess tests", "[reliability][faults]") {
  WARN("examples not built (EMBER_BUILD_EXAMPLES=OFF): driver fault-injection tests skipped");
}

#endif

// Regression (docs/reliability.md, finding 12): after an early stop, the final
// checkpoint records epoch e + 1 < train.epochs; `--resume` (after a kill
// between the early stop and the final save, or on a finished run) used to
// train further epochs, so the result differed from the uninterrupted run.
TEST_CASE("faults: --resume of an early-stopped run does not train further", "[reliability][faults]") {
  TrainConfig c = ember_test::tiny_train_config();
  c.sampler.batch_size = 64;
  c.train.epochs = 12;
  c.train.patience = 1;
  c.optim.lr = 0.05;  // noisy: stops early
  PreparedData d = prepare_data(c.data, c.seed, "", false);
  ember_test::TempDir dir("earlystop");
  TrainResult first;
  {
    Trainer t(c, d.split.train, d.val, RunDir{dir.path});
    first = t.fit();
  }
  REQUIRE(first.stopped_early);  // patience 1 over 12 epochs at lr 0.05
  const std::string before = read_file_text(dir / "checkpoint.bin");
  Trainer t(c, d.split.train, d.val, RunDir{dir.path});
  TrainResult again = t.fit(true);
  INFO("first run: " << first.steps << " steps, stopped early at epoch " << first.epochs_run << "; resume ran to step "
                     << again.steps);
  CHECK(again.steps == first.steps);
  const bool unchanged = read_file_text(dir / "checkpoint.bin") == before;
  CHECK(unchanged);
}
