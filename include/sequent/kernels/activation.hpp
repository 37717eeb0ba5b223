// Element-wise activations, row-wise softmax and dropout masks.
// Target-free declarations; SIMD code in src/kernels/activation-inl.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sequent::kernels {

enum class Activation : std::uint8_t {
  kIdentity,
  kReLU,       // max(x, 0)
  kLeakyReLU,  // x > 0 ? x : alpha·x   (alpha ≥ 0)
  kSigmoid,    // 1 / (1 + e^-x)
  kTanh,       // tanh(x)
};

// y[i] = f(x[i]) for n elements. y may equal x (in place).
void ActivationForward(Activation act, float alpha, const float* x, float* y,
                       std::size_t n);
void ActivationForwardReference(Activation act, float alpha, const float* x,
                                float* y, std::size_t n);

// dx[i] = dy[i] · f'(x[i]), with f' written in terms of the output y = f(x)
// (ReLU: y > 0; LeakyReLU: y > 0 ? 1 : alpha; Sigmoid: y(1−y); Tanh: 1−y²),
// so the forward pass need not keep its input. dx may equal dy.
void ActivationBackward(Activation act, float alpha, const float* y,
                        const float* dy, float* dx, std::size_t n);
void ActivationBackwardReference(Activation act, float alpha, const float* y,
                                 const float* dy, float* dx, std::size_t n);

// x, y are rows×cols, row-major: y[r] = softmax(x[r]) computed as
// exp(x − max) / Σ exp(x − max). y may equal x.
void SoftmaxForward(const float* x, float* y, std::size_t rows,
                    std::size_t cols);
void SoftmaxForwardReference(const float* x, float* y, std::size_t rows,
                             std::size_t cols);

// dx[r][c] = y[r][c] · (dy[r][c] − Σ_j dy[r][j]·y[r][j]). dx may equal dy.
void SoftmaxBackward(const float* y, const float* dy, float* dx,
                     std::size_t rows, std::size_t cols);
void SoftmaxBackwardReference(const float* y, const float* dy, float* dx,
                              std::size_t rows, std::size_t cols);

// Inverted dropout mask: mask[i] = 0 with probability rate, else 1/(1−rate).
// Element i's draw depends only on (seed, offset + i), never on the target or
// thread count, so a run is reproducible everywhere.
void DropoutMask(std::uint64_t seed, std::uint64_t offset, float rate,
                 float* mask, std::size_t n);
void DropoutMaskReference(std::uint64_t seed, std::uint64_t offset, float rate,
                          float* mask, std::size_t n);

// out[i] = a[i] · b[i]. out may equal a or b.
void Multiply(const float* a, const float* b, float* out, std::size_t n);
void MultiplyReference(const float* a, const float* b, float* out,
                       std::size_t n);

// sum[i] += x[i]: the gradients of a batch's parts added up. sum may not
// overlap x.
void Accumulate(const float* x, float* sum, std::size_t n);
void AccumulateReference(const float* x, float* sum, std::size_t n);

}  // namespace sequent::kernels
