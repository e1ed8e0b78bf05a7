#include "engine/config/config.h"

#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "core/error.h"
#include "engine/io/binary_io.h"

namespace ember {

using json = nlohmann::json;

namespace {

// Reads (from != nullptr) or writes (to) every field under a key path, so
// parsing and printing share one list of keys.
struct Visitor {
  const json* from = nullptr;
  json* to = nullptr;
  std::string source;
  std::string prefix;
  std::set<std::string> seen;  // keys of the current object that were visited

  std::string path(const std::string& key) const { return prefix.empty() ? key : prefix + "." + key; }

  template <class T>
  void field(const std::string& key, T& value) {
    if (to) {
      (*to)[key] = value;
      return;
    }
    seen.insert(key);
    if (!from->contains(key)) return;
    const json& j = (*from)[key];
    try {
      check_integers(key, j, value);
      value = j.get<T>();
    } catch (const json::exception&) {
      EMBER_FAIL(source << ": " << path(key) << " has the wrong type (got " << describe(j) << ")");
    }
  }

  // The value for an error message: scalars in full, containers by size only
  // (dump() recurses, and a deeply nested value would overflow the stack).
  static std::string describe(const json& j) {
    if (j.is_structured()) return std::string(j.type_name()) + " of " + std::to_string(j.size()) + " elements";
    std::string d = j.dump();
    if (d.size() > 80) d = d.substr(0, 77) + "...";
    return std::string(j.type_name()) + ": " + d;
  }

  // nlohmann's get<integer>() silently truncates 64.5, wraps -1 to 2^64 - 1 and
  // converts 1e300 with undefined behaviour: integer keys take exact integers only.
  template <class T>
  void check_integers(const std::string& key, const json& j, const T&) {
    if constexpr (std::is_integral<T>::value && !std::is_same<T, bool>::value) {
      check_integer<T>(key, j);
    } else if constexpr (std::is_same<T, std::vector<int64_t>>::value) {
      if (j.is_array())
        for (const json& e : j) check_integer<int64_t>(key, e);
    }
  }
  template <class T>
  void check_integer(const std::string& key, const json& j) {
    if (!j.is_number()) return;  // the type error of get<T>() names it
    bool ok = false;
    if (j.is_number_unsigned()) ok = j.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    else if (j.is_number_integer()) ok = std::is_signed<T>::value || j.get<int64_t>() >= 0;
    EMBER_CHECK(ok, source << ": " << path(key) << " must be an integer in [" << +std::numeric_limits<T>::min() << ", "
                           << +std::numeric_limits<T>::max() << "], got " << describe(j));
  }

  void object(const std::string& key, const std::function<void(Visitor&)>& body) {
    Visitor sub;
    sub.source = source;
    sub.prefix = path(key);
    if (to) {
      json obj = json::object();
      sub.to = &obj;
      body(sub);
      (*to)[key] = obj;
      return;
    }
    seen.insert(key);
    if (!from->contains(key)) return;
    const json& j = (*from)[key];
    EMBER_CHECK(j.is_object(), source << ": " << sub.prefix << " must be an object, got " << j.type_name());
    sub.from = &j;
    body(sub);
    sub.reject_unknown();
  }

