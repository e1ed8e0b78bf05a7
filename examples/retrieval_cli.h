// Command-line overrides of a run's `retrieval` config section, shared by
// the drivers that serve or measure candidates (ember_query, ember_evaluate,
// ember_recommend). Options left out keep the run's configured values.
#pragma once
#include <CLI/CLI.hpp>

#include "engine/config/config.h"

namespace ember_cli {

class RetrievalOptions {
 public:
  void add_to(CLI::App& app) {
    opts_.push_back(app.add_option("--expand", e_.friends, "query expansion: friends per query (0: every friend with --expand-select all, the default; off with similar / embedded)"));
    opts_.push_back(app.add_option("--expand-select", e_.select, "expansion friends: similar, embedded or all")
                        ->check(CLI::IsMember({"similar", "embedded", "all"})));
    opts_.push_back(app.add_option("--expand-merge", e_.merge, "expansion merge: mean, max or softcount")
                        ->check(CLI::IsMember({"mean", "max", "softcount"})));
    opts_.push_back(app.add_option("--expand-weight", e_.weight, "friend weights: uniform or inverse_log_degree")
                        ->check(CLI::IsMember({"uniform", "inverse_log_degree"})));
    opts_.push_back(app.add_option("--self-weight", e_.self_weight, "the user's own share of an expanded query [0, 1]"));
    opts_.push_back(app.add_option("--expand-tau", e_.temperature, "temperature of the softcount merge"));
    opts_.push_back(app.add_option("--blend", b_.mode, "blend with friends-of-friends: off or rrf")
                        ->check(CLI::IsMember({"off", "rrf"})));
    opts_.push_back(app.add_option("--blend-weight", b_.weight, "friends-of-friends' share of the blend [0, 1]"));
    opts_.push_back(app.add_option("--blend-depth", b_.depth, "candidates taken from each blended source"));
  }
  // The run's section with the options given on the command line applied (validated).
  ember::RetrievalConfig apply(ember::RetrievalConfig r) const {
    auto given = [&](size_t i) { return opts_[i]->count() > 0; };
    if (given(0)) r.expansion.friends = e_.friends;
    if (given(1)) r.expansion.select = e_.select;
    if (given(2)) r.expansion.merge = e_.merge;
    if (given(3)) r.expansion.weight = e_.weight;
    if (given(4)) r.expansion.self_weight = e_.self_weight;
    if (given(5)) r.expansion.temperature = e_.temperature;
    if (given(6)) r.blend.mode = b_.mode;
    if (given(7)) r.blend.weight = b_.weight;
    if (given(8)) r.blend.depth = b_.depth;
    r.expansion.validate("--expand* / retrieval.expansion");
    r.blend.validate("--blend* / retrieval.blend");
    return r;
  }

 private:
  ember::ExpansionConfig e_;
  ember::BlendConfig b_;
  std::vector<CLI::Option*> opts_;
};

}  // namespace ember_cli
