// Per-target SIMD code for batch normalisation; see
// include/sequent/kernels/batchnorm.hpp for the contract and batchnorm.cc
// for the scalar references, the threading and the per-channel arithmetic.
// Included once per target by foreach_target.h.
//
// batchnorm.cc views x (rows × channels, row-major) as *lines*: `lines`
// runs of `length` floats, `stride` floats apart. Position j of every line
// belongs to one channel, so per-channel statistics are sums down the lines
// followed by a fold of positions into channels (in batchnorm.cc), and the
// element-wise passes read per-position parameter arrays (centre, scale, …)
// of `length` floats. With a line of lcm(channels, 16) floats, every line
// is a whole number of vectors whatever the channel count: 3 channels are
// read as 48-float lines, not as 3-float rows with 13 idle lanes.

// Include guard that toggles per target (Highway's skeleton pattern).
#if defined(SEQUENT_SRC_KERNELS_BATCHNORM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_BATCHNORM_INL_H_
#undef SEQUENT_SRC_KERNELS_BATCHNORM_INL_H_
#else
#define SEQUENT_SRC_KERNELS_BATCHNORM_INL_H_
#endif

#include <cstddef>
#include <type_traits>

#include "activation-inl.h"  // ApplyActivation, ActivationGradient
#include "hwy/highway.h"
#include "sequent/kernels/activation.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ----------------------------------------------------------------------------
// Loop helpers

// Calls op(d, j) over [0, n) with the widest vector that fits: full vectors
// of d, then one vector each of 8, 4 and 2 lanes where d is wider, then
// single lanes. Never touches memory past n (masked loads may fault on
// targets with HWY_MEM_OPS_MIGHT_FAULT).
template <class D, class Op>
HWY_INLINE void ForEachSpan(D d, std::size_t n, const Op& op) {
  using T = hn::TFromD<D>;
  const std::size_t lanes = hn::Lanes(d);
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes) op(d, j);
  if constexpr (hn::MaxLanes(d) > 8) {
    if (j + 8 <= n) {
      op(hn::CappedTag<T, 8>(), j);
      j += 8;
    }
  }
  if constexpr (hn::MaxLanes(d) > 4) {
    if (j + 4 <= n) {
      op(hn::CappedTag<T, 4>(), j);
      j += 4;
    }
  }
  if constexpr (hn::MaxLanes(d) > 2) {
    if (j + 2 <= n) {
      op(hn::CappedTag<T, 2>(), j);
      j += 2;
    }
  }
  for (; j < n; ++j) op(hn::CappedTag<T, 1>(), j);
}

// Lines summed in float, as a pairwise tree, before their total is promoted
// to double and added to the sums array. Promoting every element instead
// made the reductions conversion-bound. The tree of 8 terms adds at most 3
// roundings (~2e-7 relative) per group; the double sums then keep the error
// from growing with the number of rows. Fewer loads and stores of the sums
// array also shorten its load-add-store chain (~10 cycles) per line.
constexpr std::size_t kLineGroup = 8;

// a (and b, for kSums == 2) = Σ of the float terms of lines
// [line, line + kCount), added pairwise.
template <std::size_t kCount, std::size_t kSums, class DF, class Terms>
HWY_INLINE void SumTerms(DF df, std::size_t line, std::size_t j, hn::Vec<DF>& a,
                         hn::Vec<DF>& b, const Terms& terms) {
  if constexpr (kCount == 1) {
    terms(df, line, j, a, b);
  } else {
    auto a_upper = hn::Zero(df), b_upper = a_upper;
    SumTerms<kCount / 2, kSums>(df, line, j, a, b, terms);
    SumTerms<kCount / 2, kSums>(df, line + kCount / 2, j, a_upper, b_upper,
                                terms);
    a = hn::Add(a, a_upper);
    if constexpr (kSums == 2) b = hn::Add(b, b_upper);
  }
}

// sums[0, Lanes(df)) += v, converted to double (two half vectors, as a
// double vector holds half as many lanes).
template <class DF>
HWY_INLINE void AddToDoubles(DF df, hn::Vec<DF> v, double* HWY_RESTRICT sums) {
  if constexpr (hn::MaxLanes(df) == 1) {
    const hn::Rebind<double, DF> dd;
    hn::StoreU(hn::Add(hn::LoadU(dd, sums), hn::PromoteTo(dd, v)), dd, sums);
  } else {
#if HWY_TARGET != HWY_SCALAR  // whose vectors are single lanes anyway
    const hn::Half<DF> dh;
    const hn::Rebind<double, decltype(dh)> dd;
    const std::size_t half = hn::Lanes(dd);
    hn::StoreU(
        hn::Add(hn::LoadU(dd, sums), hn::PromoteTo(dd, hn::LowerHalf(dh, v))),
        dd, sums);
    hn::StoreU(hn::Add(hn::LoadU(dd, sums + half),
                       hn::PromoteTo(dd, hn::UpperHalf(dh, v))),
               dd, sums + half);
#endif
  }
}