  void reject_unknown() const {
    for (auto it = from->begin(); it != from->end(); ++it)
      EMBER_CHECK(seen.count(it.key()), source << ": unknown key '" << path(it.key()) << "'");
  }
};

void visit(Visitor& v, TrainConfig& c) {
  v.field("seed", c.seed);
  v.field("device", c.device);
  v.object("data", [&](Visitor& d) {
    d.field("graph", c.data.graph);
    d.field("features", c.data.features);
    d.field("cache_dir", c.data.cache_dir);
    d.field("val_fraction", c.data.val_fraction);
    d.field("test_fraction", c.data.test_fraction);
    d.field("cold_start_users", c.data.cold_start_users);
    d.object("synthetic", [&](Visitor& s) {
      auto& g = c.data.synthetic;
      s.field("num_users", g.num_users);
      s.field("num_communities", g.num_communities);
      s.field("avg_degree", g.avg_degree);
      s.field("feature_dim", g.feature_dim);
      s.field("features_per_user", g.features_per_user);
      s.field("homophily", g.homophily);
      s.field("triadic_closure", g.triadic_closure);
      s.field("cold_start_fraction", g.cold_start_fraction);
      s.field("feature_homophily", g.feature_homophily);
      s.field("community_vocab", g.community_vocab);
      s.field("closure_passes", g.closure_passes);
      s.field("power_law_exponent", g.power_law_exponent);
    });
  });
  v.object("model", [&](Visitor& m) {
    m.field("hidden", c.model.hidden);
    m.field("embedding_dim", c.model.embedding_dim);
    m.field("layers", c.model.layers);
    m.field("heads", c.model.heads);
    m.field("dropout", c.model.dropout);
    m.field("attn_dropout", c.model.attn_dropout);
    m.field("residual", c.model.residual);
    m.field("elu", c.model.elu);
    m.field("negative_slope", c.model.negative_slope);
    m.field("id_embeddings", c.model.id_embeddings);
    m.field("id_dropout", c.model.id_dropout);
    m.field("id_cold_users", c.model.id_cold_users);
  });
  v.object("sampler", [&](Visitor& s) {
    s.field("fanouts", c.sampler.fanouts);
    s.field("batch_size", c.sampler.batch_size);
    s.field("prefetch", c.sampler.prefetch);
    s.field("threads", c.sampler.threads);
  });
  v.object("objectives", [&](Visitor& o) {
    o.field("alpha", c.objectives.alpha);
    o.field("beta", c.objectives.beta);
    o.field("gamma", c.objectives.gamma);
    o.field("temperature", c.objectives.temperature);
    o.field("random_negatives", c.objectives.random_negatives);
    o.field("hard_negatives", c.objectives.hard_negatives);
    o.field("logq_correction", c.objectives.logq_correction);
    o.field("weighting", c.objectives.weighting);
    o.field("weighting_every", c.objectives.weighting_every);
    o.field("ssl_fraction", c.objectives.ssl_fraction);
    o.object("cca", [&](Visitor& x) {
      x.field("lambda", c.objectives.cca.lambda);
      x.field("edge_drop", c.objectives.cca.edge_drop);
      x.field("feature_drop", c.objectives.cca.feature_drop);
      x.field("head_hidden", c.objectives.cca.head_hidden);
      x.field("head_out", c.objectives.cca.head_out);
    });
    o.object("mae", [&](Visitor& x) {
      x.field("edge_drop", c.objectives.mae.edge_drop);
      x.field("exponent", c.objectives.mae.exponent);
    });
  });
  v.object("optim", [&](Visitor& o) {
    o.field("optimizer", c.optim.optimizer);
    o.field("lr", c.optim.lr);
    o.field("weight_decay", c.optim.weight_decay);
    o.field("warmup_steps", c.optim.warmup_steps);
    o.field("decay", c.optim.decay);
    o.field("clip_norm", c.optim.clip_norm);
    o.field("id_lr", c.optim.id_lr);
  });
  v.object("train", [&](Visitor& t) {
    t.field("epochs", c.train.epochs);
    t.field("steps_per_epoch", c.train.steps_per_epoch);
    t.field("patience", c.train.patience);
    t.field("val_queries", c.train.val_queries);
    t.field("checkpoint_every", c.train.checkpoint_every);
    t.field("progress", c.train.progress);
    t.field("grad_diagnostics", c.train.grad_diagnostics);
  });
  v.object("retrieval", [&](Visitor& r) {
    r.object("expansion", [&](Visitor& x) {
      auto& e = c.retrieval.expansion;
      x.field("friends", e.friends);
      x.field("select", e.select);
      x.field("merge", e.merge);
      x.field("weight", e.weight);
      x.field("self_weight", e.self_weight);
      x.field("temperature", e.temperature);
    });
    r.object("blend", [&](Visitor& x) {
      auto& b = c.retrieval.blend;
      x.field("mode", b.mode);
      x.field("weight", b.weight);
      x.field("rrf_k", b.rrf_k);
      x.field("depth", b.depth);
    });
  });
  v.object("distributed", [&](Visitor& d) {
    d.field("batches", c.distributed.batches);
    d.field("partition", c.distributed.partition);
  });
  v.object("index", [&](Visitor& i) {
    i.field("M", c.index.M);
    i.field("ef_construction", c.index.ef_construction);
    i.field("ef", c.index.ef);
  });
}

void check_range(bool ok, const char* key, const std::string& rule) {
  EMBER_CHECK(ok, "config: " << key << " " << rule);
}
bool rate(double r) { return r >= 0.0 && r < 1.0; }

}  // namespace

TrainConfig TrainConfig::from_json_text(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers beyond double
    EMBER_FAIL(source << ": invalid JSON: " << e.what());
  }
  EMBER_CHECK(j.is_object(), source << ": the config must be a JSON object");
  TrainConfig c;
  Visitor v;
  v.from = &j;
  v.source = source;
  visit(v, c);
  v.reject_unknown();
  c.validate();
  return c;
}

