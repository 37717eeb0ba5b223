// Max and average pooling over NHWC tensors. Target-free declarations; SIMD
// code in src/kernels/pool-inl.h.
//
//   in  batch × in_h × in_w × channels,  out batch × out_h × out_w × channels
//   window (y, x) covers in rows y·sh − pad_top … + window_h − 1 (and columns
//   likewise); positions outside the image are ignored (max) or not counted
//   (average, Keras' "same" padding behaviour). A window wholly in the
//   padding (which Valid and Same geometry never produce) gives 0, and
//   argmax −1, which backward skips.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sequent::kernels {

struct PoolShape {
  std::size_t batch = 0;
  std::size_t in_h = 0, in_w = 0, channels = 0;
  std::size_t out_h = 0, out_w = 0;
  std::size_t window_h = 0, window_w = 0;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t pad_top = 0, pad_left = 0;
};

// out = max over each window; argmax[i] (if non-null) = the index within the
// sample's input (y·in_w + x)·channels + c of the chosen value, for backward.
void MaxPoolForward(const PoolShape& s, const float* in, float* out,
                    std::int32_t* argmax);
void MaxPoolForwardReference(const PoolShape& s, const float* in, float* out,
                             std::int32_t* argmax);
// din = 0, then din[argmax[i]] += dout[i] (per sample).
void MaxPoolBackward(const PoolShape& s, const float* dout,
                     const std::int32_t* argmax, float* din);
void MaxPoolBackwardReference(const PoolShape& s, const float* dout,
                              const std::int32_t* argmax, float* din);

// out = mean over the valid positions of each window.
void AvgPoolForward(const PoolShape& s, const float* in, float* out);
void AvgPoolForwardReference(const PoolShape& s, const float* in, float* out);
// din = Σ over windows containing the position of dout / window count.
void AvgPoolBackward(const PoolShape& s, const float* dout, float* din);
void AvgPoolBackwardReference(const PoolShape& s, const float* dout,
                              float* din);

}  // namespace sequent::kernels
