#include "engine/train/run_dir.h"

#include <fstream>
#include <sstream>

#include "engine/io/binary_io.h"
#include "engine/io/npy.h"

namespace ember {

void write_embeddings(const RunDir& run, const Tensor& emb, const IdMap& ids) {
  EMBER_CHECK(emb.size(0) == ids.size(), "write_embeddings: " << emb.size(0) << " rows for " << ids.size() << " ids");
  save_npy(run.embeddings(), emb);
  std::ostringstream os;
  for (int64_t i = 0; i < ids.size(); ++i) os << ids.original(i) << "\n";
  const std::string s = os.str();
  write_file_atomic(run.node_ids(), s.data(), s.size());
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