TrainConfig TrainConfig::from_file(const std::string& path) {
  return from_json_text(read_file_text(path), path);
}

std::string TrainConfig::to_json_text() const {
  json j = json::object();
  Visitor v;
  v.to = &j;
  TrainConfig copy = *this;
  visit(v, copy);
  return j.dump(2) + "\n";
}

void ExpansionConfig::validate(const std::string& where) const {
  EMBER_CHECK(friends >= 0, "config: " << where << ".friends must be >= 0, got " << friends);
  EMBER_CHECK(select == "similar" || select == "embedded" || select == "all",
              "config: " << where << ".select must be similar, embedded or all, got '" << select << "'");
  EMBER_CHECK(merge == "mean" || merge == "max" || merge == "softcount",
              "config: " << where << ".merge must be mean, max or softcount, got '" << merge << "'");
  EMBER_CHECK(weight == "uniform" || weight == "inverse_log_degree",
              "config: " << where << ".weight must be uniform or inverse_log_degree, got '" << weight << "'");
  EMBER_CHECK(self_weight >= 0.0 && self_weight <= 1.0,
              "config: " << where << ".self_weight must be in [0, 1], got " << self_weight);
  EMBER_CHECK(temperature > 0.0, "config: " << where << ".temperature must be > 0, got " << temperature);
}

void BlendConfig::validate(const std::string& where) const {
  EMBER_CHECK(mode == "off" || mode == "rrf", "config: " << where << ".mode must be off or rrf, got '" << mode << "'");
  EMBER_CHECK(weight >= 0.0 && weight <= 1.0, "config: " << where << ".weight must be in [0, 1], got " << weight);
  EMBER_CHECK(rrf_k >= 0.0, "config: " << where << ".rrf_k must be >= 0, got " << rrf_k);
  EMBER_CHECK(depth >= 1 && depth <= 4096, "config: " << where << ".depth must be in [1, 4096], got " << depth);
}

