// Per-target SIMD code for max and average pooling over NHWC images; see
// include/sequent/kernels/pool.hpp for the contract and pool.cc for the
// scalar references. Included once per target by foreach_target.h.
//
// Every pixel is a row of `channels` contiguous floats, so the kernels
// vectorise over channels: one output pixel's window is a handful of
// channel rows, loaded at the same channel offset and reduced lane-wise.

// Include guard that toggles per target (Highway's skeleton pattern).
#if defined(SEQUENT_SRC_KERNELS_POOL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_POOL_INL_H_
#undef SEQUENT_SRC_KERNELS_POOL_INL_H_
#else
#define SEQUENT_SRC_KERNELS_POOL_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "sequent/kernels/pool.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ----------------------------------------------------------------------------
// Helpers

// Calls op(d, c, mask) over the channel offsets of [0, channels): full
// vectors of d, then the remaining channels. Real layers have 1, 3, 6, 16,
// 32 … channels, so the remainder is often the whole pixel. On AVX-512,
// whose masked loads and stores cannot fault, the remainder is one vector
// of d with `mask` limiting it to the channels left (6 channels: one
// operation per window position instead of 4 + 1 + 1, which made LeNet's
// 2×2 pooling 2× faster). On targets where masked memory operations might
// fault (HWY_MEM_OPS_MIGHT_FAULT), it is an 8-, a 4-lane vector and single
// lanes, each with an all-true mask; nothing past the pixel is touched.
// AVX2 counts among the latter although its 32-bit masked loads and stores
// stay in bounds (kMaskedFloatsStayInBounds): there, masked spans made the
// 28×28×6 pooling 2–3× slower than PixelFitsOneVector's whole vectors
// (Zen 3, one thread: forward 1.9–2.8 → 4.1–6.1 µs, backward 1.6–2.4 →
// 4.4–5.9 µs), masked stores being slow on AMD.
template <class D, class Op>
HWY_INLINE void ForEachChannelSpan(D d, std::size_t channels, const Op& op) {
  const std::size_t lanes = hn::Lanes(d);
  std::size_t c = 0;
  for (; c + lanes <= channels; c += lanes) op(d, c, hn::FirstN(d, lanes));
#if !HWY_MEM_OPS_MIGHT_FAULT
  if (c < channels) op(d, c, hn::FirstN(d, channels - c));
#else
  if constexpr (hn::MaxLanes(d) > 8) {
    const hn::CappedTag<float, 8> d8;
    if (c + 8 <= channels) {
      op(d8, c, hn::FirstN(d8, 8));
      c += 8;
    }
  }
  if constexpr (hn::MaxLanes(d) > 4) {
    const hn::CappedTag<float, 4> d4;
    if (c + 4 <= channels) {
      op(d4, c, hn::FirstN(d4, 4));
      c += 4;
    }
  }
  const hn::CappedTag<float, 1> d1;
  for (; c < channels; ++c) op(d1, c, hn::FirstN(d1, 1));
#endif
}

// Load and store of one channel span (see ForEachChannelSpan): masked where
// masked memory operations cannot fault, else the descriptor is exact and
// the mask all-true.
template <class D>
HWY_INLINE hn::Vec<D> LoadSpan(D d, hn::Mask<D> mask,
                               const hn::TFromD<D>* HWY_RESTRICT p) {
#if !HWY_MEM_OPS_MIGHT_FAULT
  return hn::MaskedLoad(mask, d, p);
#else
  (void)mask;
  return hn::LoadU(d, p);
#endif
}
template <class D>
HWY_INLINE void StoreSpan(hn::Vec<D> v, D d, hn::Mask<D> mask,
                          hn::TFromD<D>* HWY_RESTRICT p) {
#if !HWY_MEM_OPS_MIGHT_FAULT
  hn::BlendedStore(v, mask, d, p);
#else
  (void)mask;
  hn::StoreU(v, d, p);
#endif
}

