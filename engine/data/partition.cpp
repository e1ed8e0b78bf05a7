#include "engine/data/partition.h"

#include <algorithm>

#include "core/error.h"
#include "engine/io/binary_io.h"

#if EMBER_WITH_METIS
#include <metis.h>
#endif

namespace ember {

namespace {
constexpr const char* kMagic = "EMBRPART";
constexpr uint32_t kVersion = 1;

uint64_t graph_key(const Graph& g, int parts, uint64_t seed) {
  uint64_t h = checksum64(g.offsets.data(), g.offsets.size() * sizeof(g.offsets[0]), static_cast<uint64_t>(parts));
  h = checksum64(g.neighbors.data(), g.neighbors.size() * sizeof(g.neighbors[0]), h);
  return checksum64(&seed, sizeof seed, h);
}
}  // namespace

bool metis_available() {
#if EMBER_WITH_METIS
  return true;
#else
  return false;
#endif
}

std::vector<int32_t> partition_graph(const Graph& g, int parts, uint64_t seed) {
  const int64_t n = g.num_nodes();
  EMBER_CHECK(parts >= 1 && parts <= n, "partition: " << parts << " parts for " << n << " nodes");
  std::vector<int32_t> part(static_cast<size_t>(n), 0);
  if (parts == 1) return part;
#if EMBER_WITH_METIS
  static_assert(sizeof(idx_t) == 4 || sizeof(idx_t) == 8, "METIS idx_t");
  EMBER_CHECK(n < (int64_t(1) << 31) && g.neighbors.size() < (size_t(1) << 31),
              "partition: METIS (32-bit idx_t) takes at most 2^31 nodes and edge entries");
  // METIS wants a symmetric adjacency without self-loops.
  std::vector<idx_t> xadj(static_cast<size_t>(n) + 1, 0), adj;
  adj.reserve(g.neighbors.size());
  for (int64_t u = 0; u < n; ++u) {
    for (int32_t v : g.neighbors_of(u))
      if (v != u) adj.push_back(static_cast<idx_t>(v));
    xadj[u + 1] = static_cast<idx_t>(adj.size());
  }
  idx_t nv = static_cast<idx_t>(n), ncon = 1, np = parts, cut = 0;
  idx_t options[METIS_NOPTIONS];
  METIS_SetDefaultOptions(options);
  options[METIS_OPTION_SEED] = static_cast<idx_t>(seed & 0x7fffffff);
  options[METIS_OPTION_NUMBERING] = 0;
  std::vector<idx_t> out(static_cast<size_t>(n), 0);
  const int rc = METIS_PartGraphKway(&nv, &ncon, xadj.data(), adj.data(), nullptr, nullptr, nullptr, &np, nullptr,
                                     nullptr, options, &cut, out.data());
  EMBER_CHECK(rc == METIS_OK, "partition: METIS_PartGraphKway failed (code " << rc << ") for " << n << " nodes, "
                                                                             << parts << " parts");
  for (int64_t u = 0; u < n; ++u) part[u] = static_cast<int32_t>(out[u]);
  return part;
#else
  (void)seed;
  EMBER_CHECK(false, "distributed.partition metis: ember was built without METIS (install libmetis-dev, "
                     "scripts/setup.sh, and rebuild; EMBER_METIS=AUTO finds it)");
#endif
}

std::vector<int32_t> load_or_compute_partition(const std::string& path, const Graph& g, int parts, uint64_t seed,
                                               std::string* note) {
  const uint64_t key = graph_key(g, parts, seed);
  if (!path.empty() && file_exists(path)) {
    try {
      ContainerFileReader r(path, kMagic, kVersion, kVersion);
      const uint64_t k = r.get<uint64_t>("graph key");
      const int32_t p = r.get<int32_t>("parts");
      std::vector<int32_t> part = r.get_vector<int32_t>("part of each node");
      r.finish();
      bool ok = k == key && p == parts && static_cast<int64_t>(part.size()) == g.num_nodes();
      for (size_t i = 0; ok && i < part.size(); ++i) ok = part[i] >= 0 && part[i] < parts;
      if (ok) {
        if (note) *note = "partition loaded from " + path;
        return part;
      }
      if (note) *note = path + " was made for another graph or part count: recomputed";
    } catch (const std::exception& e) {
      if (note) *note = std::string("partition file not used (") + e.what() + "): recomputed";
    }
  } else if (note) {
    *note = "partition computed";
  }
  std::vector<int32_t> part = partition_graph(g, parts, seed);
  if (!path.empty()) {
    ContainerFileWriter w(path, kMagic, kVersion);
    w.put<uint64_t>(key);
    w.put<int32_t>(parts);
    w.put_vector(part);
    w.commit();
    if (note) *note += " and saved to " + path;
  }
  return part;
}

int64_t edge_cut(const Graph& g, const std::vector<int32_t>& part) {
  int64_t cut = 0;
  for (int64_t u = 0; u < g.num_nodes(); ++u)
    for (int32_t v : g.neighbors_of(u))
      if (u < v && part[u] != part[v]) ++cut;
  return cut;
}

std::vector<int64_t> part_sizes(const std::vector<int32_t>& part, int parts) {
  std::vector<int64_t> s(static_cast<size_t>(parts), 0);
  for (int32_t p : part) ++s[static_cast<size_t>(p)];
  return s;
}

}  // namespace ember