// sums_a[j] += Σ_line a and sums_b[j] += Σ_line b (for kSums == 2), where
// terms(df, line, j, a, b) sets the float vectors a (and b) for positions
// [j, j + Lanes(df)) of one line.
template <std::size_t kSums, class Terms>
HWY_INLINE void AccumulateLines(std::size_t lines, std::size_t length,
                                double* HWY_RESTRICT sums_a,
                                double* HWY_RESTRICT sums_b,
                                const Terms& terms) {
  const hn::ScalableTag<float> df;
  const auto add_lines = [&](auto d, std::size_t j, std::size_t line,
                             auto count) HWY_ATTR {
    auto a = hn::Zero(d), b = a;
    SumTerms<decltype(count)::value, kSums>(d, line, j, a, b, terms);
    AddToDoubles(d, a, sums_a + j);
    if constexpr (kSums == 2) AddToDoubles(d, b, sums_b + j);
  };
  using Group = std::integral_constant<std::size_t, kLineGroup>;
  using Single = std::integral_constant<std::size_t, 1>;
  std::size_t line = 0;
  for (; line + kLineGroup <= lines; line += kLineGroup) {
    ForEachSpan(df, length, [&](auto d, std::size_t j) HWY_ATTR {
      add_lines(d, j, line, Group());
    });
  }
  for (; line < lines; ++line) {
    ForEachSpan(df, length, [&](auto d, std::size_t j) HWY_ATTR {
      add_lines(d, j, line, Single());
    });
  }
}

// ----------------------------------------------------------------------------
// Statistics. x holds `lines` lines of `length` floats, `stride` floats
// apart; sums, centre and the other per-position arrays hold `length`.
// Differences from a centre near the data are exact in float (Sterbenz) and
// small, so their float group sums lose nothing that matters.

// sums[j] += Σ_line (x[line·stride + j] − centre[j]). With centre = one row
// of x this is the shifted sum from which batchnorm.cc gets the mean.
inline void SumDeviations(const float* HWY_RESTRICT x, std::size_t stride,
                          std::size_t lines, std::size_t length,
                          const float* HWY_RESTRICT centre,
                          double* HWY_RESTRICT sums) {
  AccumulateLines<1>(
      lines, length, sums, nullptr,
      [&](auto df, std::size_t line, std::size_t j, auto& a, auto&) HWY_ATTR {
        a = hn::Sub(hn::LoadU(df, x + line * stride + j),
                    hn::LoadU(df, centre + j));
      });
}

// sums[j] += Σ_line (x[line·stride + j] − centre[j])².
inline void SumSquaredDeviations(const float* HWY_RESTRICT x,
                                 std::size_t stride, std::size_t lines,
                                 std::size_t length,
                                 const float* HWY_RESTRICT centre,
                                 double* HWY_RESTRICT sums) {
  AccumulateLines<1>(
      lines, length, sums, nullptr,
      [&](auto df, std::size_t line, std::size_t j, auto& a, auto&) HWY_ATTR {
        const auto deviation = hn::Sub(hn::LoadU(df, x + line * stride + j),
                                       hn::LoadU(df, centre + j));
        a = hn::Mul(deviation, deviation);
      });
}

// sum_dz[j] += Σ dz and sum_dz_centred[j] += Σ dz·(x − centre[j]), where
// dz = dy · act'(y), over the lines of x, y and dy (all `stride` apart).
template <Activation kind>
HWY_INLINE void BackwardSumsLoop(
    const float* HWY_RESTRICT x, const float* HWY_RESTRICT y,
    const float* HWY_RESTRICT dy, std::size_t stride, std::size_t lines,
    std::size_t length, const float* HWY_RESTRICT centre, float alpha,
    double* HWY_RESTRICT sum_dz, double* HWY_RESTRICT sum_dz_centred) {
  AccumulateLines<2>(
      lines, length, sum_dz, sum_dz_centred,
      [&](auto df, std::size_t line, std::size_t j, auto& a, auto& b) HWY_ATTR {
        const std::size_t i = line * stride + j;
        a = ActivationGradient<kind>(df, hn::LoadU(df, y + i),
                                     hn::LoadU(df, dy + i), hn::Set(df, alpha));
        const auto centred =
            hn::Sub(hn::LoadU(df, x + i), hn::LoadU(df, centre + j));
        b = hn::Mul(a, centred);
      });
}

// ----------------------------------------------------------------------------
// Element-wise passes, in float: every output depends on one input element
// and per-position constants.

