// Small, fully specified random number generation. std::*_distribution is
// implementation-defined, so sequent draws its own numbers: the same seed gives
// the same weights, batches and dropout masks with any standard library.
#pragma once

#include <cstdint>

namespace sequent {

// splitmix64 (Steele, Lea, Flood 2014): a 64-bit counter through a strong
// finaliser. Good enough for initialisation and shuffling, and trivially
// seekable: stream(seed, k) is independent of stream(seed, k+1).
class Rng {
 public:
  explicit constexpr Rng(std::uint64_t seed) : state_(seed) {}

  constexpr std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 24 random bits: every value is an exact float.
  constexpr float uniform() {
    return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
  }
  constexpr float uniform(float lo, float hi) {
    return lo + (hi - lo) * uniform();
  }

 private:
  std::uint64_t state_;
};

// A seed for a sub-stream, e.g. mix_seed(model_seed, layer_index).
constexpr std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
  return Rng(seed ^ (stream * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull))
      .next();
}

// The user's seed, as a named type so it cannot be confused with a size.
struct Seed {
  std::uint64_t value = 0;
};

}  // namespace sequent
