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
void AdamUpdateReference(float* params, const float* grads, float* m,
                         float* v, std::size_t n, float lr, float beta1,
                         float beta2, float epsilon, float weight_decay,
                         std::int64_t step);

}  // namespace sequent::kernels
