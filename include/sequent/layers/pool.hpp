// MaxPool2D, AvgPool2D and GlobalAveragePooling2D over (H, W, C) images.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "sequent/kernels/pool.hpp"
#include "sequent/layers/geometry.hpp"
#include "sequent/layers/layer.hpp"

namespace sequent {

namespace detail {

// What MaxPool2D and AvgPool2D share: the window geometry and its checks.
template <Window Size, Window Stride, Padding P>
struct PoolBase : LayerDefaults {
  static_assert(Size.h > 0 && Size.w > 0, "a pool window must be at least 1x1");
  static_assert(Stride.h > 0 && Stride.w > 0,
                "a pool stride must be > 0 (a stride of 0)");
  template <class In>
  using geometry = WindowGeometry<In, Size, Stride, P>;
  static constexpr std::array<double, 5> fingerprint_constants = {
      double(Size.h), double(Size.w), double(Stride.h), double(Stride.w),
      double(P == Padding::kSame)};

  template <class In>
  struct output {
    static_assert(In::rank == 3,
                  "pooling needs an (H, W, C) input: put it before Flatten");
    static_assert(In::rank != 3 || geometry<In>::fits,
                  "the pool window is larger than its input: use a smaller "
                  "window or less pooling before this layer");
    using type = Shape<(geometry<In>::y.out > 0 ? geometry<In>::y.out : 1),
                       (geometry<In>::x.out > 0 ? geometry<In>::x.out : 1),
                       Spatial<In>::c>;
  };

  template <class In>
  static kernels::PoolShape pool_shape(std::size_t batch) {
    using g = geometry<In>;
    using in = Spatial<In>;
    return {batch,
            std::size_t(in::h),
            std::size_t(in::w),
            std::size_t(in::c),
            std::size_t(g::y.out),
            std::size_t(g::x.out),
            std::size_t(Size.h),
            std::size_t(Size.w),
            std::size_t(Stride.h),
            std::size_t(Stride.w),
            std::size_t(g::y.pad_before),
            std::size_t(g::x.pad_before)};
  }
  static std::string describe(const char* kind) {
    std::string s = std::string(kind) + "<" + Size.to_string();
    if (Stride.h != Size.h || Stride.w != Size.w)
      s += ", /" + Stride.to_string();
    if (P == Padding::kSame) s += ", same";
    return s + ">";
  }
};

}  // namespace detail

// The largest value of each window; backward routes the gradient to it.
template <Window Size, Window Stride = Size, Padding P = Padding::kValid>
struct MaxPool2D : detail::PoolBase<Size, Stride, P> {
  static constexpr std::string_view tag = "MaxPool2D";
  static std::string name() { return MaxPool2D::describe("MaxPool2D"); }
  static std::string kernel() { return "max-pool kernel"; }
  // Where each output's maximum came from (an int32 per output value).
  template <class In>
  static constexpr std::size_t aux_size =
      MaxPool2D::template output<In>::type::size;

  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    kernels::MaxPoolForward(
        MaxPool2D::template pool_shape<In>(c.batch), c.in, c.out,
        c.training ? reinterpret_cast<std::int32_t*>(c.aux) : nullptr);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    if (c.din == nullptr) return;
    kernels::MaxPoolBackward(
        MaxPool2D::template pool_shape<In>(c.batch), c.dout,
        reinterpret_cast<const std::int32_t*>(c.aux), c.din);
  }
};

// The mean of each window (padding not counted).
template <Window Size, Window Stride = Size, Padding P = Padding::kValid>
struct AvgPool2D : detail::PoolBase<Size, Stride, P> {
  static constexpr std::string_view tag = "AvgPool2D";
  static std::string name() { return AvgPool2D::describe("AvgPool2D"); }
  static std::string kernel() { return "average-pool kernel"; }
  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    kernels::AvgPoolForward(AvgPool2D::template pool_shape<In>(c.batch), c.in,
                            c.out);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    if (c.din == nullptr) return;
    kernels::AvgPoolBackward(AvgPool2D::template pool_shape<In>(c.batch),
                             c.dout, c.din);
  }
};

// (H, W, C) → (C): the mean of each channel over the image.
struct GlobalAveragePooling2D : LayerDefaults {
  static constexpr std::string_view tag = "GlobalAveragePooling2D";
  static std::string name() { return "GlobalAveragePooling2D"; }
  static std::string kernel() { return "average-pool kernel"; }
  template <class In>
  struct output {
    static_assert(In::rank == 3,
                  "GlobalAveragePooling2D needs an (H, W, C) input");
    using type = Shape<detail::Spatial<In>::c>;
  };
  template <class In>
  static kernels::PoolShape pool_shape(std::size_t batch) {
    using in = detail::Spatial<In>;
    return {batch,
            std::size_t(in::h),
            std::size_t(in::w),
            std::size_t(in::c),
            1,
            1,
            std::size_t(in::h),
            std::size_t(in::w),
            1,
            1,
            0,
            0};
  }
  template <class In, class Out>
  static void forward(const ForwardContext& c) {
    kernels::AvgPoolForward(pool_shape<In>(c.batch), c.in, c.out);
  }
  template <class In, class Out>
  static void backward(const BackwardContext& c) {
    if (c.din == nullptr) return;
    kernels::AvgPoolBackward(pool_shape<In>(c.batch), c.dout, c.din);
  }
};

}  // namespace sequent
