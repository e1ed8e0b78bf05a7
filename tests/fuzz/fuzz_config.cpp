// Training config JSON (also what `ember_train --resume` reads back from a run).
#include "engine/config/config.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ember_fuzz::write_input("config.json", data, size);
  ember_fuzz::accept_error([&] {
    ember::TrainConfig c = ember::TrainConfig::from_file(path);
    // A config that parses must print and re-parse to the same thing.
    std::string text = c.to_json_text();
    ember::TrainConfig again = ember::TrainConfig::from_json_text(text);
    if (again.to_json_text() != text) __builtin_trap();
  });
  return 0;
}
