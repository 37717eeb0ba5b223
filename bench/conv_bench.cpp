// Convolution throughput against the measured FMA peak, on the layers of the
// networks sequent trains: a VGG-like net on 32×32×3 (and its 28×28×1
// Fashion-MNIST variant) at batch 64, with single-image and batch-4
// latency, and LeNet-5 at batch 4 and 64. Every pass of every layer is
// timed: forward (with its bias + ReLU epilogue), backward data, backward
// weights (with the bias gradient). FLOPs count 2·pixels·out_c·K for each
// pass, K = kernel_h·kernel_w·in_c: the direct convolution's arithmetic,
// which is what a user gets done (the `_gflops` and `vgg_conv_fwd_peak_pct`
// keys). The 3×3 layers run as Winograd F(4×4, 3×3) and execute a quarter
// of those multiplies, so these figures can pass 100% of the FMA peak; the
// `_executed_` keys count what the hardware really multiplies
// (kernels::ConvForwardMultiplyAdds).
// Prints `key: value` lines; asserts nothing. Timings are the best of many
// repetitions because other processes may share the cores.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "peak.hpp"
#include "sequent/kernels/conv.hpp"

namespace {

using sequent::kernels::Activation;
using sequent::kernels::ConvShape;
using sequent::kernels::Epilogue;

struct Layer {
  std::string name;
  std::size_t in_h, in_w, in_c, out_c, kernel;
  bool same;   // Same padding (else Valid), stride 1
  bool first;  // the network's first layer needs no input gradient
};

ConvShape ShapeOf(const Layer& l, std::size_t batch) {
  ConvShape s;
  s.batch = batch;
  s.in_h = l.in_h;
  s.in_w = l.in_w;
  s.in_c = l.in_c;
  s.out_c = l.out_c;
  s.kernel_h = s.kernel_w = l.kernel;
  const std::size_t pad = l.same ? (l.kernel - 1) / 2 : 0;
  s.pad_top = s.pad_left = pad;
  s.out_h = l.same ? l.in_h : l.in_h - l.kernel + 1;
  s.out_w = l.same ? l.in_w : l.in_w - l.kernel + 1;
  return s;
}

double Flops(const ConvShape& s) {
  return 2.0 * s.batch * s.out_h * s.out_w * s.out_c * s.kernel_h * s.kernel_w *
         s.in_c;
}

std::vector<float> RandomVector(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Best seconds per call of `fn`: calls are grouped in batches of about
// `batch_seconds`, and the fastest batch's mean is kept.
template <class Fn>
double BestSecondsPerCall(Fn&& fn, double batch_seconds, int batches) {
  fn();  // warm caches, scratch buffers and the OpenMP team
  std::size_t calls = 1;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < calls; ++i) fn();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (s >= batch_seconds / 4 || calls >= (1u << 20)) break;
    calls *= 2;
  }
  calls = std::max<std::size_t>(1, calls * 4 / 4);
  double best = 1e30;
  for (int b = 0; b < batches; ++b) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < calls; ++i) fn();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    best = std::min(best, s / static_cast<double>(calls));
  }
  return best;
}

struct PassTimes {
  double forward, backward_data, backward_weights;  // seconds per call
};

// Times the three passes of one layer; `batches` repetitions of ~20 ms.
PassTimes TimeLayer(const ConvShape& s, int batches) {
  const std::size_t in_size = s.batch * s.in_h * s.in_w * s.in_c;
  const std::size_t out_size = s.batch * s.out_h * s.out_w * s.out_c;
  const std::size_t weight_size = s.kernel_h * s.kernel_w * s.in_c * s.out_c;
  const std::vector<float> in = RandomVector(in_size, 1);
  const std::vector<float> weights = RandomVector(weight_size, 2);
  const std::vector<float> bias = RandomVector(s.out_c, 3);
  const std::vector<float> dout = RandomVector(out_size, 4);
  std::vector<float> out(out_size), din(in_size), dweights(weight_size),
      dbias(s.out_c);
  const Epilogue epilogue{bias.data(), Activation::kReLU, 0.0f};
  constexpr double kBatchSeconds = 0.02;
  PassTimes t;
  t.forward = BestSecondsPerCall(
      [&] {
        sequent::kernels::ConvForward(s, in.data(), weights.data(), out.data(),
                                      epilogue);
      },
      kBatchSeconds, batches);
  t.backward_data = BestSecondsPerCall(
      [&] {
        sequent::kernels::ConvBackwardData(s, dout.data(), weights.data(),
                                           din.data());
      },
      kBatchSeconds, batches);
  t.backward_weights = BestSecondsPerCall(
      [&] {
        sequent::kernels::ConvBackwardWeights(s, in.data(), dout.data(),
                                              dweights.data(), dbias.data());
      },
      kBatchSeconds, batches);
  return t;
}

void Print(const std::string& key, double value) {
  std::printf("%s: %.1f\n", key.c_str(), value);
}