// Whether pixels of `channels` floats may each be handled as one whole
// vector of d although they are narrower (half a vector or more), on
// targets whose masked memory operations might fault: there, a 6-channel
// pixel is otherwise a 4-lane and two 1-lane operations per window
// position. The extra lanes read the next pixel of the row and write
// garbage into it, so a caller uses this only for a pixel whose next pixel
// exists and is stored again afterwards (see its conditions).
template <class D>
HWY_INLINE bool PixelFitsOneVector(D d, std::size_t channels) {
#if HWY_MEM_OPS_MIGHT_FAULT
  return channels < hn::Lanes(d) && 2 * channels >= hn::Lanes(d);
#else
  (void)d;
  (void)channels;
  return false;  // ForEachChannelSpan already takes one masked vector
#endif
}

// ForEachChannelSpan, or, when `whole_vector` (PixelFitsOneVector and the
// caller's conditions on the next pixel hold), op once on a whole vector.
template <class D, class Op>
HWY_INLINE void ForEachPixelSpan(D d, std::size_t channels, bool whole_vector,
                                 const Op& op) {
  if (whole_vector) {
    op(d, 0, hn::FirstN(d, hn::Lanes(d)));
  } else {
    ForEachChannelSpan(d, channels, op);
  }
}

// The part of output pixel (oy, ox)'s window that lies inside the image:
// input rows [y_begin, y_end) and columns [x_begin, x_end). Empty only when
// the whole window is padding, which Valid and Same geometry never produce.
struct ClippedWindow {
  std::size_t y_begin, y_end, x_begin, x_end;
  bool empty() const { return y_begin >= y_end || x_begin >= x_end; }
  std::size_t count() const { return (y_end - y_begin) * (x_end - x_begin); }
};

// [origin, origin + window) ∩ [0, size), where origin = out·stride − pad.
HWY_INLINE void ClipRange(std::size_t out, std::size_t stride, std::size_t pad,
                          std::size_t window, std::size_t size,
                          std::size_t& begin, std::size_t& end) {
  const std::size_t shifted = out * stride;  // the origin plus pad
  begin = std::min(size, shifted > pad ? shifted - pad : 0);
  end = shifted + window > pad ? std::min(size, shifted + window - pad) : 0;
}

HWY_INLINE ClippedWindow ClipWindow(const PoolShape& s, std::size_t oy,
                                    std::size_t ox) {
  ClippedWindow w;
  ClipRange(oy, s.stride_h, s.pad_top, s.window_h, s.in_h, w.y_begin, w.y_end);
  ClipRange(ox, s.stride_w, s.pad_left, s.window_w, s.in_w, w.x_begin, w.x_end);
  return w;
}

// When no input position lies in two windows (stride ≥ window, or a single
// window along that axis), backward can store each gradient instead of
// adding it to a zeroed din: one write per position instead of a zeroing
// pass plus a read-modify-write.
HWY_INLINE bool WindowsAreDisjoint(const PoolShape& s) {
  return (s.stride_h >= s.window_h || s.out_h == 1) &&
         (s.stride_w >= s.window_w || s.out_w == 1);
}

// Calls uncovered(i) for each input row or column i < size that lies in no
// window, for disjoint windows. Walks the windows in step with i instead of
// dividing (i + pad) by the stride, which cost a quarter of max-pool
// backward when done per column.
template <class Visit>
HWY_INLINE void ForEachUncovered(std::size_t size, std::size_t stride,
                                 std::size_t pad, std::size_t window,
                                 std::size_t outputs, const Visit& uncovered) {
  std::size_t o = 0;         // the only window that may contain i
  std::size_t offset = pad;  // i + pad − o·stride: i's place in window o
  for (std::size_t i = 0; i < size; ++i, ++offset) {
    while (offset >= stride && o + 1 < outputs) {
      ++o;
      offset -= stride;
    }
    if (offset >= window) uncovered(i);
  }
}

