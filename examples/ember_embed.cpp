// ember_embed: recompute the embeddings of every user from a run's checkpoint.
//   ember_embed --run runs/ssmtl [--device cpu|cuda|emu]
// Reads config.json + checkpoint.bin, writes embeddings.npy + node_ids.txt.
// `mpirun -np R ember_embed ...`: each rank embeds a contiguous block of the
// users, rank 0 gathers and writes them (the same file as one process).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "engine/data/prepare.h"
#include "engine/dist/communicator.h"
#include "engine/train/run_dir.h"
#include "engine/train/shared_caches.h"
#include "engine/train/trainer.h"

using namespace ember;

int main(int argc, char** argv) {
  return run_job("ember_embed", &argc, &argv, [&](DistJob& job) -> int {
  Communicator& comm = job.comm();
  CLI::App app{"Compute user embeddings from a trained checkpoint"};
  std::string run_path, device;
  app.add_option("--run", run_path, "run directory (from ember_train)")->required()->check(CLI::ExistingDirectory);
  app.add_option("--device", device, "cpu, cuda or emu")->check(CLI::IsMember({"cpu", "cuda", "emu"}));
  CLI11_PARSE(app, argc, argv);
  {
    RunDir run{run_path};
    TrainConfig cfg = run.load_config();
    if (!device.empty()) cfg.device = device;
    job.use_device(parse_device_name(cfg.device));
    // The graph and split caches (data.cache_dir) are built before any rank
    // maps them: one file each, so one page-cache copy per machine.
    prepare_shared_caches(comm, cfg.data, cfg.seed);
    PreparedData data = prepare_data(cfg.data, cfg.seed, "", false);
    Trainer trainer(cfg, data.split.train, data.val, RunDir{""}, &comm);
    trainer.load_parameters(run.checkpoint());
    write_embeddings_sharded(run, comm, trainer.embed_my_block(), data.full.ids);
    if (!comm.is_root()) return 0;
    std::printf("embedded %lld users (d = %lld%s) -> %s\n", (long long)data.full.num_nodes(), (long long)cfg.model.embedding_dim,
                comm.distributed() ? (", " + std::to_string(comm.size()) + " ranks").c_str() : "",
                run.embeddings().c_str());
    return 0;
  }
  });
}
