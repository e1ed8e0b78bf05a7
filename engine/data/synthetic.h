// Seeded synthetic social graphs with homophilous sparse features, for
// testing and benchmarking the friend-recommendation pipeline at any size
// (1k .. 10M users) with known structure.
//
// Model (docs/data.md has the details):
//  - users are assigned to communities (log-normal sizes);
//  - each warm user has a degree propensity theta ~ power law (exponent
//    `power_law_exponent`, capped at sqrt(N * avg_degree), rescaled to mean
//    avg_degree);
//  - base edges (Chung-Lu style): user u starts Poisson(theta_u * (1 - tc) / 2)
//    edges; each partner is drawn proportionally to theta, inside u's
//    community with probability `homophily`, else from everybody;
//  - `closure_passes` triadic-closure passes: u starts Poisson(theta_u * tc /
//    (2 * passes)) edges to a random friend-of-a-friend (tc = triadic_closure);
//  - a `cold_start_fraction` of users are new: they start exactly 1 or 2 edges
//    and are never chosen as partners, so they keep degree 1-2;
//  - features: 1 + Poisson(features_per_user - 1) ids per user from a
//    vocabulary of `feature_dim`; each id comes with probability
//    `feature_homophily` from the community's own small vocabulary (Zipf
//    weighted), else from a global Zipf "noise" distribution.
// Every random draw comes from a Philox stream keyed by (seed, purpose, user),
// so the output is identical for any thread count. Time and memory O(N + E).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/graph.h"

namespace ember {

struct SyntheticConfig {
  // The one set of defaults: the config keys data.synthetic.* (docs/config.md)
  // map onto these fields; the run's seed is copied into `seed`.
  int64_t num_users = 3000;
  int32_t num_communities = 30;     // 0: num_users / 250 (at least 1)
  double avg_degree = 12.0;         // target mean degree of warm users
  int32_t feature_dim = 2000;       // sparse vocabulary size
  int32_t features_per_user = 12;   // mean feature ids per user
  double homophily = 0.8;           // share of base edges inside the community
  double feature_homophily = 0.5;   // share of feature ids from the community vocabulary
  int32_t community_vocab = 24;     // size of each community's vocabulary
  double triadic_closure = 0.3;     // share of edges made by closing triangles
  int32_t closure_passes = 1;
  double cold_start_fraction = 0.15;
  double power_law_exponent = 2.5;  // degree distribution P(k) ~ k^-exponent
  uint64_t seed = 1;

  void validate() const;  // throws on out-of-range parameters
  std::string describe() const;
};

struct SyntheticGraph {
  Graph graph;                  // identity ids, features, labels = community
  std::vector<int32_t> community;
  std::vector<uint8_t> cold;    // 1 for cold-start users
  SyntheticConfig config;
};

SyntheticGraph generate_synthetic(const SyntheticConfig& cfg, bool verbose = true);

}  // namespace ember
