// Memory estimates and the check that refuses a job before it starts when the
// machine cannot hold it (instead of being killed by the OOM killer or a
// cudaMalloc failure hours later).
//
//   estimate_graph_load(cfg.data)       host bytes to read / generate the graph,
//                                       from the synthetic parameters, a graph
//                                       cache header or the source file sizes
//   estimate_training(cfg, train graph) host (and device, when training on a
//                                       GPU) bytes of training: graphs, features,
//                                       model, gradients, optimizer state, best
//                                       copy, prefetched batches, one step's
//                                       activations, full-graph inference
//   check_memory(estimate, ...)         throws ember::Error naming the estimate,
//                                       its largest parts and what is available
//
// Available memory: host = min(MemAvailable from /proc/meminfo, the cgroup v2
// limit minus usage, $EMBER_MEMORY_LIMIT); device = free bytes of the current
// GPU (cudaMemGetInfo), or $EMBER_DEVICE_MEMORY_LIMIT. 0 means "unknown" and
// is never refused. EMBER_MEMORY_CHECK=0 turns the checks into warnings.
//
// The estimates are models, not measurements: they aim to be within a factor
// of ~2 of the real peak (tested against real graphs), so that only jobs that
// clearly cannot fit are refused.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config.h"

namespace ember {

struct Graph;

struct MemoryEstimate {
  struct Part {
    std::string name;
    uint64_t host = 0, device = 0;
  };
  std::vector<Part> parts;

  void add(const std::string& name, uint64_t host, uint64_t device = 0);
  uint64_t host_bytes() const;
  uint64_t device_bytes() const;
  // "1.23 GiB host (graph 600 MiB, features 400 MiB, ...)" and the device part when non-zero.
  std::string describe() const;
};

// What the engine holds for a graph.
struct GraphSize {
  int64_t nodes = 0;
  int64_t edges = 0;         // undirected
  int64_t feature_nnz = 0;
  int64_t feature_cols = 0;  // 0: no features (training adds structural ones)
  bool labels = false;
  bool identity_ids = true;
};
GraphSize graph_size(const Graph& g);
// Bytes of a Graph of that size (CSR, id map, features, labels).
uint64_t graph_bytes(const GraphSize& s);

// Host bytes to load or generate the graph named by `data` (peak, including
// the file text and the builder's temporaries). Reads at most 64 KiB of each
// source file to measure its bytes per line; a file that does not exist gives
// an estimate of 0 for that file (the loader reports it).
MemoryEstimate estimate_graph_load(const DataConfig& data, uint64_t seed = 1);
// Expected size of the graph `data` describes (from the same model).
GraphSize expected_graph_size(const DataConfig& data);

// Training on the training graph `train` (features as they will be trained
// on: a graph without features gets the structural fallback of nodes + 16
// columns, 2 per row). Device bytes are filled when cfg.device is "cuda";
// for "emu" (device memory is host memory) they count as host bytes.
MemoryEstimate estimate_training(const TrainConfig& cfg, const GraphSize& train);

// Available memory as described above; *source (optional) says where the
// number came from. 0 = unknown.
uint64_t available_host_memory(std::string* source = nullptr);
uint64_t available_device_memory(std::string* source = nullptr);

// Throws ember::Error "<what>: needs about X of host memory (...), only Y
// available (...)" when the estimate exceeds what is available (0 = unknown,
// never refused). The second form reads the available memory itself and
// checks the device only when est.device_bytes() > 0.
void check_memory(const MemoryEstimate& est, uint64_t host_available, uint64_t device_available,
                  const std::string& what);
void check_memory(const MemoryEstimate& est, const std::string& what);

// "1.5 GiB", "300 MiB", "12 KiB", "17 B".
std::string format_bytes(uint64_t bytes);

}  // namespace ember
