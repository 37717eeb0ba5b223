// Compile-time tensor shapes. A sample's shape excludes the batch dimension:
// Shape<28, 28, 1> is one greyscale image (H, W, C), Shape<128> a feature
// vector. Layout is row-major, channels last.
#pragma once

#include <array>
#include <cstddef>
#include <string>

namespace sequent {

template <int... Dims>
struct Shape {
  static constexpr std::size_t rank = sizeof...(Dims);
  static constexpr std::array<int, rank> dims{Dims...};
  static constexpr std::size_t size = (std::size_t{1} * ... * Dims);
  static constexpr bool all_positive = ((Dims > 0) && ...);

  // "(28, 28, 1)" as Keras prints shapes (batch dimension omitted).
  static std::string to_string() {
    std::string out = "(";
    bool first = true;
    ((out += (first ? "" : ", ") + std::to_string(Dims), first = false), ...);
    return out + (rank == 1 ? ",)" : ")");
  }
};

template <class T>
inline constexpr bool is_shape_v = false;
template <int... Dims>
inline constexpr bool is_shape_v<Shape<Dims...>> = true;

// Floats per sample, rounded up to a whole 64-byte line so that every
// buffer of a batch (batch × padded size) starts on a cache line.
constexpr std::size_t padded_size(std::size_t floats) {
  return (floats + 15) / 16 * 16;
}

}  // namespace sequent
