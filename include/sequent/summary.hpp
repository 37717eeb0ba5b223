// model.summary(): the layers as written, their output shapes and parameter
// counts, beside them the kernels fusion turned them into for training, and
// below the table what inference (predict) runs where that differs:
// BatchNorm folded into the convolution's weights, Dropout removed, the
// Softmax that training left to the loss.
#pragma once

#include <algorithm>
#include <boost/hana/for_each.hpp>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "sequent/fuse.hpp"
#include "sequent/plan.hpp"
#include "sequent/regularization.hpp"
#include "sequent/sequential.hpp"

namespace sequent {

namespace detail {
struct SummaryRow {
  std::string index, layer, shape, params, runs_as;
};
// Lays out the rows as a table with the totals underneath (src/train).
std::string format_summary(const std::string& title,
                           const std::vector<SummaryRow>& rows,
                           const std::vector<std::string>& footer);
std::string thousands(std::size_t n);  // 101770 → "101,770"
}  // namespace detail

namespace detail {

template <class S, class... Steps>
constexpr bool plan_contains(TypeList<Steps...>*) {
  return (std::is_same_v<S, Steps> || ...);
}

// What step S runs as, in words; `kernel` is set when it runs one.
template <class Net, class S>
std::string describe_step(bool& kernel) {
  using Exec = typename S::exec;
  using Layer = run_layer_t<at_t<S::first_layer, typename Net::layers>>;
  kernel = false;
  if constexpr (std::is_same_v<Exec, fused::Absorbed<Layer>>) {
    return std::is_same_v<Layer, Softmax>
               ? "fused into the loss: softmax-cross-entropy, grad p - y"
               : "removed (identity at inference)";
  } else if constexpr (Exec::aliases_input) {
    return "a view of its input: no copy";
  } else {
    kernel = true;
    if constexpr (S::first_layer == S::last_layer) {
      return Exec::kernel();
    } else if constexpr (requires {
                           Exec::template name_for<typename S::input>();
                         }) {
      return Exec::template name_for<typename S::input>();  // shape-aware
    } else {
      return Exec::name();
    }
  }
}

// The inference plan's steps that differ from the training plan's, one
// line each ("  7    Dropout<0.5>: removed (identity at inference)"), and
// the number of kernels it runs.
template <class Net, class Training, class Inference>
std::vector<std::string> inference_lines() {
  std::vector<std::string> lines;
  std::size_t kernels = 0;
  hana::for_each(Inference::hana_tuple, [&](auto t) {
    using S = typename decltype(t)::type;
    bool runs_kernel = false;
    const std::string what = describe_step<Net, S>(runs_kernel);
    kernels += runs_kernel ? 1 : 0;
    if constexpr (!plan_contains<S>(static_cast<Training*>(nullptr))) {
      std::string where = std::to_string(S::first_layer);
      if (S::first_layer != S::last_layer) {
        where += "-" + std::to_string(S::last_layer);
      }
      where.resize(std::max<std::size_t>(where.size(), 5), ' ');
      // A fused group's description names its layers already.
      using Layer = run_layer_t<at_t<S::first_layer, typename Net::layers>>;
      lines.push_back("  " + where + " " +
                      (S::first_layer == S::last_layer
                           ? Layer::name() + ": " + what
                           : what));
    }
  });
  std::string head =
      "Inference (predict): " + std::to_string(kernels) + " kernels";
  head += lines.empty() ? ", as in training" : "; where it differs:";
  lines.insert(lines.begin(), head);
  return lines;
}

}  // namespace detail

template <class Net, class Loss, Fusion F>
std::string summary() {
  using Plan = plan_t<Net, Loss, PlanKind::kTraining, F>;
  using Inference = plan_t<Net, Loss, PlanKind::kInference, F>;
  std::vector<detail::SummaryRow> rows;
  hana::for_each(Net::layers::hana_tuple, [&](auto t) {
    using Info = typename decltype(t)::type;
    rows.push_back({std::to_string(Info::index), Info::layer::name(),
                    Info::output::to_string(),
                    detail::thousands(Info::param_count + Info::state_count),
                    ""});
  });
  std::size_t kernels = 0;
  hana::for_each(Plan::hana_tuple, [&](auto t) {
    using S = typename decltype(t)::type;
    bool runs_kernel = false;
    const std::string what = detail::describe_step<Net, S>(runs_kernel);
    kernels += runs_kernel ? 1 : 0;
    for (std::size_t i = S::first_layer; i <= S::last_layer; ++i) {
      const bool group = S::first_layer != S::last_layer;
      const char* mark = !group                ? ""
                         : i == S::first_layer ? "┐ "
                         : i == S::last_layer  ? "┘ "
                                               : "│ ";
      rows[i].runs_as = mark + (i == S::first_layer ? what : std::string());
    }
  });
  const std::size_t params = Net::param_count + Net::state_count;
  std::vector<std::string> footer{
      "Total params: " + detail::thousands(params) + " (" +
          std::to_string(params * 4 / 1024) + " KiB)",
      "Trainable params: " + detail::thousands(Net::param_count),
      "Non-trainable params: " + detail::thousands(Net::state_count)};
  if constexpr (PenaltyTable<Net>::size > 0) {
    using T = PenaltyTable<Net>;
    const bool l1 = T::l1_kernels > 0, l2 = T::l2_kernels > 0;
    footer.push_back(
        std::string(l1 && l2 ? "L1/L2" : (l1 ? "L1" : "L2")) +
        " regularisation: " + std::to_string(T::size) + " kernel" +
        (T::size == 1 ? "" : "s") + ", " + detail::thousands(T::weights) +
        " weights; " +
        (l1 && l2 ? "l1·Σ|w| + l2·Σw²" : (l1 ? "λ·Σ|w|" : "λ·Σw²")) +
        " joins the training loss");
  }
  footer.push_back("Loss: " + std::string(Loss::name) +
                   "   Kernels per training step: " + std::to_string(kernels) +
                   " forward" + (F == Fusion::kOff ? " (fusion off)" : ""));
  footer.push_back(
      "Activation memory: " +
      std::to_string(PlanRunner<Plan>::floats_per_sample(true) * 4) +
      " bytes per sample in training");
  for (std::string& line : detail::inference_lines<Net, Plan, Inference>()) {
    footer.push_back(std::move(line));
  }
  return detail::format_summary(
      "Model: Sequential, input " + Net::input::to_string(), rows, footer);
}

}  // namespace sequent