// Zeroes the positions of one sample's din (in_h × in_w × channels) that no
// window covers. Windows are disjoint, so the covered set is (covered rows)
// × (covered columns): zero the uncovered rows, and the uncovered columns of
// every row.
HWY_INLINE void ZeroUncovered(const PoolShape& s, float* HWY_RESTRICT din) {
  const std::size_t row_floats = s.in_w * s.channels;
  ForEachUncovered(
      s.in_h, s.stride_h, s.pad_top, s.window_h, s.out_h, [&](std::size_t y) {
        std::fill(din + y * row_floats, din + (y + 1) * row_floats, 0.0f);
      });
  ForEachUncovered(s.in_w, s.stride_w, s.pad_left, s.window_w, s.out_w,
                   [&](std::size_t x) {
                     for (std::size_t y = 0; y < s.in_h; ++y) {
                       float* pixel = din + y * row_floats + x * s.channels;
                       std::fill(pixel, pixel + s.channels, 0.0f);
                     }
                   });
}

// ----------------------------------------------------------------------------
// Forward. Output row r of the batch is row r % out_h of sample r / out_h;
// each row is independent, so pool.cc splits the batch's rows over threads.

// in is batch × in_h × in_w × C, out and argmax batch × out_h × out_w × C.
// Ties keep the first position in scan order (y, then x): a later value
// replaces the best only when strictly greater, as in the reference.
template <bool kRecordArgmax>
HWY_INLINE void MaxPoolRows(const PoolShape& s, const float* HWY_RESTRICT in,
                            float* HWY_RESTRICT out,
                            std::int32_t* HWY_RESTRICT argmax,
                            std::size_t first_row, std::size_t row_count) {
  const hn::ScalableTag<float> d;
  const std::size_t channels = s.channels;
  const std::size_t image_floats = s.in_h * s.in_w * channels;
  const bool pixel_vectors = PixelFitsOneVector(d, channels);
  for (std::size_t r = first_row; r < first_row + row_count; ++r) {
    const float* image = in + (r / s.out_h) * image_floats;
    const std::size_t oy = r % s.out_h;
    for (std::size_t ox = 0; ox < s.out_w; ++ox) {
      const std::size_t out_offset = (r * s.out_w + ox) * channels;
      const ClippedWindow w = ClipWindow(s, oy, ox);
      if (w.empty()) {
        std::fill(out + out_offset, out + out_offset + channels, 0.0f);
        if constexpr (kRecordArgmax) {
          std::fill(argmax + out_offset, argmax + out_offset + channels, -1);
        }
        continue;
      }
      auto pool_span = [&](auto dc, std::size_t c, auto mask) HWY_ATTR {
        const hn::RebindToSigned<decltype(dc)> di;
        const std::size_t first = (w.y_begin * s.in_w + w.x_begin) * channels;
        auto best = LoadSpan(dc, mask, image + first + c);
        auto best_index = hn::Iota(di, static_cast<std::int32_t>(first + c));
        for (std::size_t y = w.y_begin; y < w.y_end; ++y) {
          // The window's first position already seeded best.
          const std::size_t x_from = y == w.y_begin ? w.x_begin + 1 : w.x_begin;
          for (std::size_t x = x_from; x < w.x_end; ++x) {
            const std::size_t index = (y * s.in_w + x) * channels + c;
            const auto value = LoadSpan(dc, mask, image + index);
            const auto greater = hn::Gt(value, best);
            best = hn::IfThenElse(greater, value, best);
            if constexpr (kRecordArgmax) {
              best_index = hn::IfThenElse(
                  hn::RebindMask(di, greater),
                  hn::Iota(di, static_cast<std::int32_t>(index)), best_index);
            }
          }
        }
        StoreSpan(best, dc, mask, out + out_offset + c);
        if constexpr (kRecordArgmax) {
          StoreSpan(best_index, di, hn::RebindMask(di, mask),
                    argmax + out_offset + c);
        }
      };
      // Whole vectors read into the next input pixel of each window row,
      // which exists when the window ends before the image does, and write
      // into the next output pixel, which this loop stores next.
      ForEachPixelSpan(d, channels,
                       pixel_vectors && ox + 1 < s.out_w && w.x_end < s.in_w,
                       pool_span);
    }
  }
}

