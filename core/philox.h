// Philox4x32-10 counter-based RNG (Salmon et al., SC'11), usable in CPU code
// and CUDA kernels alike: the value for (seed, counter) is a pure function, so
// dropout masks and augmentations are identical on every backend and for any
// thread count, and can be recomputed in backward instead of stored.
#pragma once
#include <cstdint>

#include "core/hd.h"

namespace ember {
namespace philox {

struct U4 {
  uint32_t x, y, z, w;
};

EMBER_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// 4 random 32-bit words for a 128-bit counter and a 64-bit key.
EMBER_HD U4 philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return U4{c0, c1, c2, c3};
}

// Uniform float in [0, 1) for element `index` of stream (seed, stream_id).
EMBER_HD float uniform(uint64_t seed, uint64_t stream_id, uint64_t index) {
  U4 r = philox4x32(index, stream_id, seed);
  return static_cast<float>(r.x >> 8) * (1.0f / 16777216.0f);
}

// Uniform 64-bit integer for element `index` of stream (seed, stream_id).
EMBER_HD uint64_t bits64(uint64_t seed, uint64_t stream_id, uint64_t index) {
  U4 r = philox4x32(index, stream_id, seed);
  return (static_cast<uint64_t>(r.y) << 32) | r.x;
}

}  // namespace philox

// Host-side sequential generator built on Philox: a (seed, stream) pair and a
// counter. Cheap to copy; its whole state is three integers, so it can be
// checkpointed exactly.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0) : seed_(seed), stream_(stream) {}
  uint64_t next_u64() { return philox::bits64(seed_, stream_, counter_++); }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return n ? next_u64() % n : 0; }
  // Standard normal (Box-Muller).
  double normal();
  // A fresh independent seed derived from this generator (for child streams).
  uint64_t fork() { return next_u64(); }

  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  uint64_t counter() const { return counter_; }
  void set_state(uint64_t seed, uint64_t stream, uint64_t counter) {
    seed_ = seed; stream_ = stream; counter_ = counter;
  }

 private:
  uint64_t seed_, stream_, counter_ = 0;
};

}  // namespace ember
