// ember_recommend: top-K friend candidates for every user (or the users listed
// in a file) in one offline job: the retrieval stage that feeds a ranker.
// Candidates come from the run's HNSW index with the run's retrieval settings
// (query expansion, blending with friends-of-friends; overridable here), the
// user and their training friends excluded, users processed in parallel in
// chunks with a progress line. Output, written atomically:
//   --out FILE.tsv       "user<TAB>rank<TAB>candidate<TAB>score", original ids, rank 1..K
//   --out PREFIX --npy   PREFIX.candidates.npy (int64 [N, K], original ids, -1 padded),
//                        PREFIX.scores.npy (float32 [N, K]), PREFIX.users.npy (int64 [N, 1])
// Then recall@K of the served lists against exact search on a sample of users.
//   ember_recommend --run runs/ssmtl --out runs/ssmtl/candidates.tsv [--k 100] [--users FILE]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/philox.h"
#include "engine/data/loaders_text.h"
#include "engine/data/prepare.h"
#include "engine/io/npy.h"
#include "engine/io/progress.h"
#include "engine/retrieval/candidates.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/train/run_dir.h"
#include "retrieval_cli.h"

using namespace ember;

namespace {

// Dense ids of the users listed in `path` (one original id per line; '#'
// comments and blank lines skipped); errors name the file and line.
std::vector<int32_t> read_users(const std::string& path, const IdMap& ids) {
  text::LineReader in(path);
  std::string_view line;
  std::vector<int32_t> out;
  while (in.next(line)) {
    if (text::is_blank_or_comment(line, '#')) continue;
    const int64_t id = text::parse_id(text::trim(line), in, "user id");
    const int64_t dense = ids.dense(id);
    if (dense < 0) in.fail("user " + std::to_string(id) + " is not a user of this graph");
    out.push_back(static_cast<int32_t>(dense));
  }
  EMBER_CHECK(!out.empty(), path << ": no user ids");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Friend candidates for every user (or a list of users) from a run's HNSW index"};
  std::string run_path, out, users_file;
  int32_t k = 100;
  int64_t chunk = 4096, check = 1000;
  bool npy = false, exact = false, progress = true;
  ember_cli::RetrievalOptions served;
  app.add_option("--run", run_path, "run directory (embeddings.npy, index.hnsw)")->required()->check(CLI::ExistingDirectory);
  app.add_option("--out", out, "output: a .tsv file, or a prefix with --npy")->required();
  app.add_flag("--npy", npy, "write PREFIX.candidates.npy / .scores.npy / .users.npy instead of TSV");
  app.add_option("--k", k, "candidates per user")->check(CLI::Range(1, 4096));
  app.add_option("--users", users_file, "only these users (a file of original ids, one per line)")->check(CLI::ExistingFile);
  app.add_option("--chunk", chunk, "users per parallel chunk")->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  app.add_option("--check", check, "users sampled to measure recall@K against exact search (0 = none)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 24));
  app.add_flag("--exact", exact, "exact search instead of the HNSW index (slow on large graphs)");
  app.add_flag("!--no-progress", progress, "no progress line");
  served.add_to(app);
  CLI11_PARSE(app, argc, argv);
  try {
    RunDir run{run_path};
    const TrainConfig cfg = run.load_config();
    const RetrievalConfig rc = served.apply(cfg.retrieval);
    const PreparedData data = prepare_data(cfg.data, cfg.seed, "", false);
    const Tensor emb = load_npy(run.embeddings());
    const int64_t n = emb.size(0), d = emb.size(1);
    EMBER_CHECK(n == data.full.num_nodes(), run.embeddings() << " has " << n << " rows, the graph has "
                                                             << data.full.num_nodes() << " users");
    HnswIndex index;
    if (!exact) {
      index = HnswIndex::load(run.index(), d);
      EMBER_CHECK(index.size() == n, run.index() << " has " << index.size() << " vectors, the graph has " << n
                                                 << " users (rebuild it with ember_index)");
    }
    const Graph& friends = data.split.train;
    const CandidateGenerator gen(emb.data<float>(), n, d, friends, friends, rc, exact ? nullptr : &index, cfg.seed);
    std::vector<int32_t> users;
    if (users_file.empty()) {
      users.resize(static_cast<size_t>(n));
      for (int64_t u = 0; u < n; ++u) users[u] = static_cast<int32_t>(u);
    } else {
      users = read_users(users_file, data.full.ids);
    }
    const int64_t N = static_cast<int64_t>(users.size());
    std::printf("recommending %d candidates for %lld users of %s from %s (expansion %s, blend %s)\n", k,
                (long long)N, data.name.c_str(), exact ? "exact search" : run.index().c_str(),
                rc.expansion.enabled() ? rc.expansion.merge.c_str() : "off", rc.blend.mode.c_str());

    std::unique_ptr<AtomicFileWriter> tsv;
    std::unique_ptr<NpyWriter> cand_npy, score_npy, user_npy;
    if (npy) {
      cand_npy = std::make_unique<NpyWriter>(out + ".candidates.npy", DType::I64, N, k);
      score_npy = std::make_unique<NpyWriter>(out + ".scores.npy", DType::F32, N, k);
      user_npy = std::make_unique<NpyWriter>(out + ".users.npy", DType::I64, N, 1);
    } else {
      tsv = std::make_unique<AtomicFileWriter>(out);
      tsv->write_text("user\trank\tcandidate\tscore\n");
    }
    Progress bar("recommend", (N + chunk - 1) / chunk, progress);
    const auto t0 = std::chrono::steady_clock::now();
    int64_t lonely = 0;
    for (int64_t c0 = 0; c0 < N; c0 += chunk) {
      const std::vector<int32_t> part(users.begin() + c0, users.begin() + std::min(N, c0 + chunk));
      const Rankings r = gen.generate(part, k);
      lonely += rc.expansion.enabled() && !rc.blend.enabled() ? gen.expansion_fallbacks() : 0;
      if (npy) {
        std::vector<int64_t> ids(part.size() * static_cast<size_t>(k)), who(part.size());
        for (size_t i = 0; i < part.size(); ++i) {
          who[i] = data.full.ids.original(part[i]);
          for (int32_t j = 0; j < k; ++j) {
            const int32_t x = r.row(i)[j];
            ids[i * k + j] = x >= 0 ? data.full.ids.original(x) : -1;
          }
        }
        cand_npy->append_rows(ids.data(), static_cast<int64_t>(part.size()));
        score_npy->append_rows(r.scores.data(), static_cast<int64_t>(part.size()));
        user_npy->append_rows(who.data(), static_cast<int64_t>(part.size()));
      } else {
        std::ostringstream os;
        char buf[64];
        for (size_t i = 0; i < part.size(); ++i) {
          const long long u = data.full.ids.original(part[i]);
          for (int32_t j = 0; j < k; ++j) {
            const int32_t x = r.row(i)[j];
            if (x < 0) break;
            std::snprintf(buf, sizeof buf, "%.6g", r.row_scores(i)[j]);
            os << u << '\t' << j + 1 << '\t' << data.full.ids.original(x) << '\t' << buf << '\n';
          }
        }
        tsv->write_text(os.str());
      }
      bar.update(c0 / chunk + 1, {}, std::min(N, c0 + chunk));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (npy) {
      cand_npy->commit();
      score_npy->commit();
      user_npy->commit();
    } else {
      tsv->commit();
    }
    char summary[160];
    std::snprintf(summary, sizeof summary, "%lld users in %.1f s (%.0f users/s)", (long long)N, secs,
                  static_cast<double>(N) / std::max(secs, 1e-9));
    bar.finish();
    std::printf("%s\n", summary);
    if (lonely > 0)
      std::printf("query expansion: %lld users without friends were searched with their own embedding\n",
                  (long long)lonely);
    std::printf("wrote %s\n", npy ? (out + ".{candidates,scores,users}.npy").c_str() : out.c_str());
    if (check > 0 && !exact) {
      // The served lists against the same rule computed by exact search, on a seeded sample.
      std::vector<int32_t> sample = users;
      Rng rng(cfg.seed, 4242);
      for (size_t i = sample.size(); i > 1; --i) std::swap(sample[i - 1], sample[rng.below(i)]);
      sample.resize(std::min<size_t>(sample.size(), static_cast<size_t>(check)));
      const CandidateGenerator exact_gen(emb.data<float>(), n, d, friends, friends, rc, nullptr, cfg.seed);
      const double recall = rankings_recall(gen.generate(sample, k), exact_gen.generate(sample, k));
      std::printf("recall@%d of the served lists against exact search on %zu sampled users: %.4f\n", k,
                  sample.size(), recall);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember_recommend: error: %s\n", e.what());
    return 1;
  }
}
