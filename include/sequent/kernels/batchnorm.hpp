// Batch normalisation (Ioffe & Szegedy 2015) over rows × channels, where rows
// = batch · height · width for NHWC images. Target-free declarations; SIMD
// code in src/kernels/batchnorm-inl.h.
#pragma once

#include <cstddef>

#include "sequent/kernels/activation.hpp"

namespace sequent::kernels {

// Training: per channel c, over all rows,
//   mean_c = Σ x / rows,  var_c = Σ (x − mean_c)² / rows   (biased),
//   y = act(gamma_c · (x − mean_c) / sqrt(var_c + eps) + beta_c).
// Writes mean and inv_std = 1/sqrt(var + eps) (channels each) for backward,
// and updates the running statistics as Keras does:
//   running = momentum · running + (1 − momentum) · batch value,
// with the unbiased variance (× rows/(rows−1), or × 1 when rows = 1) for
// running_var. y may equal x. alpha is the slope of kLeakyReLU (see
// activation.hpp) and is ignored by the other activations. rows = 0 writes
// nothing. Results do not depend on the OpenMP thread count: partial sums
// are taken over fixed row ranges and combined in a fixed order.
void BatchNormForwardTraining(const float* x, std::size_t rows,
                              std::size_t channels, const float* gamma,
                              const float* beta, float eps, float momentum,
                              float* running_mean, float* running_var,
                              float* mean, float* inv_std, float* y,
                              Activation act, float alpha = 0.0f);
void BatchNormForwardTrainingReference(const float* x, std::size_t rows,
                                       std::size_t channels, const float* gamma,
                                       const float* beta, float eps,
                                       float momentum, float* running_mean,
                                       float* running_var, float* mean,
                                       float* inv_std, float* y, Activation act,
                                       float alpha = 0.0f);

// Backward through act ∘ batchnorm. y is the forward output (for act'), x
// its input; dy may be overwritten, and dx may equal dy (in place). Writes
// dx (rows × channels) and dgamma, dbeta (channels):
//   dz = dy · act'(y),  x̂ = (x − mean) · inv_std,
//   dbeta = Σ dz,  dgamma = Σ dz · x̂,
//   dx = gamma · inv_std / rows · (rows · dz − dbeta − x̂ · dgamma).
// alpha as in the forward pass.
void BatchNormBackward(const float* x, const float* y, float* dy,
                       std::size_t rows, std::size_t channels,
                       const float* gamma, const float* mean,
                       const float* inv_std, Activation act, float* dx,
                       float* dgamma, float* dbeta, float alpha = 0.0f);
void BatchNormBackwardReference(const float* x, const float* y, float* dy,
                                std::size_t rows, std::size_t channels,
                                const float* gamma, const float* mean,
                                const float* inv_std, Activation act, float* dx,
                                float* dgamma, float* dbeta,
                                float alpha = 0.0f);

// Inference: y = act(scale_c · x + shift_c), with scale = gamma / sqrt(var +
// eps) and shift = beta − mean · scale precomputed by the caller (or folded
// into a preceding convolution instead). y may equal x; alpha as above.
void ScaleShift(const float* x, std::size_t rows, std::size_t channels,
                const float* scale, const float* shift, float* y,
                Activation act, float alpha = 0.0f);
void ScaleShiftReference(const float* x, std::size_t rows, std::size_t channels,
                         const float* scale, const float* shift, float* y,
                         Activation act, float alpha = 0.0f);

}  // namespace sequent::kernels