// y = act((x − centre)·scale + shift), or act(x·scale + shift) when centre
// is null. Subtracting the centre first keeps x near 1000 ± 1 accurate: the
// folded form x·scale + (shift − centre·scale) would cancel two large terms.
template <Activation kind>
HWY_INLINE void NormalizeLoop(const float* x, std::size_t stride,
                              std::size_t lines, std::size_t length,
                              const float* HWY_RESTRICT centre,
                              const float* HWY_RESTRICT scale,
                              const float* HWY_RESTRICT shift, float alpha,
                              float* y) {
  const hn::ScalableTag<float> d;
  for (std::size_t line = 0; line < lines; ++line) {
    const float* x_line = x + line * stride;
    float* y_line = y + line * stride;
    ForEachSpan(d, length, [&](auto d, std::size_t j) HWY_ATTR {
      auto value = hn::LoadU(d, x_line + j);
      if (centre != nullptr) value = hn::Sub(value, hn::LoadU(d, centre + j));
      const auto z =
          hn::MulAdd(value, hn::LoadU(d, scale + j), hn::LoadU(d, shift + j));
      hn::StoreU(ApplyActivation<kind>(d, z, hn::Set(d, alpha)), d, y_line + j);
    });
  }
}

// dx = a·dz + b·(x − centre) + c with dz = dy · act'(y): the backward
// formula of batchnorm.hpp with its per-channel factors gathered into a, b,
// c by batchnorm.cc. dx may equal dy (each element is read before it is
// written).
template <Activation kind>
HWY_INLINE void BackwardInputLoop(
    const float* x, const float* y, const float* dy, std::size_t stride,
    std::size_t lines, std::size_t length, const float* HWY_RESTRICT centre,
    const float* HWY_RESTRICT a, const float* HWY_RESTRICT b,
    const float* HWY_RESTRICT c, float alpha, float* dx) {
  const hn::ScalableTag<float> d;
  for (std::size_t line = 0; line < lines; ++line) {
    const std::size_t offset = line * stride;
    ForEachSpan(d, length, [&](auto d, std::size_t j) HWY_ATTR {
      const std::size_t i = offset + j;
      const auto dz = ActivationGradient<kind>(
          d, hn::LoadU(d, y + i), hn::LoadU(d, dy + i), hn::Set(d, alpha));
      const auto centred =
          hn::Sub(hn::LoadU(d, x + i), hn::LoadU(d, centre + j));
      const auto from_centred =
          hn::MulAdd(hn::LoadU(d, b + j), centred, hn::LoadU(d, c + j));
      hn::StoreU(hn::MulAdd(hn::LoadU(d, a + j), dz, from_centred), d, dx + i);
    });
  }
}

// ----------------------------------------------------------------------------
// Entry points (exported by batchnorm.cc), one switch per activation so the
// loops above are compiled per kind.

#define SEQUENT_BATCHNORM_SWITCH(act, LOOP, ...)        \
  switch (act) {                                        \
    case Activation::kIdentity:                         \
      return LOOP<Activation::kIdentity>(__VA_ARGS__);  \
    case Activation::kReLU:                             \
      return LOOP<Activation::kReLU>(__VA_ARGS__);      \
    case Activation::kLeakyReLU:                        \
      return LOOP<Activation::kLeakyReLU>(__VA_ARGS__); \
    case Activation::kSigmoid:                          \
      return LOOP<Activation::kSigmoid>(__VA_ARGS__);   \
    case Activation::kTanh:                             \
      return LOOP<Activation::kTanh>(__VA_ARGS__);      \
  }

inline void NormalizeLines(const float* x, std::size_t stride,
                           std::size_t lines, std::size_t length,
                           const float* centre, const float* scale,
                           const float* shift, Activation act, float alpha,
                           float* y) {
  SEQUENT_BATCHNORM_SWITCH(act, NormalizeLoop, x, stride, lines, length, centre,
                           scale, shift, alpha, y)
}

inline void BackwardSums(const float* x, const float* y, const float* dy,
                         std::size_t stride, std::size_t lines,
                         std::size_t length, const float* centre,
                         Activation act, float alpha, double* sum_dz,
                         double* sum_dz_centred) {
  SEQUENT_BATCHNORM_SWITCH(act, BackwardSumsLoop, x, y, dy, stride, lines,
                           length, centre, alpha, sum_dz, sum_dz_centred)
}

inline void BackwardInput(const float* x, const float* y, const float* dy,
                          std::size_t stride, std::size_t lines,
                          std::size_t length, const float* centre,
                          const float* a, const float* b, const float* c,
                          Activation act, float alpha, float* dx) {
  SEQUENT_BATCHNORM_SWITCH(act, BackwardInputLoop, x, y, dy, stride, lines,
                           length, centre, a, b, c, alpha, dx)
}

#undef SEQUENT_BATCHNORM_SWITCH

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SEQUENT_SRC_KERNELS_BATCHNORM_INL_H_
