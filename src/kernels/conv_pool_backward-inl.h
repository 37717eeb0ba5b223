// Backward of Conv2D[+activation]+MaxPool2D in training, from the pooled
// gradient alone (ConvBackwardMaxPool in conv.hpp).
//
// A max-pool passes each pooled gradient to one convolution output, its
// window's maximum, and nothing to the rest: behind a 2×2 pool at least
// three quarters of the convolution's output gradient are zeros, and a ReLU
// zeroes about half of what is left. The dense backward multiplies all of
// them. Here the non-zero gradients are gathered first, per output channel
// (a PooledEntry: the patch's offset in the input and the gradient), then
//
//   dW[:, :, :, o] = Σ_entries g · patch(in)      (kh rows of kw·in_c floats)
//   din patch      += g · W[:, :, :, o]           for every entry
//
// each a run of FMAs along a patch row, which NHWC keeps contiguous for any
// stride. Patches that cross the image border (padding) or end too close
// to the end of `in` for whole-vector loads go through a scalar path.
//
// Threads split dW by output channels and din by images, so every result
// is bitwise independent of the thread count: a channel's and an image's
// sums always run in the same order.

#if defined(SEQUENT_SRC_KERNELS_CONV_POOL_BACKWARD_INL_H_) == \
    defined(HWY_TARGET_TOGGLE)
#ifdef SEQUENT_SRC_KERNELS_CONV_POOL_BACKWARD_INL_H_
#undef SEQUENT_SRC_KERNELS_CONV_POOL_BACKWARD_INL_H_
#else
#define SEQUENT_SRC_KERNELS_CONV_POOL_BACKWARD_INL_H_
#endif

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "activation-inl.h"        // ActivationGradient
#include "conv_microkernel-inl.h"  // ThreadsFor
#include "conv_pack-inl.h"         // ScratchSlot
#include "hwy/highway.h"
#include "partial_vector-inl.h"
#include "sequent/kernels/conv.hpp"
#include "sequent/kernels/pool.hpp"

