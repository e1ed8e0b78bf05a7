#include "engine/dist/rank_memory.h"

#include <cstdio>
#include <cstring>
#include <vector>

#include "core/memory_budget.h"

namespace ember {

void print_rank_memory(Communicator& comm, const std::string& when) {
  const ProcessMemory mine = current_process_memory();
  std::vector<char> bytes(sizeof(ProcessMemory));
  std::memcpy(bytes.data(), &mine, sizeof(mine));
  const std::vector<std::vector<char>> all = comm.gather(bytes, 0);
  if (!comm.is_root()) return;
  std::string line = "memory " + when + ":";
  for (size_t r = 0; r < all.size(); ++r) {
    ProcessMemory m;
    if (all[r].size() != sizeof(m)) continue;
    std::memcpy(&m, all[r].data(), sizeof(m));
    if (!m.known) {
      line += (r ? "; " : " ") + std::string("unknown (no /proc/self/smaps_rollup)");
      continue;
    }
    line += (r ? "; " : " ") + (all.size() > 1 ? "rank " + std::to_string(r) + " " : std::string()) +
            format_bytes(m.anonymous) + " private + " + format_bytes(m.file) + " mapped files";
  }
  std::printf("%s (mapped files: the graph cache and the program, one page-cache copy per machine)\n", line.c_str());
}

}  // namespace ember
