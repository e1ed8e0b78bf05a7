// Uses ember as an installed library: generate a small social graph, train a
// few steps, embed every user, index the embeddings and query the index.
#include <cstdio>

#include "engine/data/prepare.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/train/trainer.h"

int main() {
  try {
    ember::TrainConfig cfg;
    cfg.data.synthetic.num_users = 400;
    cfg.data.synthetic.num_communities = 8;
    cfg.data.synthetic.feature_dim = 200;
    cfg.model.hidden = 16;
    cfg.model.embedding_dim = 16;
    cfg.model.heads = 2;
    cfg.sampler.batch_size = 64;
    cfg.objectives.random_negatives = 32;
    cfg.objectives.beta = 0.01;
    cfg.objectives.gamma = 0.01;
    cfg.train.epochs = 1;
    cfg.train.progress = false;
    ember::PreparedData data = ember::prepare_data(cfg.data, cfg.seed, "", false);
    ember::Trainer trainer(cfg, data.split.train, data.val, ember::RunDir{""});
    ember::TrainResult r = trainer.fit();
    ember::Tensor emb = trainer.embed_all();
    ember::HnswIndex index;
    index.build(emb.data<float>(), emb.size(0), emb.size(1));
    ember::Rankings top = index.search_users({0}, 5, &data.split.train);
    std::printf("consumer: %lld steps, validation Recall@50 %.3f, top candidate of user 0: %d\n", (long long)r.steps,
                r.best_val_recall50, top.row(0)[0]);
    return top.row(0)[0] >= 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: error: %s\n", e.what());
    return 1;
  }
}
