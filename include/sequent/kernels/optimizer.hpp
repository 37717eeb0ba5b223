// Optimiser updates: one pass over the flat parameter buffer, whose gradient
// and state buffers share its layout. Target-free declarations; SIMD code in
// src/kernels/optimizer-inl.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sequent::kernels {

// SGD with momentum, in the formulation Keras and PyTorch share:
//   v ← momentum·v + g
//   p ← p − lr·(nesterov ? g + momentum·v : v)
// With momentum == 0 this is plain SGD and velocity is not touched (may be
// null). weight_decay adds weight_decay·p to g first (L2).
void SgdUpdate(float* params, const float* grads, float* velocity,
               std::size_t n, float lr, float momentum, bool nesterov,
               float weight_decay);
void SgdUpdateReference(float* params, const float* grads, float* velocity,
                        std::size_t n, float lr, float momentum, bool nesterov,
                        float weight_decay);

// Adam (Kingma & Ba 2015), as PyTorch computes it; step counts from 1:
//   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
//   p ← p − lr · (m / (1−β1^step)) / (sqrt(v / (1−β2^step)) + ε)
// weight_decay adds weight_decay·p to g first (L2, as torch.optim.Adam).
void AdamUpdate(float* params, const float* grads, float* m, float* v,
                std::size_t n, float lr, float beta1, float beta2,
                float epsilon, float weight_decay, std::int64_t step);
void AdamUpdateReference(float* params, const float* grads, float* m, float* v,
                         std::size_t n, float lr, float beta1, float beta2,
                         float epsilon, float weight_decay, std::int64_t step);

// AdamW (Loshchilov & Hutter 2019): Adam whose weight decay is decoupled
// from the gradient, as Keras' AdamW and torch.optim.AdamW compute it:
//   p ← p·(1 − lr·weight_decay)               (decay from the old p)
//   m, v, p as AdamUpdate with weight_decay 0, i.e.
//   p ← p − lr·(m̂/(sqrt(v̂) + ε) + weight_decay·p_old)
// The moments see the raw gradient only, which is what makes the decay
// independent of Adam's per-element scaling.
void AdamWUpdate(float* params, const float* grads, float* m, float* v,
                 std::size_t n, float lr, float beta1, float beta2,
                 float epsilon, float weight_decay, std::int64_t step);
void AdamWUpdateReference(float* params, const float* grads, float* m, float* v,
                          std::size_t n, float lr, float beta1, float beta2,
                          float epsilon, float weight_decay, std::int64_t step);

// RMSprop (Hinton 2012) exactly as Keras computes it (ε inside the root, and
// the momentum buffer accumulating increments that already include lr):
//   s ← ρ·s + (1−ρ)·g²
//   centered:  a ← ρ·a + (1−ρ)·g,   d = max(s − a², 0) + ε
//   otherwise: d = s + ε
//   Δ = lr·g / sqrt(d)
//   momentum > 0: b ← momentum·b + Δ,  p ← p − b;   otherwise p ← p − Δ
// mean_square holds s; momentum_buffer (b) is used only when momentum != 0
// and average_grad (a) only when centered — each may be null otherwise.
// The max(…, 0) keeps s − a², a variance that rounding can push below zero,
// from making the root NaN; Keras has no such guard.
void RmsPropUpdate(float* params, const float* grads, float* mean_square,
                   float* momentum_buffer, float* average_grad, std::size_t n,
                   float lr, float rho, float momentum, float epsilon,
                   bool centered);
void RmsPropUpdateReference(float* params, const float* grads,
                            float* mean_square, float* momentum_buffer,
                            float* average_grad, std::size_t n, float lr,
                            float rho, float momentum, float epsilon,
                            bool centered);

// One kernel under a weight penalty: params[offset, offset + count) with
// factors l1, l2 ≥ 0 (Keras' kernel_regularizer=L1L2(l1, l2); L1(λ) and
// L2(λ) are the cases with the other factor 0).
struct PenaltyRange {
  std::size_t offset;
  std::size_t count;
  float l1;
  float l2;
};

// Kernel penalties over a table of ranges, one pass over each:
//   grads[i] += l1·sign(params[i]) + 2·l2·params[i]   for every i of every
//       range (skipped when grads is null); sign(0) = 0, the subgradient
//       TensorFlow takes for |w| at 0,
// and returns the penalty Σ_ranges (l1·Σ |params[i]| + l2·Σ params[i]²),
// accumulated in blocks of fixed size whose sums are added in a fixed order,
// so the result does not depend on the thread count. A range with l1 = 0
// costs what an L2-only pass costs and gives its bits. A NaN weight makes
// its gradient and the penalty NaN (train_step then refuses the update).
// Ranges must not overlap.
double KernelPenalty(const float* params, float* grads,
                     const PenaltyRange* ranges, std::size_t range_count);
double KernelPenaltyReference(const float* params, float* grads,
                              const PenaltyRange* ranges,
                              std::size_t range_count);

}  // namespace sequent::kernels