// Rows [first_row, first_row + row_count) of the batch's output; argmax may
// be null (inference).
inline void MaxPoolForwardRows(const PoolShape& s, const float* in, float* out,
                               std::int32_t* argmax, std::size_t first_row,
                               std::size_t row_count) {
  if (argmax != nullptr) {
    MaxPoolRows<true>(s, in, out, argmax, first_row, row_count);
  } else {
    MaxPoolRows<false>(s, in, out, nullptr, first_row, row_count);
  }
}

// Shapes as MaxPoolForwardRows. Sums in float in scan order, then scales by
// 1/count, the number of window positions inside the image.
inline void AvgPoolForwardRows(const PoolShape& s, const float* HWY_RESTRICT in,
                               float* HWY_RESTRICT out, std::size_t first_row,
                               std::size_t row_count) {
  const hn::ScalableTag<float> d;
  const std::size_t channels = s.channels;
  const std::size_t image_floats = s.in_h * s.in_w * channels;
  for (std::size_t r = first_row; r < first_row + row_count; ++r) {
    const float* image = in + (r / s.out_h) * image_floats;
    const std::size_t oy = r % s.out_h;
    for (std::size_t ox = 0; ox < s.out_w; ++ox) {
      float* out_pixel = out + (r * s.out_w + ox) * channels;
      const ClippedWindow w = ClipWindow(s, oy, ox);
      if (w.empty()) {
        std::fill(out_pixel, out_pixel + channels, 0.0f);
        continue;
      }
      const float inverse_count = 1.0f / static_cast<float>(w.count());
      ForEachChannelSpan(
          d, channels, [&](auto dc, std::size_t c, auto mask) HWY_ATTR {
            auto sum = hn::Zero(dc);
            for (std::size_t y = w.y_begin; y < w.y_end; ++y) {
              for (std::size_t x = w.x_begin; x < w.x_end; ++x) {
                sum = hn::Add(
                    sum, LoadSpan(dc, mask,
                                  image + (y * s.in_w + x) * channels + c));
              }
            }
            StoreSpan(hn::Mul(sum, hn::Set(dc, inverse_count)), dc, mask,
                      out_pixel + c);
          });
    }
  }
}

// ----------------------------------------------------------------------------
// Backward, one sample at a time: overlapping windows of different output
// rows write the same din rows, so pool.cc splits the batch by samples.

// dout and argmax are out_h × out_w × C, din in_h × in_w × C (one sample).
// Every window position whose index equals argmax receives dout; comparing
// indices lane-wise replaces the scalar scatter din[argmax[i]] += dout[i].
template <bool kDisjoint>
HWY_INLINE void MaxPoolBackwardImage(const PoolShape& s,
                                     const float* HWY_RESTRICT dout,
                                     const std::int32_t* HWY_RESTRICT argmax,
                                     float* HWY_RESTRICT din) {
  const hn::ScalableTag<float> d;
  const std::size_t channels = s.channels;
  if constexpr (kDisjoint) {
    ZeroUncovered(s, din);
  } else {
    std::fill(din, din + s.in_h * s.in_w * channels, 0.0f);
  }
  // Whole vectors per pixel (PixelFitsOneVector) only where each din
  // position is stored once, and the next one along the row belongs to
  // this window or the next (windows that tile the row), stored later.
  const bool pixel_vectors =
      kDisjoint && PixelFitsOneVector(d, channels) && s.stride_w == s.window_w;
  for (std::size_t oy = 0; oy < s.out_h; ++oy) {
    for (std::size_t ox = 0; ox < s.out_w; ++ox) {
      const std::size_t out_offset = (oy * s.out_w + ox) * channels;
      const ClippedWindow w = ClipWindow(s, oy, ox);
      auto route_span = [&](auto dc, std::size_t c, auto mask) HWY_ATTR {
        const hn::RebindToSigned<decltype(dc)> di;
        const auto gradient = LoadSpan(dc, mask, dout + out_offset + c);
        const auto source =
            LoadSpan(di, hn::RebindMask(di, mask), argmax + out_offset + c);
        for (std::size_t y = w.y_begin; y < w.y_end; ++y) {
          for (std::size_t x = w.x_begin; x < w.x_end; ++x) {
            const std::size_t index = (y * s.in_w + x) * channels + c;
            const auto chosen = hn::RebindMask(
                dc,
                hn::Eq(source, hn::Iota(di, static_cast<std::int32_t>(index))));
            auto routed = hn::IfThenElseZero(chosen, gradient);
            if constexpr (!kDisjoint) {
              routed = hn::Add(LoadSpan(dc, mask, din + index), routed);
            }
            StoreSpan(routed, dc, mask, din + index);
          }
        }
      };
      ForEachPixelSpan(d, channels, pixel_vectors && ox + 1 < s.out_w,
                       route_span);
    }
  }
}

