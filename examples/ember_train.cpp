// ember_train: train the SSMTL GAT encoder and export the embeddings.
//   ember_train --out runs/ssmtl [--config cfg.json] [--graph synthetic|DIR|FILE]
//               [--epochs N] [--beta B] [--gamma G] [--seed S] [--cold-start-users F]
//               [--device cpu|cuda|emu] [--resume]
// Writes config.json, metrics.jsonl, checkpoint.bin, split/, embeddings.npy,
// node_ids.txt into --out. Exit code 0 on success, 1 on any error, 130 when
// interrupted by Ctrl-C / SIGTERM (after writing the checkpoint).
// Data-parallel: `mpirun -np R ember_train ...` trains one model on R ranks
// (docs/distributed.md); rank 0 writes --out.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "engine/data/prepare.h"
#include "engine/dist/communicator.h"
#include "engine/dist/rank_memory.h"
#include "engine/io/binary_io.h"
#include "engine/io/interrupt.h"
#include "engine/train/memory_estimate.h"
#include "engine/train/run_dir.h"
#include "engine/train/shared_caches.h"
#include "engine/train/trainer.h"

using namespace ember;

int main(int argc, char** argv) {
  return run_job("ember_train", &argc, &argv, [&](DistJob& job) -> int {
  Communicator& comm = job.comm();
  CLI::App app{"Train ember's SSMTL GAT encoder (retrieval + CCA + MAE) and export user embeddings"};
  std::string out, config_path, graph, device;
  int64_t epochs = 0;
  double beta = -1, gamma = -1, cold = -1;
  int64_t seed = -1;
  bool resume = false;
  app.add_option("--out", out, "output directory of the run")->required();
  app.add_option("--config", config_path, "JSON config (defaults for every missing key)")->check(CLI::ExistingFile);
  app.add_option("--graph", graph, "\"synthetic\", a dataset folder or an edge-list file (overrides data.graph)");
  app.add_option("--epochs", epochs, "overrides train.epochs")->check(CLI::PositiveNumber);
  app.add_option("--beta", beta, "overrides objectives.beta (CCA weight)")->check(CLI::NonNegativeNumber);
  app.add_option("--gamma", gamma, "overrides objectives.gamma (MAE weight)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", seed, "overrides seed")->check(CLI::NonNegativeNumber);
  app.add_option("--cold-start-users", cold,
                 "cold-start split: share of users whose friendships go (almost) all to validation/test "
                 "(overrides data.cold_start_users)")
      ->check(CLI::Range(0.0, 0.999));
  app.add_option("--device", device, "cpu, cuda or emu (overrides device)")->check(CLI::IsMember({"cpu", "cuda", "emu"}));
  app.add_flag("--resume", resume, "continue the run in --out from its checkpoint");
  CLI11_PARSE(app, argc, argv);
  {
    RunDir run{out};
    // Rank 0 reads the config (the run's config.json with --resume) and every
    // rank parses its text: only the graph must exist on every machine.
    const std::string source = resume ? run.config() : config_path;
    const std::string text = broadcast_string(comm, comm.is_root() && !source.empty() ? read_file_text(source) : "", 0);
    TrainConfig cfg = source.empty() ? TrainConfig{} : TrainConfig::from_json_text(text, source);
    if (!graph.empty()) cfg.data.graph = graph;
    if (epochs > 0) cfg.train.epochs = epochs;
    if (beta >= 0) cfg.objectives.beta = beta;
    if (gamma >= 0) cfg.objectives.gamma = gamma;
    if (seed >= 0) cfg.seed = static_cast<uint64_t>(seed);
    if (cold >= 0) cfg.data.cold_start_users = cold;
    if (!device.empty()) cfg.device = device;
    cfg.validate();
    job.use_device(parse_device_name(cfg.device));
    const bool root = comm.is_root();
    // The graph and split caches (data.cache_dir) are built before any rank
    // maps them: one file each, so one page-cache copy per machine.
    prepare_shared_caches(comm, cfg.data, cfg.seed);
    // Every rank loads the graph and computes the (seeded) split; rank 0 writes it.
    PreparedData data = prepare_data(cfg.data, cfg.seed, root ? out : "", root);
    // Training needs the training graph and the validation edges only: the
    // full graph (structure and a second copy of the features), the test
    // split and the friendships known at test time are released (the id map
    // stays, for node_ids.txt): about half of each rank's graph memory.
    const IdMap ids = data.full.ids;
    data.full = Graph{};
    data.known_at_test = Graph{};
    data.test = HeldOut{};
    data.split.val.clear();
    data.split.test.clear();
    print_rank_memory(comm, "per rank after loading the data");
    if (root) {
      std::printf("objectives: alpha %.3g (retrieval), beta %.3g (CCA), gamma %.3g (MAE); device %s\n",
                  cfg.objectives.alpha, cfg.objectives.beta, cfg.objectives.gamma, cfg.device.c_str());
      if (comm.distributed())
        std::printf("data-parallel: %d ranks (%s); global batch %lld queries (%s)\n", comm.size(),
                    comm.backend().c_str(), (long long)cfg.sampler.batch_size, cfg.distributed.batches.c_str());
      std::printf("memory: training needs about %s per rank; %s of host memory available\n",
                  estimate_training(cfg, graph_size(data.split.train), comm.size()).describe().c_str(),
                  format_bytes(available_host_memory()).c_str());
    }
    Trainer trainer(cfg, data.split.train, data.val, RunDir{out}, &comm);
    install_interrupt_handler();
    TrainResult r = trainer.fit(resume);
    if (comm.distributed())
      std::printf("%s: parameters and optimizer state checksum %016llx\n", job.who().c_str(),
                  (unsigned long long)trainer.state_checksum());
    if (r.interrupted) {
      if (root) std::printf("interrupted: checkpoint written to %s; continue with --resume\n", run.checkpoint().c_str());
      return 130;
    }
    if (root)
      std::printf("trained %lld steps in %.1f s; best validation Recall@50 %.4f (epoch %lld)%s\n", (long long)r.steps,
                  r.seconds, r.best_val_recall50, (long long)r.best_epoch + 1, r.stopped_early ? ", stopped early" : "");
    write_embeddings_sharded(run, comm, trainer.embed_my_block(), ids);
    if (root) std::printf("wrote %s and %s\n", run.embeddings().c_str(), run.node_ids().c_str());
    return 0;
  }
  });
}
