// ember_embed: recompute the embeddings of every user from a run's checkpoint.
//   ember_embed --run runs/ssmtl [--device cpu|cuda|emu]
// Reads config.json + checkpoint.bin, writes embeddings.npy + node_ids.txt.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "engine/data/prepare.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"

using namespace ember;

int main(int argc, char** argv) {
  CLI::App app{"Compute user embeddings from a trained checkpoint"};
  std::string run_path, device;
  app.add_option("--run", run_path, "run directory (from ember_train)")->required()->check(CLI::ExistingDirectory);
  app.add_option("--device", device, "cpu, cuda or emu")->check(CLI::IsMember({"cpu", "cuda", "emu"}));
  CLI11_PARSE(app, argc, argv);
  try {
    RunDir run{run_path};
    TrainConfig cfg = run.load_config();
    if (!device.empty()) cfg.device = device;
    PreparedData data = prepare_data(cfg.data, cfg.seed, "", false);
    Trainer trainer(cfg, data.split.train, data.val, RunDir{""});
    trainer.load_parameters(run.checkpoint());
    Tensor emb = trainer.embed_all();
    write_embeddings(run, emb, data.full.ids);
    std::printf("embedded %lld users (d = %lld) -> %s\n", (long long)emb.size(0), (long long)emb.size(1),
                run.embeddings().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember_embed: error: %s\n", e.what());
    return 1;
  }
}