// Samples [first_sample, first_sample + sample_count) of the batch.
inline void MaxPoolBackwardSamples(const PoolShape& s, const float* dout,
                                   const std::int32_t* argmax, float* din,
                                   std::size_t first_sample,
                                   std::size_t sample_count) {
  const std::size_t out_floats = s.out_h * s.out_w * s.channels;
  const std::size_t in_floats = s.in_h * s.in_w * s.channels;
  const bool disjoint = WindowsAreDisjoint(s);
  for (std::size_t n = first_sample; n < first_sample + sample_count; ++n) {
    if (disjoint) {
      MaxPoolBackwardImage<true>(s, dout + n * out_floats,
                                 argmax + n * out_floats, din + n * in_floats);
    } else {
      MaxPoolBackwardImage<false>(s, dout + n * out_floats,
                                  argmax + n * out_floats, din + n * in_floats);
    }
  }
}

// dout is out_h × out_w × C, din in_h × in_w × C (one sample): each window
// position receives dout / count.
template <bool kDisjoint>
HWY_INLINE void AvgPoolBackwardImage(const PoolShape& s,
                                     const float* HWY_RESTRICT dout,
                                     float* HWY_RESTRICT din) {
  const hn::ScalableTag<float> d;
  const std::size_t channels = s.channels;
  if constexpr (kDisjoint) {
    ZeroUncovered(s, din);
  } else {
    std::fill(din, din + s.in_h * s.in_w * channels, 0.0f);
  }
  for (std::size_t oy = 0; oy < s.out_h; ++oy) {
    for (std::size_t ox = 0; ox < s.out_w; ++ox) {
      const std::size_t out_offset = (oy * s.out_w + ox) * channels;
      const ClippedWindow w = ClipWindow(s, oy, ox);
      if (w.empty()) continue;
      const float inverse_count = 1.0f / static_cast<float>(w.count());
      ForEachChannelSpan(
          d, channels, [&](auto dc, std::size_t c, auto mask) HWY_ATTR {
            const auto share =
                hn::Mul(LoadSpan(dc, mask, dout + out_offset + c),
                        hn::Set(dc, inverse_count));
            for (std::size_t y = w.y_begin; y < w.y_end; ++y) {
              for (std::size_t x = w.x_begin; x < w.x_end; ++x) {
                float* position = din + (y * s.in_w + x) * channels + c;
                if constexpr (kDisjoint) {
                  StoreSpan(share, dc, mask, position);
                } else {
                  StoreSpan(hn::Add(LoadSpan(dc, mask, position), share), dc,
                            mask, position);
                }
              }
            }
          });
    }
  }
}

// Samples [first_sample, first_sample + sample_count) of the batch.
inline void AvgPoolBackwardSamples(const PoolShape& s, const float* dout,
                                   float* din, std::size_t first_sample,
                                   std::size_t sample_count) {
  const std::size_t out_floats = s.out_h * s.out_w * s.channels;
  const std::size_t in_floats = s.in_h * s.in_w * s.channels;
  const bool disjoint = WindowsAreDisjoint(s);
  for (std::size_t n = first_sample; n < first_sample + sample_count; ++n) {
    if (disjoint) {
      AvgPoolBackwardImage<true>(s, dout + n * out_floats, din + n * in_floats);
    } else {
      AvgPoolBackwardImage<false>(s, dout + n * out_floats,
                                  din + n * in_floats);
    }
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SEQUENT_SRC_KERNELS_POOL_INL_H_
