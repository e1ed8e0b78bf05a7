#include "engine/train/run_dir.h"

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "engine/io/binary_io.h"
#include "engine/io/npy.h"

namespace ember {

namespace {
void write_node_ids(const RunDir& run, const IdMap& ids) {
  std::ostringstream os;
  for (int64_t i = 0; i < ids.size(); ++i) os << ids.original(i) << "\n";
  const std::string s = os.str();
  write_file_atomic(run.node_ids(), s.data(), s.size());
}
}  // namespace

void write_embeddings(const RunDir& run, const Tensor& emb, const IdMap& ids) {
  EMBER_CHECK(emb.size(0) == ids.size(), "write_embeddings: " << emb.size(0) << " rows for " << ids.size() << " ids");
  save_npy(run.embeddings(), emb);
  write_node_ids(run, ids);
}

void write_embeddings_sharded(const RunDir& run, Communicator& comm, const Tensor& my_block, const IdMap& ids) {
  if (!comm.distributed()) return write_embeddings(run, my_block, ids);
  const Tensor mine = my_block.to(Device::CPU);
  std::vector<int64_t> shape{mine.size(0), mine.size(1)};  // every rank's rows and width, for rank 0's checks
  std::vector<char> sb(sizeof(int64_t) * 2);
  std::memcpy(sb.data(), shape.data(), sb.size());
  const std::vector<std::vector<char>> shapes = comm.gather(sb, 0);
  std::unique_ptr<NpyWriter> out;
  int64_t cols = shape[1];
  if (comm.is_root()) {
    int64_t rows = 0;
    for (const auto& p : shapes) {
      int64_t rc[2];
      std::memcpy(rc, p.data(), sizeof rc);
      EMBER_CHECK(rc[1] == cols, "write_embeddings: a rank's block has " << rc[1] << " columns, rank 0's " << cols);
      rows += rc[0];
    }
    EMBER_CHECK(rows == ids.size(), "write_embeddings: " << rows << " rows for " << ids.size() << " ids");
    out = std::make_unique<NpyWriter>(run.embeddings(), DType::F32, rows, cols);
    if (mine.size(0) > 0) out->append_rows(mine.data<float>(), mine.size(0));
  }
  // One rank's block per round (the others send nothing): rank 0 holds one at a time.
  for (int q = 1; q < comm.size(); ++q) {
    std::vector<char> bytes;
    if (comm.rank() == q && mine.nbytes() > 0) bytes.assign(static_cast<const char*>(mine.raw_data()),
                                                           static_cast<const char*>(mine.raw_data()) + mine.nbytes());
    const std::vector<std::vector<char>> parts = comm.gather(bytes, 0);
    if (!comm.is_root()) continue;
    int64_t rc[2];
    std::memcpy(rc, shapes[static_cast<size_t>(q)].data(), sizeof rc);
    EMBER_CHECK(parts[static_cast<size_t>(q)].size() == static_cast<size_t>(rc[0] * rc[1]) * sizeof(float),
                "write_embeddings: rank " << q << " sent " << parts[static_cast<size_t>(q)].size() << " bytes for "
                                          << rc[0] << " rows");
    if (rc[0] > 0) out->append_rows(parts[static_cast<size_t>(q)].data(), rc[0]);
  }
  if (!comm.is_root()) return;
  out->commit();
  write_node_ids(run, ids);
}

std::vector<int64_t> read_node_ids(const std::string& path) {
  std::istringstream in(read_file_text(path));
  std::vector<int64_t> ids;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    size_t pos = 0;
    long long v = 0;
    try {
      v = std::stoll(line, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    EMBER_CHECK(pos == line.size() && pos > 0, path << ":" << lineno << ": expected an integer id, got '" << line << "'");
    ids.push_back(v);
  }
  EMBER_CHECK(!ids.empty(), path << ": no ids");
  return ids;
}

}  // namespace ember