// Times every layer of a network at one batch size, printing per-layer
// figures; returns the sums over the layers (backward data skipped for the
// first layer, which has no input gradient).
PassTimes TimeNetwork(const std::string& net, const std::vector<Layer>& layers,
                      std::size_t batch, double* forward_flops, bool verbose,
                      int batches) {
  PassTimes total{0.0, 0.0, 0.0};
  *forward_flops = 0.0;
  for (const Layer& l : layers) {
    const ConvShape s = ShapeOf(l, batch);
    const PassTimes t = TimeLayer(s, batches);
    const double flops = Flops(s);
    *forward_flops += flops;
    total.forward += t.forward;
    total.backward_weights += t.backward_weights;
    if (!l.first) total.backward_data += t.backward_data;
    if (!verbose) continue;
    const std::string key = net + "_" + l.name + "_b" + std::to_string(batch);
    Print(key + "_fwd_us", t.forward * 1e6);
    Print(key + "_fwd_gflops", flops / t.forward * 1e-9);
    if (!l.first) {
      Print(key + "_bwd_data_us", t.backward_data * 1e6);
      Print(key + "_bwd_data_gflops", flops / t.backward_data * 1e-9);
    }
    Print(key + "_bwd_weights_us", t.backward_weights * 1e6);
    Print(key + "_bwd_weights_gflops", flops / t.backward_weights * 1e-9);
  }
  return total;
}

}  // namespace

int main() {
  const int threads = omp_get_max_threads();
  const double peak = sequent::bench::measure_fma_peak_gflops(threads);
  std::printf("threads: %d\n", threads);
  Print("fma_peak_gflops", peak);

  const std::vector<Layer> vgg = {
      {"conv3_32_32x32", 32, 32, 3, 32, 3, true, true},
      {"conv32_32_32x32", 32, 32, 32, 32, 3, true, false},
      {"conv32_64_16x16", 16, 16, 32, 64, 3, true, false},
      {"conv64_64_16x16", 16, 16, 64, 64, 3, true, false},
      {"conv64_128_8x8", 8, 8, 64, 128, 3, true, false},
      {"conv128_128_8x8", 8, 8, 128, 128, 3, true, false},
  };
  const std::vector<Layer> fashion = {
      {"conv1_32_28x28", 28, 28, 1, 32, 3, true, true},
      {"conv32_32_28x28", 28, 28, 32, 32, 3, true, false},
      {"conv32_64_14x14", 14, 14, 32, 64, 3, true, false},
      {"conv64_64_14x14", 14, 14, 64, 64, 3, true, false},
      {"conv64_128_7x7", 7, 7, 64, 128, 3, true, false},
      {"conv128_128_7x7", 7, 7, 128, 128, 3, true, false},
  };
  const std::vector<Layer> lenet = {
      {"conv3_6_5x5_32x32", 32, 32, 3, 6, 5, false, true},
      {"conv6_16_5x5_14x14", 14, 14, 6, 16, 5, false, false},
  };

  double flops = 0.0;
  const PassTimes vgg64 = TimeNetwork("vgg", vgg, 64, &flops, true, 10);
  const double vgg_gflops = flops / vgg64.forward * 1e-9;
  double executed = 0.0;
  for (const Layer& l : vgg) {
    executed += 2.0 * sequent::kernels::ConvForwardMultiplyAdds(ShapeOf(l, 64));
  }
  const double executed_gflops = executed / vgg64.forward * 1e-9;
  Print("vgg_conv_fwd_gflops", vgg_gflops);
  Print("vgg_conv_fwd_peak_pct", 100.0 * vgg_gflops / peak);
  Print("vgg_conv_fwd_executed_gflops", executed_gflops);
  Print("vgg_conv_fwd_executed_peak_pct", 100.0 * executed_gflops / peak);
  Print("vgg_conv_fwd_b64_us", vgg64.forward * 1e6);
  Print("vgg_conv_train_b64_us",
        (vgg64.forward + vgg64.backward_data + vgg64.backward_weights) * 1e6);
  Print("vgg_conv_only_infer_images_per_s", 64.0 / vgg64.forward);
  Print("vgg_conv_only_train_images_per_s",
        64.0 / (vgg64.forward + vgg64.backward_data + vgg64.backward_weights));
  for (std::size_t batch : {1, 4}) {
    const PassTimes t = TimeNetwork("vgg", vgg, batch, &flops, false, 20);
    Print("vgg_conv_fwd_b" + std::to_string(batch) + "_us", t.forward * 1e6);
  }

  const PassTimes fashion64 =
      TimeNetwork("fashion_vgg", fashion, 64, &flops, true, 5);
  Print("fashion_vgg_conv_fwd_gflops", flops / fashion64.forward * 1e-9);

  for (std::size_t batch : {4, 64}) {
    const PassTimes t = TimeNetwork("lenet", lenet, batch, &flops, true, 10);
    const std::string key = "lenet_conv_b" + std::to_string(batch);
    Print(key + "_train_us",
          (t.forward + t.backward_data + t.backward_weights) * 1e6);
  }
  return 0;
}