void TrainConfig::validate() const {
  check_range(device == "cpu" || device == "cuda" || device == "emu", "device", "must be cpu, cuda or emu");
  check_range(rate(data.val_fraction), "data.val_fraction", "must be in [0, 1)");
  check_range(rate(data.test_fraction), "data.test_fraction", "must be in [0, 1)");
  check_range(data.val_fraction + data.test_fraction < 0.9, "data.val_fraction + data.test_fraction",
              "must be < 0.9");
  check_range(rate(data.cold_start_users), "data.cold_start_users", "must be in [0, 1)");
  check_range(data.graph != "synthetic" || data.features.empty(), "data.features",
              "must be empty for the synthetic graph (it generates its own features)");
  check_range(data.graph != "synthetic" || data.cache_dir.empty(), "data.cache_dir",
              "must be empty for the synthetic graph (it is generated, not read; only files are cached)");
  try {
    data.synthetic.validate();  // the generator's own ranges (engine/data/synthetic.h)
  } catch (const Error& e) {
    throw Error(std::string("config: data.") + e.what());
  }
  check_range(data.synthetic.num_users >= 10, "data.synthetic.num_users", "must be >= 10");
  check_range(model.hidden >= 1, "model.hidden", "must be >= 1");
  check_range(model.embedding_dim >= 1, "model.embedding_dim", "must be >= 1");
  check_range(model.layers >= 1 && model.layers <= 8, "model.layers", "must be in [1, 8]");
  check_range(model.heads >= 1, "model.heads", "must be >= 1");
  check_range(model.hidden % model.heads == 0, "model.hidden", "must be a multiple of model.heads");
  check_range(rate(model.dropout), "model.dropout", "must be in [0, 1)");
  check_range(rate(model.attn_dropout), "model.attn_dropout", "must be in [0, 1)");
  check_range(model.negative_slope >= 0.0, "model.negative_slope", "must be >= 0");
  check_range(rate(model.id_dropout), "model.id_dropout", "must be in [0, 1)");
  check_range(!sampler.fanouts.empty(), "sampler.fanouts", "must have one entry per hop");
  for (int64_t f : sampler.fanouts) check_range(f == -1 || f >= 1, "sampler.fanouts", "entries must be >= 1 or -1 (all)");
  check_range(sampler.batch_size >= 2, "sampler.batch_size", "must be >= 2");
  check_range(sampler.prefetch >= 1, "sampler.prefetch", "must be >= 1");
  check_range(sampler.threads >= 1, "sampler.threads", "must be >= 1");
  const auto& o = objectives;
  check_range(o.alpha >= 0.0 && o.beta >= 0.0 && o.gamma >= 0.0, "objectives.alpha/beta/gamma", "must be >= 0");
  check_range(o.alpha + o.beta + o.gamma > 0.0, "objectives", "need at least one weight > 0");
  check_range(o.temperature > 0.0, "objectives.temperature", "must be > 0");
  check_range(o.weighting == "fixed" || o.weighting == "gradnorm" || o.weighting == "mgda", "objectives.weighting",
              "must be fixed, gradnorm or mgda");
  check_range(o.weighting_every >= 1, "objectives.weighting_every", "must be >= 1");
  check_range(o.ssl_fraction > 0.0 && o.ssl_fraction <= 1.0, "objectives.ssl_fraction", "must be in (0, 1]");
  check_range(o.weighting == "fixed" || o.alpha > 0.0, "objectives.alpha",
              "must be > 0 with gradnorm or mgda weighting (the retrieval objective is the reference)");
  check_range(o.random_negatives >= 0, "objectives.random_negatives", "must be >= 0");
  check_range(o.hard_negatives >= 0 && o.hard_negatives <= 4096, "objectives.hard_negatives", "must be in [0, 4096]");
  check_range(o.cca.lambda >= 0.0, "objectives.cca.lambda", "must be >= 0");
  check_range(rate(o.cca.edge_drop), "objectives.cca.edge_drop", "must be in [0, 1)");
  check_range(rate(o.cca.feature_drop), "objectives.cca.feature_drop", "must be in [0, 1)");
  check_range(o.cca.head_hidden >= 1 && o.cca.head_out >= 1, "objectives.cca.head_hidden/head_out", "must be >= 1");
  check_range(rate(o.mae.edge_drop), "objectives.mae.edge_drop", "must be in [0, 1)");
  check_range(o.mae.exponent >= 1.0, "objectives.mae.exponent", "must be >= 1 (eq. 4)");
  check_range(optim.optimizer == "adam" || optim.optimizer == "adamw" || optim.optimizer == "sgd",
              "optim.optimizer", "must be adam, adamw or sgd");
  check_range(optim.lr > 0.0, "optim.lr", "must be > 0");
  check_range(optim.weight_decay >= 0.0, "optim.weight_decay", "must be >= 0");
  check_range(optim.warmup_steps >= 0, "optim.warmup_steps", "must be >= 0");
  check_range(optim.decay == "cosine" || optim.decay == "none", "optim.decay", "must be cosine or none");
  check_range(optim.clip_norm >= 0.0, "optim.clip_norm", "must be >= 0");
  check_range(optim.id_lr >= 0.0, "optim.id_lr", "must be >= 0 (0 = optim.lr)");
  check_range(train.epochs >= 1, "train.epochs", "must be >= 1");
  check_range(train.steps_per_epoch >= 0, "train.steps_per_epoch", "must be >= 0");
  check_range(train.patience >= 0, "train.patience", "must be >= 0");
  check_range(train.val_queries >= 0, "train.val_queries", "must be >= 0");
  check_range(train.checkpoint_every >= 0, "train.checkpoint_every", "must be >= 0");
  retrieval.expansion.validate();
  retrieval.blend.validate();
  check_range(distributed.batches == "shard" || distributed.batches == "replicate", "distributed.batches",
              "must be shard or replicate");
  check_range(distributed.partition == "none" || distributed.partition == "metis", "distributed.partition",
              "must be none or metis");
  check_range(distributed.partition == "none" || distributed.batches == "shard", "distributed.partition",
              "metis needs distributed.batches shard");
  check_range(index.M >= 2, "index.M", "must be >= 2");
  check_range(index.ef_construction >= 1, "index.ef_construction", "must be >= 1");
  check_range(index.ef >= 1, "index.ef", "must be >= 1");
}

uint64_t TrainConfig::model_hash() const {
  json j{{"hidden", model.hidden},         {"embedding_dim", model.embedding_dim},
         {"layers", model.layers},         {"heads", model.heads},
         {"residual", model.residual},     {"cca_hidden", objectives.cca.head_hidden},
         {"cca_out", objectives.cca.head_out}, {"optimizer", optim.optimizer}};
  if (model.id_embeddings) j["id_embeddings"] = true;  // absent otherwise: earlier checkpoints keep their hash
  const std::string s = j.dump();
  return checksum64(s.data(), s.size());
}

}  // namespace ember
