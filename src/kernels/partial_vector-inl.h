// Loads and stores of a vector's first n lanes, for the last, partial
// vector of a row, without touching memory past them.

#if defined(SEQUENT_SRC_KERNELS_PARTIAL_VECTOR_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_PARTIAL_VECTOR_INL_H_
#undef SEQUENT_SRC_KERNELS_PARTIAL_VECTOR_INL_H_
#else
#define SEQUENT_SRC_KERNELS_PARTIAL_VECTOR_INL_H_
#endif

#include <cstddef>
#include <cstring>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Whether MaskedLoad and BlendedStore of floats touch only the selected
// lanes: they do on AVX2 (vmaskmovps) and AVX-512 (masked moves), though
// Highway 1.0.3 sets HWY_MEM_OPS_MIGHT_FAULT on AVX2 for its emulated 8-
// and 16-bit lanes. On SSE4, SSSE3 and EMU128 a masked load is a whole
// load and a blend, which may fault past the end of an allocation.
constexpr bool kMaskedFloatsStayInBounds =
    HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2;

// Loads the first n (≤ lanes) floats at p, zero-filling the rest, without
// touching memory past p + n.
template <class D>
HWY_INLINE hn::Vec<D> LoadFirst(D d, const float* HWY_RESTRICT p,
                                std::size_t n) {
  if (n >= hn::Lanes(d)) return hn::LoadU(d, p);
  if constexpr (kMaskedFloatsStayInBounds) {
    return hn::MaskedLoad(hn::FirstN(d, n), d, p);
  } else {
    HWY_ALIGN float buffer[hn::MaxLanes(D())] = {};
    std::memcpy(buffer, p, n * sizeof(float));
    return hn::Load(d, buffer);
  }
}

// Stores the first n (≤ lanes) lanes of v to p, leaving p[n, lanes) as is.
template <class D>
HWY_INLINE void StoreFirst(D d, hn::Vec<D> v, float* HWY_RESTRICT p,
                           std::size_t n) {
  if (n >= hn::Lanes(d)) return hn::StoreU(v, d, p);
  if constexpr (kMaskedFloatsStayInBounds) {
    hn::BlendedStore(v, hn::FirstN(d, n), d, p);
  } else {
    HWY_ALIGN float buffer[hn::MaxLanes(D())];
    hn::Store(v, d, buffer);
    std::memcpy(p, buffer, n * sizeof(float));
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
