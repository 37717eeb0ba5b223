// Windows, strides and padding of convolutions and pooling, computed at
// compile time the way Keras/TensorFlow define them.
#pragma once

#include <cstddef>
#include <string>

namespace sequent {

// A kernel, pool window or stride: one int for a square (3 → 3×3), or
// {height, width} for a rectangle: Conv2D<32, 3> or Conv2D<32, {1, 5}>.
struct Window {
  int h;
  int w;
  constexpr Window(int size) : h(size), w(size) {}  // NOLINT: implicit
  constexpr Window(int height, int width) : h(height), w(width) {}
  std::string to_string() const {
    return std::to_string(h) + "x" + std::to_string(w);
  }
};

// Valid: no padding, the window stays inside the input.
// Same: zero padding so that out = ceil(in / stride); the odd pixel of
// padding goes to the bottom/right, as in TensorFlow.
enum class Padding { kValid, kSame };
inline constexpr Padding Valid = Padding::kValid;
inline constexpr Padding Same = Padding::kSame;

inline std::string to_string(Padding p) {
  return p == Padding::kSame ? "same" : "valid";
}

namespace detail {

// (H, W, C) of a rank-3 shape; 1s for other ranks (after the rank error).
template <class In>
struct Spatial {
  static constexpr int h = In::rank == 3 ? In::dims[0] : 1;
  static constexpr int w = In::rank == 3 ? In::dims[In::rank == 3 ? 1 : 0] : 1;
  static constexpr int c = In::rank == 3 ? In::dims[In::rank == 3 ? 2 : 0] : 1;
};

// One axis: input size n, window k, stride s.
struct Axis {
  int out = 0;
  int pad_before = 0;
  bool fits = true;  // the window fits in the input
};
constexpr Axis axis(int n, int k, int s, Padding p) {
  Axis a;
  a.fits = k <= n;
  if (s <= 0) return a;
  if (p == Padding::kValid) {
    a.out = k <= n ? (n - k) / s + 1 : 0;
  } else {
    a.out = (n + s - 1) / s;
    const int total = (a.out - 1) * s + k - n;
    a.pad_before = total > 0 ? total / 2 : 0;
  }
  return a;
}

template <class In, Window K, Window S, Padding P>
struct WindowGeometry {
  using in = Spatial<In>;
  static constexpr Axis y = axis(in::h, K.h, S.h, P);
  static constexpr Axis x = axis(in::w, K.w, S.w, P);
  static constexpr bool fits = y.fits && x.fits;
};

}  // namespace detail
}  // namespace sequent
