// Load time of a dataset from its source files vs from the binary graph cache,
// and the same for a large synthetic graph (generation vs cache load).
//   bench_data_load --dataset ../shared/data/twitch/DE --reps 5
//   bench_data_load --synthetic-users 1000000
#include <CLI/CLI.hpp>
#include <filesystem>

#include "bench_data_util.h"
#include "engine/io/binary_io.h"
#include "engine/data/graph_cache.h"
#include "engine/data/loaders.h"
#include "engine/data/synthetic.h"

using namespace ember;
using namespace ember_bench;

int main(int argc, char** argv) {
  CLI::App app{"ember data path: load time and cache speed-up"};
  // default: <repo>/../shared/data/twitch/DE, found from this source file's path
  std::string dataset = (std::filesystem::path(__FILE__).parent_path().parent_path() / "../shared/data/twitch/DE").string();
  std::string cache_dir = (std::filesystem::temp_directory_path() / "ember_bench_cache").string();
  int reps = 5;
  int64_t synth_users = 0;
  app.add_option("--dataset", dataset, "dataset folder ('' to skip)");
  app.add_option("--cache-dir", cache_dir);
  app.add_option("--reps", reps);
  app.add_option("--synthetic-users", synth_users, "also time a synthetic graph of this size (0 = skip)");
  CLI11_PARSE(app, argc, argv);
  std::filesystem::create_directories(cache_dir);

  if (!dataset.empty()) {
    DatasetOptions src;
    src.verbose = false;
    Dataset d = load_dataset(dataset, src);
    int64_t bytes = 0;
    for (const auto& f : d.sources) bytes += std::max<int64_t>(0, file_size(f));
    std::printf("dataset %s: %s; %lld source bytes\n", d.name.c_str(), d.graph.summary().c_str(), static_cast<long long>(bytes));
    Timing ts = time_reps(reps, [&] { load_dataset(dataset, src); });
    print_timing("parse source files", ts, static_cast<double>(bytes) / 1e6, "MB/s");
    DatasetOptions cached = src;
    cached.cache_dir = cache_dir;
    std::filesystem::remove(cache_dir + "/" + d.name + ".egraph");
    load_dataset(dataset, cached);  // writes the cache
    int64_t cbytes = file_size(cache_dir + "/" + d.name + ".egraph");
    Timing tc = time_reps(reps, [&] {
      Dataset c = load_dataset(dataset, cached);
      if (!c.from_cache) std::printf("cache miss!\n");
    });
    print_timing("load from cache", tc, static_cast<double>(cbytes) / 1e6, "MB/s");
    std::printf("cache file %lld bytes; speed-up %.1fx (median)\n\n", static_cast<long long>(cbytes), ts.median_s / tc.median_s);
  }
  if (synth_users > 0) {
    SyntheticConfig sc;
    sc.num_users = synth_users;
    SyntheticGraph g;
    Timing tg = time_reps(1, [&] { g = generate_synthetic(sc); });
    print_timing("generate synthetic graph", tg, static_cast<double>(g.graph.num_edges()), "edges/s");
    std::string p = cache_dir + "/synthetic.egraph";
    Timing tw = time_reps(std::max(1, reps / 2), [&] { save_graph_cache(p, g.graph, 1); });
    int64_t cbytes = file_size(p);
    print_timing("write cache (atomic, fsync)", tw, static_cast<double>(cbytes) / 1e6, "MB/s");
    Timing tl = time_reps(reps, [&] { load_graph_cache(p); });
    print_timing("load cache (checksum + checks)", tl, static_cast<double>(cbytes) / 1e6, "MB/s");
    std::printf("cache file %lld bytes; load vs generate %.1fx\n", static_cast<long long>(cbytes), tg.median_s / tl.median_s);
    std::filesystem::remove(p);
  }
  return 0;
}
