// Losses and their gradients over a batch, plus the argmax used for accuracy.
// Each returns the SUM of the per-sample losses (the caller divides) and, when
// the gradient pointer is non-null, writes d(loss)/d(input) · grad_scale.
// Target-free declarations; SIMD code in src/kernels/loss-inl.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sequent::kernels {

// logits rows×cols; labels[r] in [0, cols) (checked by the caller).
// probs[r] = softmax(logits[r]) (probs may be null);
// loss_r = logsumexp(logits[r]) − logits[r][label]  (stable for any logits);
// dlogits[r][c] = (probs[r][c] − [c == label]) · grad_scale.
double SparseSoftmaxCrossEntropy(const float* logits, const std::int32_t* labels,
                                 std::size_t rows, std::size_t cols,
                                 float grad_scale, float* probs,
                                 float* dlogits);
double SparseSoftmaxCrossEntropyReference(const float* logits,
                                          const std::int32_t* labels,
                                          std::size_t rows, std::size_t cols,
                                          float grad_scale, float* probs,
                                          float* dlogits);

// As above with a target distribution per row (one-hot or soft labels):
// loss_r = Σ_c t[r][c]·(logsumexp(logits[r]) − logits[r][c]);
// dlogits = (probs·Σ_c t[r][c] − t) · grad_scale.
double SoftmaxCrossEntropy(const float* logits, const float* targets,
                           std::size_t rows, std::size_t cols,
                           float grad_scale, float* probs, float* dlogits);
double SoftmaxCrossEntropyReference(const float* logits, const float* targets,
                                    std::size_t rows, std::size_t cols,
                                    float grad_scale, float* probs,
                                    float* dlogits);

// Σ (p − t)²; dpred = 2(p − t) · grad_scale.
double SquaredError(const float* pred, const float* target, std::size_t n,
                    float grad_scale, float* dpred);
double SquaredErrorReference(const float* pred, const float* target,
                             std::size_t n, float grad_scale, float* dpred);

// Σ |p − t|; dpred = sign(p − t) · grad_scale (0 where p == t).
double AbsoluteError(const float* pred, const float* target, std::size_t n,
                     float grad_scale, float* dpred);
double AbsoluteErrorReference(const float* pred, const float* target,
                              std::size_t n, float grad_scale, float* dpred);

// classes[r] = index of the largest scores[r][c] (first one on ties).
void ArgMaxRows(const float* scores, std::size_t rows, std::size_t cols,
                std::int32_t* classes);
void ArgMaxRowsReference(const float* scores, std::size_t rows,
                         std::size_t cols, std::int32_t* classes);

}  // namespace sequent::kernels
