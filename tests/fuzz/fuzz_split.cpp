// Split files (train/val/test/cold_users.tsv) read against a fixed 64-user
// graph (split_graph.h, the same graph the seeds were written for). The input
// is cut at NUL bytes into the four files (a missing part = an absent file).
#include <sys/stat.h>

#include "engine/data/split.h"
#include "fuzz_common.h"
#include "split_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ember::Graph full = ember_fuzz::split_graph();
  const std::string dir = ember_fuzz::scratch_dir() + "/split";
  ::mkdir(dir.c_str(), 0755);
  const char* names[4] = {"train.tsv", "val.tsv", "test.tsv", "cold_users.tsv"};
  size_t b = 0;
  for (int i = 0; i < 4; ++i) {
    const std::string p = dir + "/" + names[i];
    if (b > size) {
      ::unlink(p.c_str());
      continue;
    }
    size_t e = b;
    while (e < size && data[e] != 0) ++e;
    ember_fuzz::write_input(std::string("split/") + names[i], data + b, e - b);
    b = e + 1;
  }
  ember_fuzz::accept_error([&] {
    ember::Split s = ember::read_split(dir, full);
    s.train.validate();
    ember::make_heldout(full.num_nodes(), s.test);
  });
  return 0;
}