HWY_BEFORE_NAMESPACE();
namespace sequent::kernels::HWY_NAMESPACE {
namespace conv_internal {
namespace hn = hwy::HWY_NAMESPACE;

// A convolution output that receives gradient g, its patch wholly inside
// the input: offset = the patch's first float in `in` (and in `din`).
struct PooledEntry {
  std::int32_t offset;
  float g;
};
// One whose patch crosses the border: its output position.
struct BorderEntry {
  std::int32_t b, oy, ox;
  float g;
};

// The non-zero gradients of a chunk of images [b_begin, b_end), per
// output channel and, within a channel, per image in order: channel o's
// entries of image b are [start[o·(images+1) + b − b_begin], … + 1) in its
// list. Chunks keep the lists in L1/L2 (all of them at once, for LeNet's
// first layer at batch 64, were 600 KiB of scattered stores).
struct PooledLists {
  std::size_t b_begin, b_end;
  std::size_t capacity;  // entries one channel may hold
  PooledEntry* entries;  // channel o at entries + o · capacity
  BorderEntry* border;   // likewise
  std::size_t* start;    // out_c × (images + 1)
  std::size_t* border_start;
  std::size_t images() const { return b_end - b_begin; }
};

// Patch geometry shared by both halves.
struct PatchRows {
  std::size_t row_floats;  // kw · in_c: one patch row, contiguous
  std::size_t in_row;      // in_w · in_c: from one input row to the next
  std::size_t image;       // in_h · in_w · in_c
};

inline PatchRows RowsOf(const ConvShape& s) {
  return {s.kernel_w * s.in_c, s.in_w * s.in_c, s.in_h * s.in_w * s.in_c};
}

// Gathers the lists of channels [o_begin, o_end) for l's images. An entry
// is interior only if its patch is inside the image and its whole-vector
// row loads, `reach` floats from its offset, stay inside `in`.
//
// Everything is computed a vector of channels at a time: the gradients,
// the maximum's position (from argmax, by compares, without divisions),
// its patch offset and whether it is interior. Then every lane's entry is
// stored at its list's end and the count advanced by 0 or 1, without a
// branch: behind a ReLU whether a gradient is zero is a coin toss, and the
// earlier loop over the non-zero lanes, a mispredicted branch per entry,
// was a sixth of LeNet's training step. A lane that is not kept leaves
// its store one past its list's end, where the next entry overwrites it; a
// channel's count never exceeds the pooled values seen, so the store stays
// inside the channel's capacity. Border entries, rare, go lane by lane.
template <Activation kAct, class D>
HWY_NOINLINE void GatherPooledEntriesFor(
    D d, const ConvShape& s, const PoolShape& p,
    const float* HWY_RESTRICT dpooled, const std::int32_t* HWY_RESTRICT argmax,
    const float* HWY_RESTRICT pooled, float alpha, std::size_t reach,
    std::size_t o_begin, std::size_t o_end, const PooledLists& l) {
  using Index = std::ptrdiff_t;
  using V = hn::Vec<D>;
  const hn::RebindToSigned<D> di;
  using VI = hn::Vec<decltype(di)>;
  const std::size_t lanes = hn::Lanes(d);
  const V alpha_v = hn::Set(d, alpha);
  // Per lane: the entry {offset, g} as two int32, and the output position.
  HWY_ALIGN std::int32_t pairs[2 * hn::MaxLanes(D())];
  HWY_ALIGN std::int32_t oy_lanes[hn::MaxLanes(D())];
  HWY_ALIGN std::int32_t ox_lanes[hn::MaxLanes(D())];
  const PatchRows rows = RowsOf(s);
  const std::size_t c_out = s.out_c;
  const std::size_t starts = l.images() + 1;
  const Index conv_row = static_cast<Index>(s.out_w * c_out);
  const Index channels = static_cast<Index>(c_out);
  const Index in_row = static_cast<Index>(rows.in_row);
  const Index in_c = static_cast<Index>(s.in_c);
  const Index stride_h = static_cast<Index>(s.stride_h);
  const Index stride_w = static_cast<Index>(s.stride_w);
  const Index pad_top = static_cast<Index>(s.pad_top);
  const Index pad_left = static_cast<Index>(s.pad_left);
  // The output rows and columns whose patches lie inside the image:
  // 0 ≤ oy·stride − pad ≤ in − kernel.
  const Index oy_lo = (pad_top + stride_h - 1) / stride_h;
  const Index oy_hi =
      (static_cast<Index>(s.in_h - s.kernel_h) + pad_top) / stride_h;
  const Index ox_lo = (pad_left + stride_w - 1) / stride_w;
  const Index ox_hi =
      (static_cast<Index>(s.in_w - s.kernel_w) + pad_left) / stride_w;
  const Index last_offset =
      static_cast<Index>(s.batch * rows.image) - static_cast<Index>(reach);
  const auto set = [&](Index x) {
    return hn::Set(di, static_cast<std::int32_t>(x));
  };
  const VI conv_row_v = set(conv_row), channels_v = set(channels);
  const VI conv_row_less = set(conv_row - 1), channels_less = set(channels - 1);
  const VI down_v = set(stride_h * in_row), right_v = set(stride_w * in_c);
  const VI oy_lo_v = set(oy_lo), oy_hi_v = set(oy_hi);
  const VI ox_lo_v = set(ox_lo), ox_hi_v = set(ox_hi);
  const VI last_offset_v = set(last_offset);
  const VI lane_index = hn::Iota(di, 0);
  const std::size_t per_sample = p.out_h * p.out_w * c_out;
  for (std::size_t o = o_begin; o < o_end; ++o) {
    l.start[o * starts] = 0;
    l.border_start[o * starts] = 0;
  }
  for (std::size_t b = l.b_begin; b < l.b_end; ++b) {
    const Index image = static_cast<Index>(b * rows.image);
    const std::size_t slot = b - l.b_begin + 1;
    // Slot b + 1 of each channel counts its entries until image b is done.
    for (std::size_t o = o_begin; o < o_end; ++o) {
      l.start[o * starts + slot] = l.start[o * starts + slot - 1];
      l.border_start[o * starts + slot] = l.border_start[o * starts + slot - 1];
    }
    std::size_t* count = l.start + slot;  // channel o's at count[o · starts]
    std::size_t pixel = b * per_sample;   // pooled index of channel 0
    for (std::size_t py = 0; py < p.out_h; ++py) {
      const Index wy0 =
          static_cast<Index>(py * p.stride_h) - static_cast<Index>(p.pad_top);
      const Index oy0 = std::max<Index>(wy0, 0);
      for (std::size_t px = 0; px < p.out_w; ++px, pixel += c_out) {
        const Index wx0 = static_cast<Index>(px * p.stride_w) -
                          static_cast<Index>(p.pad_left);
        const Index ox0 = std::max<Index>(wx0, 0);
        const Index first = oy0 * conv_row + ox0 * channels;
        const Index first_offset = image + (oy0 * stride_h - pad_top) * in_row +
                                   (ox0 * stride_w - pad_left) * in_c;
        for (std::size_t o0 = o_begin; o0 < o_end; o0 += lanes) {
          const std::size_t n = std::min(lanes, o_end - o0);
          const V g = ActivationGradient<kAct>(
              d, LoadFirst(d, pooled + pixel + o0, n),
              LoadFirst(d, dpooled + pixel + o0, n), alpha_v);
          const VI at = hn::BitCast(
              di,
              LoadFirst(d, reinterpret_cast<const float*>(argmax + pixel + o0),
                        n));
          // The maximum's steps down and right from the window's first
          // position inside the image, as many as the window has rows and
          // columns; each step moves the patch by a stride.
          VI rem = hn::Sub(
              at, hn::Add(set(first + static_cast<Index>(o0)), lane_index));
          VI oy = set(oy0), ox = set(ox0), offset = set(first_offset);
          for (std::size_t k = 1; k < p.window_h; ++k) {
            const auto down = hn::Gt(rem, conv_row_less);
            rem = hn::Sub(rem, hn::IfThenElseZero(down, conv_row_v));
            oy = hn::Sub(oy, hn::VecFromMask(di, down));  // mask lanes are −1
            offset = hn::Add(offset, hn::IfThenElseZero(down, down_v));
          }
          for (std::size_t k = 1; k < p.window_w; ++k) {
            const auto right = hn::Gt(rem, channels_less);
            rem = hn::Sub(rem, hn::IfThenElseZero(right, channels_v));
            ox = hn::Sub(ox, hn::VecFromMask(di, right));
            offset = hn::Add(offset, hn::IfThenElseZero(right, right_v));
          }
          // at < 0: a window wholly in the padding.
          const auto valid = hn::And(hn::Ne(g, hn::Zero(d)),
                                     hn::RebindMask(d, hn::Gt(at, set(-1))));
          const auto outside =
              hn::Or(hn::Or(hn::Lt(oy, oy_lo_v), hn::Gt(oy, oy_hi_v)),
                     hn::Or(hn::Or(hn::Lt(ox, ox_lo_v), hn::Gt(ox, ox_hi_v)),
                            hn::Gt(offset, last_offset_v)));
          const auto border = hn::And(valid, hn::RebindMask(d, outside));
          const auto keep = hn::AndNot(border, valid);
          hn::StoreInterleaved2(offset, hn::BitCast(di, g), di, pairs);
          std::uint64_t keep_bits = 0;
          hn::StoreMaskBits(d, keep,
                            reinterpret_cast<std::uint8_t*>(&keep_bits));
          for (std::size_t lane = 0; lane < n; ++lane) {
            std::size_t& c = count[(o0 + lane) * starts];
            std::memcpy(l.entries + (o0 + lane) * l.capacity + c,
                        pairs + 2 * lane, sizeof(PooledEntry));
            c += (keep_bits >> lane) & 1;
          }
          if (HWY_LIKELY(hn::AllFalse(d, border))) continue;
          std::uint64_t border_bits = 0;
          hn::StoreMaskBits(d, border,
                            reinterpret_cast<std::uint8_t*>(&border_bits));
          hn::Store(oy, di, oy_lanes);
          hn::Store(ox, di, ox_lanes);
          for (; border_bits != 0; border_bits &= border_bits - 1) {
            const std::size_t lane = static_cast<std::size_t>(
                hwy::Num0BitsBelowLS1Bit_Nonzero64(border_bits));
            const std::size_t o = o0 + lane;
            float g_lane;
            std::memcpy(&g_lane, pairs + 2 * lane + 1, sizeof(float));
            std::size_t& c = l.border_start[o * starts + slot];
            l.border[o * l.capacity + c] = {static_cast<std::int32_t>(b),
                                            oy_lanes[lane], ox_lanes[lane],
                                            g_lane};
            ++c;
          }
        }
      }
    }
  }
}

template <class D>
void GatherPooledEntries(D d, const ConvShape& s, const PoolShape& p,
                         const float* dpooled, const std::int32_t* argmax,
                         const float* pooled, Activation act, float alpha,
                         std::size_t reach, std::size_t o_begin,
                         std::size_t o_end, const PooledLists& l) {
  switch (act) {
    case Activation::kIdentity:
      return GatherPooledEntriesFor<Activation::kIdentity>(
          d, s, p, dpooled, argmax, pooled, alpha, reach, o_begin, o_end, l);
    case Activation::kReLU:
      return GatherPooledEntriesFor<Activation::kReLU>(
          d, s, p, dpooled, argmax, pooled, alpha, reach, o_begin, o_end, l);
    case Activation::kLeakyReLU:
      return GatherPooledEntriesFor<Activation::kLeakyReLU>(
          d, s, p, dpooled, argmax, pooled, alpha, reach, o_begin, o_end, l);
    case Activation::kSigmoid:
      return GatherPooledEntriesFor<Activation::kSigmoid>(
          d, s, p, dpooled, argmax, pooled, alpha, reach, o_begin, o_end, l);
    case Activation::kTanh:
      return GatherPooledEntriesFor<Activation::kTanh>(
          d, s, p, dpooled, argmax, pooled, alpha, reach, o_begin, o_end, l);
  }
}

// Up to kMaxPieces pieces of kVecs vectors each, accumulated in registers
// over entries [e, e_end): piece j reads in[entry offset + offsets[j] …].
// The sums are added to out (pieces × kVecs vectors).
template <std::size_t kVecs, class D>
HWY_NOINLINE void PooledGradientPieces(D d, const float* HWY_RESTRICT in,
                                       const PooledEntry* e,
                                       const PooledEntry* e_end,
                                       const std::size_t* offsets,
                                       std::size_t pieces,
                                       float* HWY_RESTRICT out) {
  using V = hn::Vec<D>;
  constexpr std::size_t kMaxPieces = 12 / kVecs;  // accumulators in registers
  const std::size_t lanes = hn::Lanes(d);
  V acc[kMaxPieces][kVecs];
  // Unrolled: a loop over the array became `rep stos` of the stack.
  HWY_UNROLL(12)
  for (std::size_t j = 0; j < kMaxPieces; ++j) {
    HWY_UNROLL(4)
    for (std::size_t v = 0; v < kVecs; ++v) acc[j][v] = hn::Zero(d);
  }
  for (; e != e_end; ++e) {
    const float* base = in + e->offset;
    const V g = hn::Set(d, e->g);
    HWY_UNROLL(12)
    for (std::size_t j = 0; j < kMaxPieces; ++j) {
      if (j < pieces) {
        HWY_UNROLL(4)
        for (std::size_t v = 0; v < kVecs; ++v) {
          acc[j][v] = hn::MulAdd(g, hn::LoadU(d, base + offsets[j] + v * lanes),
                                 acc[j][v]);
        }
      }
    }
  }
  for (std::size_t j = 0; j < pieces; ++j) {
    for (std::size_t v = 0; v < kVecs; ++v) {
      float* sum = out + (j * kVecs + v) * lanes;
      hn::StoreU(hn::Add(hn::LoadU(d, sum), acc[j][v]), d, sum);
    }
  }
}

// How dW's patch is cut into pieces for PooledGradientPieces.
struct PieceLayout {
  std::size_t vecs;          // vectors per piece (1 to 4)
  std::size_t per_row;       // pieces per patch row
  std::size_t piece_floats;  // vecs · lanes
  std::size_t reach;         // floats an interior entry's loads reach
};

inline PieceLayout PiecesFor(const ConvShape& s, std::size_t lanes) {
  const PatchRows rows = RowsOf(s);
  const std::size_t row_vecs = (rows.row_floats + lanes - 1) / lanes;
  PieceLayout l;
  l.vecs = std::min<std::size_t>(row_vecs, 4);
  l.per_row = (row_vecs + l.vecs - 1) / l.vecs;
  l.piece_floats = l.vecs * lanes;
  l.reach = (s.kernel_h - 1) * rows.in_row + l.per_row * l.piece_floats;
  return l;
}

// Calls tap(ky, kx, pixel) for each kernel tap of a border entry that falls
// inside the image, pixel = the offset of its input pixel in `in` (and din).
template <class Tap>
HWY_INLINE void ForEachInsideTap(const ConvShape& s, const PatchRows& rows,
                                 const BorderEntry& be, const Tap& tap) {
  using Index = std::ptrdiff_t;
  for (std::size_t ky = 0; ky < s.kernel_h; ++ky) {
    const Index iy = Index{be.oy} * static_cast<Index>(s.stride_h) +
                     static_cast<Index>(ky) - static_cast<Index>(s.pad_top);
    if (iy < 0 || iy >= static_cast<Index>(s.in_h)) continue;
    for (std::size_t kx = 0; kx < s.kernel_w; ++kx) {
      const Index ix = Index{be.ox} * static_cast<Index>(s.stride_w) +
                       static_cast<Index>(kx) - static_cast<Index>(s.pad_left);
      if (ix < 0 || ix >= static_cast<Index>(s.in_w)) continue;
      tap(ky, kx,
          static_cast<std::size_t>(be.b) * rows.image +
              static_cast<std::size_t>(iy) * rows.in_row +
              static_cast<std::size_t>(ix) * s.in_c);
    }
  }
}

// Adds channels [o_begin, o_end)'s entries of l to their dW sums
// (channel o at sums + o · sum_floats: row ky of the patch at
// ky · per_row · piece_floats) and their gradients to bias_sums[o].
template <class D>
void AddPooledWeightGradient(D d, const ConvShape& s, const PieceLayout& pl,
                             const float* HWY_RESTRICT in, const PooledLists& l,
                             std::size_t o_begin, std::size_t o_end,
                             float* HWY_RESTRICT sums,
                             float* HWY_RESTRICT bias_sums) {
  const PatchRows rows = RowsOf(s);
  const std::size_t pieces = s.kernel_h * pl.per_row;
  const std::size_t sum_row = pl.per_row * pl.piece_floats;
  const std::size_t sum_floats = s.kernel_h * sum_row;
  const std::size_t max_group = 12 / pl.vecs;
  const std::size_t images = l.images();
  std::size_t offsets[12];
  for (std::size_t o = o_begin; o < o_end; ++o) {
    float* sum_o = sums + o * sum_floats;
    const std::size_t first = o * (images + 1);
    const PooledEntry* e = l.entries + o * l.capacity;
    const PooledEntry* e_end = e + l.start[first + images];
    for (std::size_t j0 = 0; j0 < pieces; j0 += max_group) {
      const std::size_t group = std::min(max_group, pieces - j0);
      for (std::size_t j = 0; j < group; ++j) {
        const std::size_t piece = j0 + j;
        offsets[j] = piece / pl.per_row * rows.in_row +
                     piece % pl.per_row * pl.piece_floats;
      }
      float* out = sum_o + j0 * pl.piece_floats;
      switch (pl.vecs) {
        case 1:
          PooledGradientPieces<1>(d, in, e, e_end, offsets, group, out);
          break;
        case 2:
          PooledGradientPieces<2>(d, in, e, e_end, offsets, group, out);
          break;
        case 3:
          PooledGradientPieces<3>(d, in, e, e_end, offsets, group, out);
          break;
        default:
          PooledGradientPieces<4>(d, in, e, e_end, offsets, group, out);
          break;
      }
    }
    float bias = 0.0f;
    for (const PooledEntry* x = e; x != e_end; ++x) bias += x->g;
    const BorderEntry* be = l.border + o * l.capacity;
    const BorderEntry* be_end = be + l.border_start[first + images];
    for (; be != be_end; ++be) {
      bias += be->g;
      ForEachInsideTap(s, rows, *be,
                       [&](std::size_t ky, std::size_t kx, std::size_t pixel) {
                         float* sum = sum_o + ky * sum_row + kx * s.in_c;
                         for (std::size_t c = 0; c < s.in_c; ++c) {
                           sum[c] += be->g * in[pixel + c];
                         }
                       });
    }
    bias_sums[o] += bias;
  }
}

// din of l's images: zeroed, then every entry's weighted kernel added. wt:
// channel o's kernel rows, wt + (o · kh + ky) · wt_row, zero past kw · in_c.
template <class D>
void PooledDataGradient(D d, const ConvShape& s, const PooledLists& l,
                        const float* HWY_RESTRICT wt, std::size_t wt_row,
                        const float* HWY_RESTRICT weights,
                        float* HWY_RESTRICT din) {
  using V = hn::Vec<D>;
  const std::size_t lanes = hn::Lanes(d);
  const PatchRows rows = RowsOf(s);
  const std::size_t images = l.images();
  std::fill(din + l.b_begin * rows.image, din + l.b_end * rows.image, 0.0f);
  const std::size_t whole = rows.row_floats / lanes;
  const std::size_t tail = rows.row_floats - whole * lanes;
  const std::size_t row_vecs = whole + (tail != 0);
  // Whole vectors run past a patch row onto its neighbours, adding g · 0
  // (the kernel rows are zero-padded): harmless within this thread's own
  // image, so only entries whose last row ends too close to the image's end
  // store their last vector lane-exact.
  const std::size_t full_reach =
      (s.kernel_h - 1) * rows.in_row + row_vecs * lanes;
  for (std::size_t o = 0; o < s.out_c; ++o) {
    const std::size_t first = o * (images + 1);
    const PooledEntry* list = l.entries + o * l.capacity;
    const float* w_o = wt + o * s.kernel_h * wt_row;
    for (std::size_t b = 0; b < images; ++b) {
      const std::size_t image_end = (l.b_begin + b + 1) * rows.image;
      const PooledEntry* e_end = list + l.start[first + b + 1];
      for (const PooledEntry* e = list + l.start[first + b]; e != e_end; ++e) {
        const V g = hn::Set(d, e->g);
        float* patch = din + e->offset;
        // Whole vectors to the row's end, or, near the image's end, all
        // but a partial last one, stored lane-exact.
        const bool spill =
            static_cast<std::size_t>(e->offset) + full_reach <= image_end;
        const std::size_t vecs = spill ? row_vecs : whole;
        for (std::size_t ky = 0; ky < s.kernel_h; ++ky) {
          float* row = patch + ky * rows.in_row;
          const float* w_row = w_o + ky * wt_row;
          for (std::size_t v = 0; v < vecs; ++v) {
            const V sum = hn::MulAdd(g, hn::LoadU(d, w_row + v * lanes),
                                     hn::LoadU(d, row + v * lanes));
            hn::StoreU(sum, d, row + v * lanes);
          }
          if (!spill && tail != 0) {
            float* last = row + whole * lanes;
            const V sum = hn::MulAdd(g, hn::LoadU(d, w_row + whole * lanes),
                                     LoadFirst(d, last, tail));
            StoreFirst(d, sum, last, tail);
          }
        }
      }
    }
    const BorderEntry* be = l.border + o * l.capacity;
    const BorderEntry* be_end = be + l.border_start[first + images];
    for (; be != be_end; ++be) {
      ForEachInsideTap(
          s, rows, *be, [&](std::size_t ky, std::size_t kx, std::size_t pixel) {
            const float* w =
                weights + (ky * s.kernel_w + kx) * s.in_c * s.out_c + o;
            for (std::size_t c = 0; c < s.in_c; ++c) {
              din[pixel + c] += be->g * w[c * s.out_c];
            }
          });
    }
  }
}

// Images per chunk: the lists of one chunk (8 bytes an entry, every
// channel) in about 24 KiB. A function of the shape alone, so that dW's
// sums run in the same order on any number of threads.
inline std::size_t PooledChunkImages(const ConvShape& s, const PoolShape& p) {
  const std::size_t per_image = p.out_h * p.out_w * s.out_c * 8;
  return std::max<std::size_t>(1,
                               24 * 1024 / std::max<std::size_t>(per_image, 1));
}

}  // namespace conv_internal

// in: batch × in_h × in_w × in_c (the convolution's input); weights
// kh × kw × in_c × out_c; dpooled, argmax, pooled: the pool's output
// gradient, MaxPoolForward's indices and output (batch × p.out_h × p.out_w
// × out_c); din (may be null) like in; dweights like weights; dbias
// (may be null) out_c.
inline void ConvBackwardMaxPoolImpl(
    const ConvShape& s, const PoolShape& p, const float* HWY_RESTRICT in,
    const float* HWY_RESTRICT weights, const float* HWY_RESTRICT dpooled,
    const std::int32_t* HWY_RESTRICT argmax, const float* HWY_RESTRICT pooled,
    Activation act, float alpha, float* HWY_RESTRICT din,
    float* HWY_RESTRICT dweights, float* HWY_RESTRICT dbias) {
  using namespace conv_internal;  // NOLINT(build/namespaces)
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  const PatchRows rows = RowsOf(s);
  const PieceLayout pl = PiecesFor(s, lanes);
  const std::size_t chunk = PooledChunkImages(s, p);
  // Shared scratch (the calling thread's): dW's sums per channel, the bias
  // sums, the transposed kernel. Each thread's lists in its own scratch.
  const std::size_t sum_floats = s.kernel_h * pl.per_row * pl.piece_floats;
  const std::size_t wt_row = (rows.row_floats + lanes - 1) / lanes * lanes;
  const std::size_t wt_floats = s.out_c * s.kernel_h * wt_row;
  float* shared = ThreadScratch(ScratchSlot::kOperandB,
                                s.out_c * (sum_floats + 1) + wt_floats);
  float* sums = shared;
  float* bias_sums = sums + s.out_c * sum_floats;
  float* wt = bias_sums + s.out_c;
  std::fill(sums, sums + s.out_c * (sum_floats + 1), 0.0f);
  if (din != nullptr) {
    std::fill(wt, wt + wt_floats, 0.0f);
    for (std::size_t o = 0; o < s.out_c; ++o) {
      for (std::size_t ky = 0; ky < s.kernel_h; ++ky) {
        for (std::size_t col = 0; col < rows.row_floats; ++col) {
          wt[(o * s.kernel_h + ky) * wt_row + col] =
              weights[(ky * rows.row_floats + col) * s.out_c + o];
        }
      }
    }
  }
  const std::size_t pooled_per_image = p.out_h * p.out_w;
  const int threads = ThreadsFor(s.batch * pooled_per_image * s.out_c *
                                 s.kernel_h * rows.row_floats / 2);
  // Runs on each thread: dW for channels [o_begin, o_end) over every image,
  // then din for images [b_begin, b_end).
  const auto work = [&](std::size_t o_begin, std::size_t o_end,
                        std::size_t b_begin, std::size_t b_end) {
    const std::size_t capacity = std::min(chunk, s.batch) * pooled_per_image;
    const std::size_t starts = s.out_c * (std::min(chunk, s.batch) + 1);
    float* own = ThreadScratch(ScratchSlot::kPooledGradient,
                               s.out_c * capacity * 6 + starts * 4 + 16);
    PooledLists l;
    l.capacity = capacity;
    l.entries = reinterpret_cast<PooledEntry*>(own);
    l.border = reinterpret_cast<BorderEntry*>(own + s.out_c * capacity * 2);
    l.start = reinterpret_cast<std::size_t*>(own + s.out_c * capacity * 6);
    l.border_start = l.start + starts;
    const bool both = din != nullptr && o_begin == 0 && o_end == s.out_c &&
                      b_begin == 0 && b_end == s.batch;
    for (std::size_t b = 0; b < s.batch && o_begin < o_end; b += chunk) {
      l.b_begin = b;
      l.b_end = std::min(s.batch, b + chunk);
      GatherPooledEntries(d, s, p, dpooled, argmax, pooled, act, alpha,
                          pl.reach, o_begin, o_end, l);
      AddPooledWeightGradient(d, s, pl, in, l, o_begin, o_end, sums, bias_sums);
      if (both) PooledDataGradient(d, s, l, wt, wt_row, weights, din);
    }
    if (din == nullptr || both) return;
    for (std::size_t b = b_begin; b < b_end; b += chunk) {
      l.b_begin = b;
      l.b_end = std::min(b_end, b + chunk);
      GatherPooledEntries(d, s, p, dpooled, argmax, pooled, act, alpha,
                          pl.reach, 0, s.out_c, l);
      PooledDataGradient(d, s, l, wt, wt_row, weights, din);
    }
  };
  if (threads <= 1) {
    work(0, s.out_c, 0, s.batch);
  } else {
#pragma omp parallel num_threads(threads)
    {
      const std::size_t team = static_cast<std::size_t>(omp_get_num_threads());
      const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
      work(s.out_c * t / team, s.out_c * (t + 1) / team, s.batch * t / team,
           s.batch * (t + 1) / team);
    }
  }
  // dW from the sums: sums[o][ky · per_row · piece_floats + col] is
  // dW[ky, col, o] for col < kw · in_c.
  const std::size_t sum_row = pl.per_row * pl.piece_floats;
  for (std::size_t o = 0; o < s.out_c; ++o) {
    const float* sum_o = sums + o * sum_floats;
    for (std::size_t ky = 0; ky < s.kernel_h; ++ky) {
      for (std::size_t col = 0; col < rows.row_floats; ++col) {
        dweights[(ky * rows.row_floats + col) * s.out_c + o] =
            sum_o[ky * sum_row + col];
      }
    }
    if (dbias != nullptr) dbias[o] = bias_sums[o];
  }
}

}  // namespace sequent::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
