// Writes the binary seed corpora of the fuzz targets (valid files written by
// ember itself, raw and as 'W'-prefixed payloads) into <out>/<target>/:
//   make_seeds <out>
// The text seeds are committed under tests/fuzz/corpus/.
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "engine/io/binary_io.h"
#include "engine/train/checkpoint.h"
#include "engine/config/config.h"
#include "engine/data/graph_cache.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/io/npy.h"
#include "engine/data/split.h"
#include "engine/data/synthetic.h"
#include "split_graph.h"

using namespace ember;
using ember_fuzz::split_graph;

namespace {

void put(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

// The file as a raw seed and its payload (after the 64-byte header) as a 'W' seed.
void container_seeds(const std::string& dir, const std::string& name, const std::string& file) {
  std::vector<uint8_t> b = read_file_bytes(file);
  put(dir + "/" + name, b);
  std::vector<uint8_t> w{'W'};
  w.insert(w.end(), b.begin() + kContainerHeaderBytes, b.end());
  put(dir + "/" + name + ".payload", w);
}

std::string mk(const std::string& out, const std::string& target) {
  std::string d = out + "/" + target;
  ::mkdir(d.c_str(), 0755);
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <out dir>\n");
    return 2;
  }
  const std::string out = argv[1];
  ::mkdir(out.c_str(), 0755);
  const std::string tmp = out + "/.tmp";
  ::mkdir(tmp.c_str(), 0755);

  SyntheticConfig sc;
  sc.num_users = 40;
  sc.num_communities = 2;
  sc.feature_dim = 16;
  sc.features_per_user = 3;
  sc.avg_degree = 4;
  Graph g = generate_synthetic(sc, false).graph;
  g.labels.assign(static_cast<size_t>(g.num_nodes()), 1);
  {
    std::string d = mk(out, "fuzz_graph_cache");
    save_graph_cache(tmp + "/g.egraph", g, 42);
    container_seeds(d, "synthetic40", tmp + "/g.egraph");
    Graph small = split_graph();  // non-identity ids, no features
    save_graph_cache(tmp + "/s.egraph", small, 7);
    container_seeds(d, "ring64", tmp + "/s.egraph");
  }
  {
    std::string d = mk(out, "fuzz_checkpoint");
    Checkpoint c;
    c.config_hash = 1234;
    c.epoch = 2;
    c.step = 20;
    c.meta_json = "{\"seed\": 1}";
    c.params.emplace_back("w", Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}));
    c.params.emplace_back("b", Tensor::from_vector(std::vector<float>{0.5f}, {1}));
    c.optimizer_state.push_back(Tensor::from_vector(std::vector<float>{0, 0, 0, 0, 0, 0}, {2, 3}));
    c.optimizer_state.push_back(Tensor::from_vector(std::vector<int64_t>{7, 8}, {2}, Device::CPU));
    c.optimizer_steps = 20;
    save_checkpoint(tmp + "/c.bin", c);
    container_seeds(d, "small", tmp + "/c.bin");
  }
  {
    std::string d = mk(out, "fuzz_hnsw_index");
    std::vector<float> emb;
    for (int i = 0; i < 24 * 4; ++i) emb.push_back(static_cast<float>((i * 37) % 11) - 5.0f);
    HnswIndex idx;
    HnswConfig hc;
    hc.M = 4;
    hc.ef_construction = 16;
    hc.build_threads = 1;
    idx.build(emb.data(), 24, 4, hc);
    idx.save(tmp + "/i.hnsw");
    HnswIndex::load(tmp + "/i.hnsw", 4).search_users({0, 23}, 5, nullptr);  // the seed itself must load
    container_seeds(d, "n24d4", tmp + "/i.hnsw");
  }
  {
    std::string d = mk(out, "fuzz_npy");
    save_npy(d + "/m3x2.npy", Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2}));
    save_npy(d + "/m0x4.npy", Tensor::zeros({0, 4}));
  }
  {
    std::string d = mk(out, "fuzz_split");
    Graph full = split_graph();
    SplitConfig cfg;
    cfg.cold_user_fraction = 0.1;
    Split s = make_split(full, cfg);
    write_split(tmp + "/split", full, s);
    std::vector<uint8_t> all;
    for (const char* f : {"train.tsv", "val.tsv", "test.tsv", "cold_users.tsv"}) {
      std::vector<uint8_t> b = read_file_bytes(tmp + "/split/" + f);
      all.insert(all.end(), b.begin(), b.end());
      all.push_back(0);
    }
    all.pop_back();
    put(d + "/split64", all);
  }
  {
    std::string d = mk(out, "fuzz_config");
    TrainConfig c;
    std::string t = c.to_json_text();
    put(d + "/defaults.json", std::vector<uint8_t>(t.begin(), t.end()));
  }
  std::printf("seeds written to %s\n", out.c_str());
  return 0;
}
