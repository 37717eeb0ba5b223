// Model<Net, Loss>: a Sequential network with its loss, its parameters and
// the buffers it runs in — the Keras-like front of sequent:
//
//   sq::Model<Net, sq::SparseCategoricalCrossentropy> model{sq::Seed{7}};
//   std::cout << model.summary();
//   auto history = model.fit(train, sq::Adam{}, {.epochs = 5,
//                                                .validation = &test});
//   auto pred = model.predict(test.images());
//
// Everything about the network's structure is a compile-time constant; at
// run time the model owns three flat buffers of the same layout (parameters,
// gradients, optimiser state) and one activation arena per kind of pass.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "sequent/buffer.hpp"
#include "sequent/data/dataset.hpp"
#include "sequent/data/image.hpp"
#include "sequent/data/split.hpp"
#include "sequent/fuse.hpp"
#include "sequent/io/model_file.hpp"
#include "sequent/kernels/activation.hpp"
#include "sequent/kernels/loss.hpp"
#include "sequent/losses.hpp"
#include "sequent/metrics/metrics.hpp"
#include "sequent/optimizers.hpp"
#include "sequent/plan.hpp"
#include "sequent/regularization.hpp"
#include "sequent/sequential.hpp"
#include "sequent/summary.hpp"
#include "sequent/train/cpu.hpp"
#include "sequent/train/errors.hpp"
#include "sequent/train/history.hpp"
#include "sequent/train/options.hpp"
#include "sequent/train/progress.hpp"

namespace sequent {

using FitOptions = BasicFitOptions<data::Dataset>;
using FloatFitOptions = BasicFitOptions<data::FloatDataset>;

template <class Net, class Loss, Fusion F = Fusion::kOn>
class Model {
  static_assert(is_sequential_v<Net>,
                "Model's first argument must be sq::Sequential<sq::Input<...>, "
                "layers...>");
  static constexpr typename Loss::template check_output<typename Net::output>
      loss_fits_output{};
  using last_layer =
      typename at_t<Net::layer_count - 1, typename Net::layers>::layer;
  // Softmax only: after a Sigmoid nothing pushes the other classes down,
  // every output rises to 1 and the loss to 0 with the classes still wrong
  // (measured: loss 3e-5 at 33% accuracy, against 0.14 at 95%).
  static_assert(!takes_probabilities_v<Loss> ||
                    std::is_same_v<last_layer, Softmax>,
                "a cross-entropy loss takes probabilities: end the model "
                "with Softmax (fused with the loss into a stable "
                "softmax-cross-entropy on the logits)");

  using TrainingPlan = PlanRunner<plan_t<Net, Loss, PlanKind::kTraining, F>>;
  using EvaluationPlan =
      PlanRunner<plan_t<Net, Loss, PlanKind::kEvaluation, F>>;
  using InferencePlan = PlanRunner<plan_t<Net, Loss, PlanKind::kInference, F>>;
  static constexpr bool kTrainLogits =
      outputs_logits<Net, Loss, PlanKind::kTraining, F>;
  static constexpr bool kEvalLogits =
      outputs_logits<Net, Loss, PlanKind::kEvaluation, F>;

 public:
  using network = Net;
  using loss = Loss;
  using input_shape = typename Net::input;
  using output_shape = typename Net::output;
  static constexpr std::size_t input_size = input_shape::size;
  static constexpr std::size_t output_size = output_shape::size;
  static constexpr std::size_t param_count = Net::param_count;

  // Glorot-uniform weights and zero biases drawn from `seed`: the same seed
  // gives the same weights, and (same target, same thread count) the same
  // training run.
  explicit Model(Seed seed = {}) : seed_(seed.value) {
    params_.resize(Net::param_buffer_size);
    grads_.resize(Net::param_buffer_size);
    state_.resize(Net::state_buffer_size);
    derived_.resize(InferencePlan::derived_total);
    hana::for_each(Net::layers::hana_tuple, [&](auto t) {
      using Info = typename decltype(t)::type;
      Rng rng(mix_seed(seed_, Info::index));
      Info::layer::template initialize<typename Info::input>(
          params_.data() + Info::param_offset, rng);
      Info::layer::template initialize_state<typename Info::input>(
          state_.data() + Info::state_offset);
    });
  }

  // A Keras-style table: each layer, its output shape, its parameters, and
  // the kernel it runs as after fusion.
  static std::string summary() { return sequent::summary<Net, Loss, F>(); }

  // ---- parameters -----------------------------------------------------------

  // The flat parameter buffer (with per-layer padding on 64-byte lines).
  std::span<float> parameters() {
    derived_stale_ = true;  // the caller may change the weights
    return params_.span();
  }
  std::span<const float> parameters() const { return params_.span(); }
  // Non-trainable state (BatchNorm's running statistics), same layout rules.
  std::span<float> state() {
    derived_stale_ = true;
    return state_.span();
  }
  std::span<const float> state() const { return state_.span(); }

  // The kernel penalty of the current weights, Σ (l1·Σ |w| + l2·Σ w²) over
  // every L1, L2 and L1L2 layer, which train_step and fit add to the loss
  // they report (and l1·sign(w) + 2·l2·w to the kernels' gradients). evaluate()
  // reports the data loss alone, so that runs with and without regularisation
  // compare; Keras' val_loss includes the penalty: evaluate(data).loss +
  // regularization_loss().
  double regularization_loss() const {
    return apply_penalties<Net>(params_.data(), nullptr);
  }

  // Sets the statistics of a Normalization layer placed first (Keras'
  // layer.adapt(data)): the mean and the population variance of each
  // channel over every sample and position of `data`, as batches deliver
  // it (images scaled to [0, 1]). Two passes in double precision, so that a
  // large mean does not swamp a small variance. std::invalid_argument for
  // an empty dataset or one whose shape is not the model's Input.
  template <class Data>
  void adapt(const Data& data) {
    using First = at_t<0, typename Net::layers>;
    static_assert(adapts_to_data_v<typename First::layer>,
                  "adapt() sets the statistics of a Normalization layer: "
                  "put sq::Normalization<> first, right after Input");
    if constexpr (adapts_to_data_v<typename First::layer>) {
      adapt_first<First>(data);
    }
  }

  // Layer `layer`'s tensors (0 = first layer after Input), as Keras'
  // layer.get_weights(): Dense gives {kernel (in × units), bias (units)}.
  std::vector<std::vector<float>> get_weights(std::size_t layer) const {
    std::vector<std::vector<float>> out;
    for_layer(layer, [&](const auto& infos, std::size_t offset,
                         std::size_t state_offset) {
      for (const WeightInfo& w : infos) {
        std::size_t& at = w.trainable ? offset : state_offset;
        const float* p = (w.trainable ? params_ : state_).data() + at;
        out.emplace_back(p, p + w.size());
        at += w.size();
      }
    });
    return out;
  }
  // Replaces layer `layer`'s tensors; their count and sizes must match
  // weight_info(layer) (std::invalid_argument naming the layer otherwise).
  void set_weights(std::size_t layer,
                   const std::vector<std::vector<float>>& values) {
    for_layer(layer, [&](const auto& infos, std::size_t offset,
                         std::size_t state_offset) {
      if (values.size() != infos.size()) {
        throw std::invalid_argument(
            "set_weights: layer " + std::to_string(layer) + " has " +
            std::to_string(infos.size()) + " weight tensors, got " +
            std::to_string(values.size()));
      }
      for (std::size_t i = 0; i < infos.size(); ++i) {
        if (values[i].size() != infos[i].size()) {
          throw std::invalid_argument(
              "set_weights: layer " + std::to_string(layer) + " " +
              infos[i].name + " needs " + std::to_string(infos[i].size()) +
              " values, got " + std::to_string(values[i].size()));
        }
      }
      for (std::size_t i = 0; i < infos.size(); ++i) {
        std::size_t& at = infos[i].trainable ? offset : state_offset;
        std::copy(values[i].begin(), values[i].end(),
                  (infos[i].trainable ? params_ : state_).data() + at);
        at += values[i].size();
      }
      derived_stale_ = true;
    });
  }
  // Every layer's tensors, first layer first, as Keras' model.get_weights():
  // what set_weights(values) takes back, e.g. to copy one model into another
  // of the same type or to keep the best weights of a run in memory.
  std::vector<std::vector<float>> get_weights() const {
    std::vector<std::vector<float>> out;
    for (std::size_t layer = 0; layer < Net::layer_count; ++layer) {
      for (auto& tensor : get_weights(layer)) out.push_back(std::move(tensor));
    }
    return out;
  }
  // Replaces every layer's tensors from values in get_weights() order. All
  // counts and sizes are checked before anything changes
  // (std::invalid_argument naming the tensor and its layer).
  void set_weights(const std::vector<std::vector<float>>& values) {
    std::vector<std::vector<WeightInfo>> infos;
    std::size_t expected = 0;
    for (std::size_t layer = 0; layer < Net::layer_count; ++layer) {
      infos.push_back(weight_info(layer));
      expected += infos.back().size();
    }
    if (values.size() != expected) {
      throw std::invalid_argument(
          "set_weights: the model has " + std::to_string(expected) +
          " weight tensors, got " + std::to_string(values.size()));
    }
    std::size_t next = 0;
    for (std::size_t layer = 0; layer < Net::layer_count; ++layer) {
      for (const WeightInfo& w : infos[layer]) {
        if (values[next].size() != w.size()) {
          throw std::invalid_argument(
              "set_weights: tensor " + std::to_string(next) + " (layer " +
              std::to_string(layer) + " " + w.name + ") needs " +
              std::to_string(w.size()) + " values, got " +
              std::to_string(values[next].size()));
        }
        ++next;
      }
    }
    next = 0;
    for (std::size_t layer = 0; layer < Net::layer_count; ++layer) {
      const std::size_t count = infos[layer].size();
      set_weights(layer,
                  {values.begin() + next, values.begin() + next + count});
      next += count;
    }
  }
  // Names and shapes of layer `layer`'s tensors.
  std::vector<WeightInfo> weight_info(std::size_t layer) const {
    std::vector<WeightInfo> out;
    for_layer(layer, [&](const auto& infos, std::size_t, std::size_t) {
      out = infos;
    });
    return out;
  }

  // ---- files ----------------------------------------------------------------

  // The compile-time architecture fingerprint that model files carry.
  static constexpr std::uint64_t fingerprint = Net::fingerprint;

  // Writes the weights (atomically: a crash mid-save leaves the old file).
  void save(const std::filesystem::path& path) const {
    io::write_model_file(path, to_file(io::FileKind::kWeights));
  }
  // Reads weights saved from a model of this architecture. On any error
  // (another architecture, a truncated or corrupt file) throws
  // io::ModelFileError naming the file and what differs, and leaves this
  // model's weights untouched.
  void load_weights(const std::filesystem::path& path) {
    apply_file(io::read_model_file(path), path.string());
    resume_pending_ = false;
  }
  static Model load(const std::filesystem::path& path) {
    Model model;
    model.load_weights(path);
    return model;
  }

  // A training checkpoint: the weights plus the optimiser's state and step,
  // the epochs done and the seed of the fit that wrote it. Loading it into
  // any model of this architecture (whatever its Seed) and calling fit with
  // the run's .epochs continues exactly as the uninterrupted run would (same
  // target, same thread count): the next fit starts at epochs_done() + 1
  // and uses the run's seed unless its options say otherwise.
  void save_checkpoint(const std::filesystem::path& path) const {
    io::ModelFile f = to_file(io::FileKind::kCheckpoint);
    f.training = {optimizer_name_,
                  opt_step_,
                  {opt_state_.data(), opt_state_.data() + opt_state_.size()},
                  epochs_done_,
                  fit_seed_,
                  train_steps_};
    io::write_model_file(path, f);
  }
  io::TrainingState load_checkpoint(const std::filesystem::path& path) {
    const io::ModelFile f = io::read_model_file(path);
    if (f.kind != io::FileKind::kCheckpoint) {
      throw io::ModelFileError(path.string() +
                               ": holds weights only, not a training "
                               "checkpoint (use load_weights)");
    }
    check_file(f, path.string());  // another architecture is named first
    const io::TrainingState& s = f.training;
    if (s.optimizer_state.size() % Net::param_buffer_size != 0) {
      throw io::ModelFileError(path.string() + ": optimiser state of " +
                               std::to_string(s.optimizer_state.size()) +
                               " values does not fit this model's " +
                               std::to_string(Net::param_buffer_size) +
                               "-value parameter buffer");
    }
    // Counters a CRC-valid file could still hold out of range; fit would
    // otherwise overflow them or blame the user's .initial_epoch.
    if (s.epochs_done < 0 || s.optimizer_step < 0) {
      throw io::ModelFileError(
          path.string() + ": the checkpoint's epoch (" +
          std::to_string(s.epochs_done) + ") and optimiser step (" +
          std::to_string(s.optimizer_step) + ") must be >= 0");
    }
    for (const float v : s.optimizer_state) {
      if (!std::isfinite(v)) {
        throw io::ModelFileError(path.string() +
                                 ": the optimiser state holds a non-finite "
                                 "value (the run had diverged)");
      }
    }
    apply_file(f, path.string());
    opt_state_.resize(s.optimizer_state.size());
    std::copy(s.optimizer_state.begin(), s.optimizer_state.end(),
              opt_state_.data());
    optimizer_name_ = s.optimizer;
    opt_step_ = s.optimizer_step;
    epochs_done_ = s.epochs_done;
    fit_seed_ = s.fit_seed;
    run_seed_known_ = true;
    resume_pending_ = true;
    train_steps_ = s.train_steps;
    return s;
  }
  // Epochs completed by fit (restored by load_checkpoint).
  int epochs_done() const { return epochs_done_; }

  // The names of the classes, one per output: those of the Dataset the
  // model was last fit on (or set here), saved in model files and restored
  // by load, load_weights and load_checkpoint. Empty when unknown (a model
  // never fit on a Dataset, or a file of format version 1).
  const std::vector<std::string>& class_names() const { return class_names_; }
  // Requires no names or one per output (std::invalid_argument otherwise).
  void set_class_names(std::vector<std::string> names) {
    if (!names.empty() && names.size() != output_size) {
      throw std::invalid_argument(
          "set_class_names: " + std::to_string(names.size()) +
          " names for a model of " + std::to_string(output_size) + " outputs " +
          output_shape::to_string());
    }
    class_names_ = std::move(names);
  }

  // ---- training -------------------------------------------------------------

  template <Optimizer Opt>
  History fit(const data::Dataset& train, const Opt& optimizer,
              const FitOptions& options = {}) {
    static_assert(Loss::classification,
                  "this loss is for regression: fit it on a FloatDataset");
    if (options.validation_split != 0.0f) {
      return fit_split(train, optimizer, options);
    }
    check_dataset(train);
    if (options.validation) check_dataset(*options.validation);
    // What the outputs mean travels with the weights into model files; a
    // dataset with fewer classes than outputs names the rest by number.
    std::vector<std::string> names = train.class_names();
    for (std::size_t c = names.size(); c < output_size; ++c) {
      names.push_back(std::to_string(c));
    }
    names.resize(output_size);  // check_dataset: no label is beyond them
    class_names_ = std::move(names);
    return fit_loop(train, optimizer, options);
  }

  template <Optimizer Opt>
  History fit(const data::FloatDataset& train, const Opt& optimizer,
              const FloatFitOptions& options = {}) {
    if (options.validation_split != 0.0f) {
      return fit_split(train, optimizer, options);
    }
    check_dataset(train);
    if (options.validation) check_dataset(*options.validation);
    return fit_loop(train, optimizer, options);
  }

  // One optimisation step on a batch you formed yourself: forward, loss,
  // backward, update. Returns the batch's mean loss and accuracy.
  template <Optimizer Opt>
  StepResult train_step(const Batch& batch, const Opt& optimizer) {
    check_batch(batch);
    check_optimizer(optimizer);
    prepare_optimizer<Opt>();
    FlushDenormals flush;
    const LossTargets targets{
        batch.labels.empty() ? nullptr : batch.labels.data(),
        batch.targets.empty() ? nullptr : batch.targets.data()};
    const StepStats s =
        step(batch.inputs.data(), targets, batch.size, optimizer,
             mix_seed(seed_, 0x5eed0000 + train_steps_));
    if (!std::isfinite(s.loss_sum)) {
      throw NonFiniteLoss("train_step: the loss became " +
                          std::to_string(s.loss_sum) +
                          "; the update was not applied");
    }
    return {s.loss_sum / static_cast<double>(batch.size),
            Loss::classification ? static_cast<double>(s.correct) /
                                       static_cast<double>(batch.size)
                                 : NAN};
  }

  // ---- evaluation and prediction --------------------------------------------

  // An empty dataset is an std::invalid_argument: its loss and accuracy
  // would be 0/0, and 0 reads as a perfect score.
  Evaluation evaluate(const data::Dataset& data, std::size_t batch_size = 256) {
    check_dataset(data);
    check_not_empty(data, "evaluate: the dataset");
    return evaluate_impl(data, batch_size);
  }
  Evaluation evaluate(const data::FloatDataset& data,
                      std::size_t batch_size = 256) {
    check_dataset(data);
    check_not_empty(data, "evaluate: the dataset");
    return evaluate_impl(data, batch_size);
  }

  // Class probabilities (or raw outputs, for regression) and the argmax for
  // every image; pixels are scaled to [0, 1] as in training.
  Predictions predict(const data::ImageView& images,
                      std::size_t batch_size = 256) {
    check_image_shape(images.shape, "predict");
    check_batch_size(batch_size);
    if (images.pixels.size() / input_size != images.count ||
        images.pixels.size() % input_size != 0) {
      throw std::invalid_argument(
          "predict: " + std::to_string(images.count) + " images of " +
          data::to_string(images.shape) + " are " +
          std::to_string(images.count) + " x " + std::to_string(input_size) +
          " pixels, but the view holds " +
          std::to_string(images.pixels.size()));
    }
    Predictions p;
    p.count = images.count;
    p.classes = output_size;
    p.probabilities.resize(images.count * output_size);
    p.labels.resize(images.count);
    const std::size_t chunk =
        std::min(batch_size, std::max<std::size_t>(images.count, 1));
    ensure_staging(chunk);
    for (std::size_t begin = 0; begin < images.count; begin += chunk) {
      const std::size_t n = std::min(chunk, images.count - begin);
      const std::uint8_t* src = images.pixels.data() + begin * input_size;
      float* x = staging_.data();
      constexpr float kScale = 1.0f / 255.0f;
      // SIMD even under -O2's very-cheap cost model, which leaves this loop
      // scalar: it was an eighth of a single-image MLP prediction.
#pragma omp simd
      for (std::size_t i = 0; i < n * input_size; ++i) x[i] = src[i] * kScale;
      const float* out = infer(x, n);
      std::copy(out, out + n * output_size,
                p.probabilities.data() + begin * output_size);
      kernels::ArgMaxRows(out, n, output_size, p.labels.data() + begin);
    }
    return p;
  }
  Predictions predict(const data::Dataset& data, std::size_t batch_size = 256) {
    return predict(data.images(), batch_size);
  }
  // One decoded image (data::load_image): its probabilities and class.
  Predictions predict(const data::Image& image) {
    return predict(data::ImageView{image.pixels, 1, image.shape});
  }

  // Raw outputs for `count` samples of float inputs (count × input size).
  std::vector<float> predict(std::span<const float> inputs,
                             std::size_t batch_size = 256) {
    if (inputs.size() % input_size != 0) {
      throw std::invalid_argument(
          "predict: " + std::to_string(inputs.size()) +
          " floats is not a whole number of inputs of shape " +
          input_shape::to_string());
    }
    check_batch_size(batch_size);
    const std::size_t count = inputs.size() / input_size;
    std::vector<float> out(count * output_size);
    for (std::size_t begin = 0; begin < count; begin += batch_size) {
      const std::size_t n = std::min(batch_size, count - begin);
      const float* y = infer(inputs.data() + begin * input_size, n);
      std::copy(y, y + n * output_size, out.data() + begin * output_size);
    }
    return out;
  }

 private:
  struct StepStats {
    double loss_sum = 0;
    std::size_t correct = 0;
  };

  // ---- the training step ----------------------------------------------------

  template <class Opt>
  StepStats step(const float* x, LossTargets targets, std::size_t batch,
                 const Opt& optimizer, std::uint64_t step_seed) {
    ensure_arena(
        train_arena_, train_capacity_,
        [](std::size_t b) { return TrainingPlan::layout(b, true); }, batch);
    if (predicted_.size() < batch) predicted_.resize(batch);
    const auto layout = TrainingPlan::layout(batch, true);
    const int parts = batch_parts(batch);
    StepStats s;
    if (parts == 1) {
      s = forward_backward(x, targets, layout, batch, 0, batch, grads_.data(),
                           step_seed);
    } else {
      s = split_forward_backward(x, targets, layout, batch, parts, step_seed);
    }
    s.loss_sum += batch * apply_penalties<Net>(params_.data(), grads_.data());
    if (!std::isfinite(s.loss_sum)) return s;  // keep the weights as they are
    optimizer.update(params_.data(), grads_.data(), opt_state_.data(),
                     Net::param_buffer_size, ++opt_step_);
    ++train_steps_;
    derived_stale_ = true;
    return s;
  }

  // Into how many independent parts a training batch is split, one per
  // thread. Per-layer threading synchronises the team at every kernel,
  // which small layers (LeNet at batch 4 to 64, an MLP) cannot repay; a
  // batch split into parts needs one fork and two barriers per step, at the
  // price of one extra gradient buffer per part, summed before the update.
  // Only for plans whose samples are independent (no BatchNorm), and never
  // fewer than kMinPartSamples samples a part (the backward products of a
  // part would then be too thin to run at speed).
  static constexpr std::size_t kMinPartSamples = 2;
  int batch_parts(std::size_t batch) const {
    if constexpr (!TrainingPlan::samples_independent) {
      return 1;
    } else {
      if (in_parallel()) return 1;
      const std::size_t threads =
          static_cast<std::size_t>(std::max(1, num_threads()));
      return static_cast<int>(std::max<std::size_t>(
          1, std::min({batch / kMinPartSamples, threads, kMaxParts})));
    }
  }
  static constexpr std::size_t kMaxParts = 64;

  // Forward, loss and backward of samples [first, first + count) of a batch
  // of `batch` laid out by `layout`, parameter gradients written to
  // `dparams`. The loss gradient is scaled by 1/batch, so the parts'
  // gradients add up to the whole batch's.
  StepStats forward_backward(const float* x, LossTargets targets,
                             const typename TrainingPlan::Layout& layout,
                             std::size_t batch, std::size_t first,
                             std::size_t count, float* dparams,
                             std::uint64_t step_seed) {
    const auto part = TrainingPlan::sub_layout(layout, first);
    const float* part_x = x + first * input_size;
    float* arena = train_arena_.data();
    const float* out = TrainingPlan::forward(
        part_x, arena, part, params_.data(), state_.data(), nullptr, count,
        true, step_seed, first);
    const LossTargets part_targets{
        targets.labels ? targets.labels + first : nullptr,
        targets.targets ? targets.targets + first * output_size : nullptr};
    StepStats s;
    s.loss_sum =
        Loss::compute(kTrainLogits, out, part_targets, count, output_size,
                      1.0f / static_cast<float>(batch), arena + part.grad[0]);
    if (!std::isfinite(s.loss_sum)) return s;
    if constexpr (Loss::classification) {
      s.correct =
          count_correct(out, part_targets, count, predicted_.data() + first);
    }
    TrainingPlan::backward(part_x, arena, part, params_.data(), state_.data(),
                           dparams, count);
    return s;
  }

  // The batch in `parts` contiguous parts, one per OpenMP thread, each
  // through the whole plan on the thread's own gradient buffer; then every
  // thread sums one slice of the buffers into grads_. The split and the
  // order of the sums depend only on the batch and the thread count, so a
  // run is deterministic for a given thread count.
  StepStats split_forward_backward(const float* x, LossTargets targets,
                                   const typename TrainingPlan::Layout& layout,
                                   std::size_t batch, int parts,
                                   std::uint64_t step_seed) {
    while (part_grads_.size() + 1 < static_cast<std::size_t>(parts)) {
      part_grads_.emplace_back(Net::param_buffer_size);
    }
    StepStats results[kMaxParts];
    const std::size_t team = run_parts(
        static_cast<std::size_t>(parts),
        [&](std::size_t t, std::size_t team) {
          const std::size_t first = batch * t / team;
          const std::size_t last = batch * (t + 1) / team;
          float* dparams = t == 0 ? grads_.data() : part_grads_[t - 1].data();
          results[t] = forward_backward(x, targets, layout, batch, first,
                                        last - first, dparams, step_seed);
        },
        [&](std::size_t t, std::size_t team) {
          // Whole 64-byte lines per thread, so no two threads write one.
          constexpr std::size_t kLine = 16;
          constexpr std::size_t kSize = Net::param_buffer_size;
          const std::size_t lines = (kSize + kLine - 1) / kLine;
          const std::size_t begin = std::min(kSize, lines * t / team * kLine);
          const std::size_t end =
              std::min(kSize, lines * (t + 1) / team * kLine);
          for (std::size_t p = 1; p < team; ++p) {
            kernels::Accumulate(part_grads_[p - 1].data() + begin,
                                grads_.data() + begin, end - begin);
          }
        });
    StepStats total;
    for (std::size_t t = 0; t < team; ++t) {
      total.loss_sum += results[t].loss_sum;
      total.correct += results[t].correct;
    }
    return total;
  }

  // fit with .validation_split: the last samples held out, as Keras does.
  template <class Data, class Opt>
  History fit_split(const Data& train, const Opt& optimizer,
                    const BasicFitOptions<Data>& options) {
    const float split = options.validation_split;
    if (!(split > 0.0f && split < 1.0f) || options.validation != nullptr) {
      throw std::invalid_argument(
          "fit: validation_split must be in [0, 1) and not given with "
          ".validation, got " +
          detail::format_number(split) +
          (options.validation != nullptr ? " and a validation set" : ""));
    }
    const std::size_t n = train.size();
    const std::size_t held = data::held_out_count(n, split);
    if (held == 0 || held == n) {
      throw std::invalid_argument(
          "fit: validation_split " + detail::format_number(split) + " of " +
          std::to_string(n) + " samples leaves " +
          (held == 0 ? "no validation samples" : "no training samples"));
    }
    const Data head = train.slice(0, n - held);
    const Data tail = train.slice(n - held, held);
    BasicFitOptions<Data> rest = options;
    rest.validation = &tail;
    rest.validation_split = 0.0f;
    return fit(head, optimizer, rest);
  }

  // The TrainingControl that fit hands its callbacks.
  class Control : public TrainingControl {
   public:
    Control(Model& model, const History& history)
        : model_(model), history_(history) {}
    std::span<float> parameters() override { return model_.parameters(); }
    std::span<float> state() override { return model_.state(); }
    void save_weights(const std::filesystem::path& p) const override {
      model_.save(p);
    }
    void save_checkpoint(const std::filesystem::path& p) const override {
      model_.save_checkpoint(p);
    }
    const History& history() const override { return history_; }

   private:
    Model& model_;
    const History& history_;
  };

  template <class Data, class Opt>
  History fit_loop(const Data& train, const Opt& optimizer,
                   const BasicFitOptions<Data>& options) {
    // Right after load_checkpoint, fit continues that run by default.
    const int initial_epoch =
        options.initial_epoch.value_or(resume_pending_ ? epochs_done_ : 0);
    if (options.epochs < 0 || initial_epoch < 0) {
      throw std::invalid_argument(
          "fit: epochs and initial_epoch must be >= 0, got " +
          std::to_string(options.epochs) + " and " +
          std::to_string(initial_epoch));
    }
    check_batch_size(options.batch_size);
    check_not_empty(train, "fit: the training set");
    if (options.validation) {
      check_not_empty(*options.validation, "fit: the validation set");
    }
    check_optimizer(optimizer);
    if (!Loss::classification && !options.metrics.empty()) {
      throw std::invalid_argument(
          "fit: precision, recall and f1 need a classification loss");
    }
    prepare_optimizer<Opt>();
    FlushDenormals flush;
    Opt opt = optimizer;  // its learning rate may be scheduled
    // A fit that continues a run (the one this model last ran, or the one
    // its checkpoint came from) shuffles and drops out with that run's seed,
    // so resuming needs neither .seed nor the original model's Seed.
    const bool continues = initial_epoch > 0 && run_seed_known_;
    const std::uint64_t seed =
        options.seed.value_or(continues ? fit_seed_ : mix_seed(seed_, 1));
    fit_seed_ = seed;
    run_seed_known_ = true;
    resume_pending_ = false;
    const std::size_t n = train.size();
    const std::size_t batch_size = std::min(options.batch_size, n);
    const std::size_t steps = (n + batch_size - 1) / batch_size;
    ensure_staging(batch_size);
    std::vector<std::int32_t> labels(batch_size);
    ProgressReporter progress(*options.log, options.verbose, options.epochs,
                              steps);
    History history;
    Control control(*this, history);
    control.learning_rate = opt.lr;
    control.metrics = options.metrics;
    control.validated = options.validation != nullptr;
    control.classification = Loss::classification;
    for (Callback* c : options.callbacks) c->on_train_begin(control);
    // The last weights that finished an epoch with a finite loss, restored if
    // the loss turns NaN or infinite.
    AlignedBuffer good_params = params_, good_state = opt_state_,
                  good_running = state_;
    std::int64_t good_opt_step = opt_step_;
    std::uint64_t good_train_steps = train_steps_;
    int good_epoch = initial_epoch;
    // Puts them back; returns where to, for the error message.
    auto restore_good = [&] {
      params_ = good_params;
      opt_state_ = good_state;
      state_ = good_running;
      opt_step_ = good_opt_step;
      train_steps_ = good_train_steps;
      epochs_done_ = good_epoch;
      derived_stale_ = true;
      return "; training stopped and the weights were restored to " +
             (good_epoch == initial_epoch
                  ? std::string("those before fit")
                  : "the end of epoch " + std::to_string(good_epoch));
    };
    // Predicted against true classes of the epoch's batches, for .metrics.
    metrics::ConfusionMatrix train_counts;

    // Counted in 64 bits: epochs = INT_MAX must end, not wrap around.
    for (std::int64_t e = std::int64_t{initial_epoch} + 1; e <= options.epochs;
         ++e) {
      const int epoch = static_cast<int>(e);
      const auto start = std::chrono::steady_clock::now();
      for (Callback* c : options.callbacks) c->on_epoch_begin(epoch, control);
      opt.lr = checked_rate(control.learning_rate, epoch);
      progress.begin_epoch(epoch);
      const auto order = data::epoch_order(n, options.shuffle, seed,
                                           static_cast<std::uint64_t>(epoch));
      double loss_sum = 0;
      std::size_t correct = 0, seen = 0;
      if (!options.metrics.empty()) train_counts = empty_counts();
      for (std::size_t s = 0; s < steps; ++s) {
        const std::size_t b = std::min(batch_size, n - s * batch_size);
        const std::span<const std::uint32_t> indices(
            order.data() + s * batch_size, b);
        for (Callback* c : options.callbacks) {
          c->on_batch_begin(epoch, s, steps, control);
        }
        if (control.learning_rate != opt.lr) {
          opt.lr = checked_rate(control.learning_rate, epoch);
        }
        LossTargets targets;
        if constexpr (std::is_same_v<Data, data::Dataset>) {
          if (options.augmentation.enabled()) {
            data::gather_augmented(train, indices, options.augmentation,
                                   mix_seed(seed, epoch), staging_.data(),
                                   labels.data());
          } else {
            train.gather(indices, staging_.data(), labels.data());
          }
          targets.labels = labels.data();
        } else {
          train.gather(indices, staging_.data(), staging_targets_.data());
          targets.targets = staging_targets_.data();
        }
        const StepStats r =
            step(staging_.data(), targets, b, opt,
                 mix_seed(seed, (static_cast<std::uint64_t>(epoch) << 32) + s));
        if (!std::isfinite(r.loss_sum)) {
          const std::string restored = restore_good();
          // Before any update of this fit the weights are the ones it was
          // given, so the rate cannot be the cause; the data can.
          const bool first_step = epoch == initial_epoch + 1 && s == 0;
          throw NonFiniteLoss(
              "fit: the loss became " + std::to_string(r.loss_sum) +
              " at epoch " + std::to_string(epoch) + ", step " +
              std::to_string(s + 1) + " of " + std::to_string(steps) +
              restored +
              (first_step
                   ? ". It was so before any update: check the data for "
                     "huge or non-finite inputs or targets (or the weights "
                     "for non-finite values)."
                   : ". A lower learning rate usually helps."));
        }
        if constexpr (Loss::classification) {
          if (!options.metrics.empty()) {
            count_predictions(train_counts, targets, b);
          }
        }
        loss_sum += r.loss_sum;
        correct += r.correct;
        seen += b;
        progress.step(s + 1, loss_sum / seen,
                      Loss::classification ? double(correct) / seen : NAN);
      }
      // The last step's loss was measured before its update, which can
      // still have made a weight NaN or infinite: such an epoch is no
      // "good" one to restore, save or validate.
      if (!all_finite(params_)) {
        const std::string restored = restore_good();
        throw NonFiniteLoss(
            "fit: the weights became non-finite in the last step of epoch " +
            std::to_string(epoch) + restored +
            ". A lower learning rate usually helps.");
      }
      EpochRecord record;
      record.epoch = epoch;
      record.learning_rate = opt.lr;
      record.loss = loss_sum / static_cast<double>(seen);
      record.accuracy =
          Loss::classification ? static_cast<double>(correct) / seen : NAN;
      record.metrics = options.metrics;
      if (!options.metrics.empty()) record_metrics(record, train_counts, false);
      if (options.validation) {
        metrics::ConfusionMatrix val_counts = empty_counts();
        const Evaluation v =
            evaluate_impl(*options.validation, 256,
                          options.metrics.empty() ? nullptr : &val_counts);
        record.val_loss = v.loss;
        record.val_accuracy = v.accuracy;
        record.validated = true;
        if (!options.metrics.empty()) record_metrics(record, val_counts, true);
      }
      record.seconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      history.epochs.push_back(record);
      epochs_done_ = epoch;
      progress.end_epoch(record);
      try {
        for (Callback* c : options.callbacks) c->on_epoch_end(record, control);
      } catch (const NonFiniteLoss&) {
        restore_good();
        throw;
      }
      good_params = params_;
      good_state = opt_state_;
      good_running = state_;
      good_opt_step = opt_step_;
      good_train_steps = train_steps_;
      good_epoch = epoch;
      if (control.stop_requested()) break;
    }
    for (Callback* c : options.callbacks) c->on_train_end(control);
    return history;
  }

  // .metrics: the predicted classes of a batch of b, which step() and
  // evaluate_impl leave in predicted_[0, b) (count_correct writes them),
  // counted against the true classes.
  metrics::ConfusionMatrix empty_counts() const {
    return {output_size, std::vector<std::size_t>(output_size * output_size)};
  }
  void count_predictions(metrics::ConfusionMatrix& m, LossTargets t,
                         std::size_t b) const {
    for (std::size_t i = 0; i < b; ++i) {
      std::size_t truth;
      if (t.labels) {
        truth = static_cast<std::size_t>(t.labels[i]);
      } else {
        const float* row = t.targets + i * output_size;
        truth = static_cast<std::size_t>(
            std::max_element(row, row + output_size) - row);
      }
      m.add(truth, static_cast<std::size_t>(predicted_[i]));
    }
  }
  // Macro averages, through the same code as classification_report.
  static void record_metrics(EpochRecord& r, const metrics::ConfusionMatrix& m,
                             bool validation) {
    const metrics::ClassScores macro = metrics::scores(m, {}).macro_avg;
    for (Metric k : r.metrics) {
      const double value = k == Metric::kPrecision ? macro.precision
                           : k == Metric::kRecall  ? macro.recall
                                                   : macro.f1;
      double EpochRecord::*field =
          k == Metric::kPrecision ? (validation ? &EpochRecord::val_precision
                                                : &EpochRecord::precision)
          : k == Metric::kRecall
              ? (validation ? &EpochRecord::val_recall : &EpochRecord::recall)
              : (validation ? &EpochRecord::val_f1 : &EpochRecord::f1);
      r.*field = value;
    }
  }

  // With `counts`, also counts each predicted class against the true one.
  template <class Data>
  Evaluation evaluate_impl(const Data& data, std::size_t batch_size,
                           metrics::ConfusionMatrix* counts = nullptr) {
    check_batch_size(batch_size);
    const std::size_t n = data.size();
    const std::size_t chunk = std::min(batch_size, std::max<std::size_t>(n, 1));
    ensure_arena(
        eval_arena_, eval_capacity_,
        [](std::size_t b) { return EvaluationPlan::layout(b, false); }, chunk);
    std::vector<float> x(chunk * input_size);
    std::vector<std::int32_t> labels(chunk);
    std::vector<float> targets(chunk * output_size);
    std::vector<std::uint32_t> indices(chunk);
    double loss_sum = 0;
    std::size_t correct = 0;
    for (std::size_t begin = 0; begin < n; begin += chunk) {
      const std::size_t b = std::min(chunk, n - begin);
      for (std::size_t i = 0; i < b; ++i) {
        indices[i] = static_cast<std::uint32_t>(begin + i);
      }
      LossTargets t;
      if constexpr (std::is_same_v<Data, data::Dataset>) {
        data.gather({indices.data(), b}, x.data(), labels.data());
        t.labels = labels.data();
      } else {
        data.gather({indices.data(), b}, x.data(), targets.data());
        t.targets = targets.data();
      }
      const auto layout = EvaluationPlan::layout(b, false);
      float* arena = eval_arena_.data();
      const float* out =
          EvaluationPlan::forward(x.data(), arena, layout, params_.data(),
                                  state_.data(), nullptr, b, false, 0);
      loss_sum +=
          Loss::compute(kEvalLogits, out, t, b, output_size, 1.0f, nullptr);
      if constexpr (Loss::classification) {
        correct += count_correct(out, t, b);
        if (counts) count_predictions(*counts, t, b);
      }
    }
    const double count = static_cast<double>(std::max<std::size_t>(n, 1));
    return {loss_sum / count,
            Loss::classification ? static_cast<double>(correct) / count : NAN};
  }

  // Inference on n samples of floats; returns the output rows (arena-owned).
  const float* infer(const float* x, std::size_t n) {
    ensure_arena(
        infer_arena_, infer_capacity_,
        [](std::size_t b) { return InferencePlan::layout(b, false); }, n);
    const auto layout = InferencePlan::layout(n, false);
    if (derived_stale_) {
      InferencePlan::prepare(params_.data(), state_.data(), derived_.data());
      derived_stale_ = false;
    }
    return InferencePlan::forward(x, infer_arena_.data(), layout,
                                  params_.data(), state_.data(),
                                  derived_.data(), n, false, 0);
  }

  // ---- files ----------------------------------------------------------------

  io::ModelFile to_file(io::FileKind kind) const {
    io::ModelFile f;
    f.kind = kind;
    f.fingerprint = fingerprint;
    f.architecture = Net::architecture();
    f.class_names = class_names_;
    hana::for_each(Net::layers::hana_tuple, [&](auto t) {
      using Info = typename decltype(t)::type;
      std::size_t offset = Info::param_offset;
      std::size_t state_offset = Info::state_offset;
      for (const WeightInfo& w :
           Info::layer::template weights<typename Info::input>()) {
        std::size_t& at = w.trainable ? offset : state_offset;
        const float* p = (w.trainable ? params_ : state_).data() + at;
        io::TensorRecord r{static_cast<std::uint32_t>(Info::index),
                           w.name,
                           {w.shape.begin(), w.shape.end()},
                           {p, p + w.size()}};
        f.tensors.push_back(std::move(r));
        at += w.size();
      }
    });
    return f;
  }

  // Throws io::ModelFileError naming the file and what differs unless `f`
  // holds exactly this architecture's tensors and fitting class names.
  void check_file(const io::ModelFile& f, const std::string& name) const {
    if (f.fingerprint != fingerprint) {
      // The layer names show the constants the fingerprint records, so equal
      // descriptions mean a file from before it recorded them.
      const std::string hint =
          f.architecture == Net::architecture()
              ? "\n  The layers read the same: the file comes from a sequent "
                "before 2026-12-02, whose fingerprint left out layer "
                "constants. Load it with that version and save it again."
              : "";
      throw io::ModelFileError(
          name + ": saved from another architecture\n  file:  " +
          f.architecture + "\n  model: " + Net::architecture() + hint);
    }
    const io::ModelFile mine = to_file(io::FileKind::kWeights);
    if (f.tensors.size() != mine.tensors.size()) {
      throw io::ModelFileError(
          name + ": holds " + std::to_string(f.tensors.size()) +
          " tensors, the model has " + std::to_string(mine.tensors.size()));
    }
    auto shape = [](const std::vector<std::uint32_t>& dims) {
      std::string out = "(";
      for (std::size_t d = 0; d < dims.size(); ++d) {
        out += (d ? ", " : "") + std::to_string(dims[d]);
      }
      return out + (dims.size() == 1 ? ",)" : ")");
    };
    for (std::size_t i = 0; i < f.tensors.size(); ++i) {
      const auto &a = f.tensors[i], &b = mine.tensors[i];
      if (a.layer != b.layer || a.name != b.name || a.shape != b.shape) {
        throw io::ModelFileError(name + ": tensor " + std::to_string(i) +
                                 " is layer " + std::to_string(a.layer) + " " +
                                 a.name + " of shape " + shape(a.shape) +
                                 ", the model expects layer " +
                                 std::to_string(b.layer) + " " + b.name +
                                 " of shape " + shape(b.shape));
      }
    }
    if (!f.class_names.empty() && f.class_names.size() != output_size) {
      throw io::ModelFileError(name + ": names " +
                               std::to_string(f.class_names.size()) +
                               " classes, the model has " +
                               std::to_string(output_size) + " outputs");
    }
  }

  // Checks `f` (check_file), then copies its tensors and class names in;
  // nothing changes unless everything fits.
  void apply_file(const io::ModelFile& f, const std::string& name) {
    check_file(f, name);
    AlignedBuffer loaded(params_.size()), loaded_state(state_.size());
    std::size_t i = 0;
    hana::for_each(Net::layers::hana_tuple, [&](auto t) {
      using Info = typename decltype(t)::type;
      std::size_t offset = Info::param_offset;
      std::size_t state_offset = Info::state_offset;
      for (const WeightInfo& w :
           Info::layer::template weights<typename Info::input>()) {
        std::size_t& at = w.trainable ? offset : state_offset;
        std::copy(f.tensors[i].values.begin(), f.tensors[i].values.end(),
                  (w.trainable ? loaded : loaded_state).data() + at);
        at += w.size();
        ++i;
      }
    });
    params_ = std::move(loaded);
    state_ = std::move(loaded_state);
    class_names_ = f.class_names;
    derived_stale_ = true;
  }

  // ---- helpers --------------------------------------------------------------

  std::size_t count_correct(const float* out, LossTargets t, std::size_t b) {
    if (predicted_.size() < b) predicted_.resize(b);
    return count_correct(out, t, b, predicted_.data());
  }
  // As above, with room for b predictions at `predicted`.
  std::size_t count_correct(const float* out, LossTargets t, std::size_t b,
                            std::int32_t* predicted) const {
    kernels::ArgMaxRows(out, b, output_size, predicted);
    std::size_t correct = 0;
    for (std::size_t i = 0; i < b; ++i) {
      std::int32_t truth;
      if (t.labels) {
        truth = t.labels[i];
      } else {
        const float* row = t.targets + i * output_size;
        truth = static_cast<std::int32_t>(
            std::max_element(row, row + output_size) - row);
      }
      correct += predicted[i] == truth;
    }
    return correct;
  }

  template <class LayoutOf>
  static void ensure_arena(AlignedBuffer& arena, std::size_t& capacity,
                           LayoutOf layout_of, std::size_t batch) {
    if (batch > capacity) {
      arena.resize(layout_of(batch).total);
      capacity = batch;
    }
  }
  void ensure_staging(std::size_t batch) {
    if (staging_.size() < batch * input_size) {
      staging_.resize(batch * input_size);
      staging_targets_.resize(batch * output_size);
    }
  }

  // The optimiser's own check of its hyperparameters (lr, betas, …), when
  // it has one: a NaN rate would silently turn every weight NaN.
  template <class Opt>
  static void check_optimizer(const Opt& optimizer) {
    if constexpr (requires { optimizer.check(); }) optimizer.check();
  }
  // A learning rate a schedule set, checked as the optimiser checks its own.
  static float checked_rate(float lr, int epoch) {
    if (!std::isfinite(lr) || lr < 0) {
      throw std::invalid_argument(
          "fit: the learning rate for epoch " + std::to_string(epoch) + " is " +
          detail::format_number(lr) +
          " (set by a callback); it must be finite and >= 0");
    }
    return lr;
  }
  template <class Data>
  static void check_not_empty(const Data& data, const std::string& what) {
    if (data.size() == 0) throw std::invalid_argument(what + " is empty");
  }
  static bool all_finite(const AlignedBuffer& values) {
    bool finite = true;
    for (const float v : values.span()) finite &= std::isfinite(v);
    return finite;
  }

  template <class Opt>
  void prepare_optimizer() {
    const std::size_t size = Opt::state_slots * Net::param_buffer_size;
    if (optimizer_name_ != Opt::name || opt_state_.size() != size) {
      opt_state_.resize(size);
      opt_step_ = 0;
      optimizer_name_ = Opt::name;
    }
  }

  // adapt()'s work, for a model whose first layer is a Normalization.
  template <class First, class Data>
  void adapt_first(const Data& data) {
    constexpr std::size_t C =
        First::layer::template channels<typename First::input>;
    if constexpr (std::is_same_v<Data, data::Dataset>) {
      check_image_shape(data.shape(), "adapt: " + data.source());
    } else if (data.input_size() != input_size) {
      throw std::invalid_argument(
          "adapt: inputs of " + std::to_string(data.input_size()) +
          " values, but the model's Input is " + input_shape::to_string());
    }
    check_not_empty(data, "adapt: the dataset");
    constexpr std::size_t kChunk = 256;
    ensure_staging(kChunk);
    // Labels or targets are gathered and ignored; a FloatDataset's targets
    // need not match the model's output, so they get a buffer of their own.
    std::vector<std::int32_t> labels(kChunk);
    std::vector<float> targets;
    if constexpr (!std::is_same_v<Data, data::Dataset>) {
      targets.resize(kChunk * data.target_size());
    }
    std::vector<std::uint32_t> indices(kChunk);
    // Calls visit(values, count) on the inputs of every chunk of samples.
    const auto for_each_chunk = [&](const auto& visit) {
      for (std::size_t first = 0; first < data.size(); first += kChunk) {
        const std::size_t count = std::min(kChunk, data.size() - first);
        for (std::size_t i = 0; i < count; ++i) {
          indices[i] = static_cast<std::uint32_t>(first + i);
        }
        const std::span<const std::uint32_t> chunk(indices.data(), count);
        if constexpr (std::is_same_v<Data, data::Dataset>) {
          data.gather(chunk, staging_.data(), labels.data());
        } else {
          data.gather(chunk, staging_.data(), targets.data());
        }
        visit(staging_.data(), count * input_size);
      }
    };
    std::vector<double> sum(C, 0.0), squares(C, 0.0);
    for_each_chunk([&](const float* x, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) sum[i % C] += x[i];
    });
    const double positions =
        static_cast<double>(data.size()) * static_cast<double>(input_size / C);
    for (double& s : sum) s /= positions;  // now the means
    for_each_chunk([&](const float* x, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) {
        const double d = x[i] - sum[i % C];
        squares[i % C] += d * d;
      }
    });
    float* state = state_.data() + First::state_offset;
    for (std::size_t c = 0; c < C; ++c) {
      state[c] = static_cast<float>(sum[c]);
      state[C + c] = static_cast<float>(squares[c] / positions);
    }
    derived_stale_ = true;
  }

  // Calls fn(weight infos, parameter offset) for user layer `layer`.
  template <class Fn>
  void for_layer(std::size_t layer, Fn&& fn) const {
    if (layer >= Net::layer_count) {
      throw std::out_of_range(
          "layer " + std::to_string(layer) + " does not exist: the model has " +
          std::to_string(Net::layer_count) + " layers after Input (0-based)");
    }
    hana::for_each(Net::layers::hana_tuple, [&](auto t) {
      using Info = typename decltype(t)::type;
      if (Info::index == layer) {
        fn(Info::layer::template weights<typename Info::input>(),
           Info::param_offset, Info::state_offset);
      }
    });
  }

  // ---- input checks ---------------------------------------------------------

  static void check_batch_size(std::size_t batch_size) {
    if (batch_size == 0) {
      throw std::invalid_argument("batch_size must be >= 1");
    }
  }

  static void check_image_shape(const data::ImageShape& s,
                                const std::string& where) {
    constexpr auto dims = input_shape::dims;
    bool ok;
    if constexpr (input_shape::rank == 1) {
      ok = s.size() == input_size;  // Input<N> takes any image of N values
    } else if constexpr (input_shape::rank == 2) {
      ok = s.height == dims[0] && s.width == dims[1] && s.channels == 1;
    } else {
      ok = s.height == dims[0] && s.width == dims[1] && s.channels == dims[2];
    }
    if (!ok) {
      throw std::invalid_argument(where + ": images are " + data::to_string(s) +
                                  " (HxWxC) but the model's Input is " +
                                  input_shape::to_string());
    }
  }

  void check_dataset(const data::Dataset& d) const {
    check_image_shape(d.shape(), d.source().empty() ? "dataset" : d.source());
    for (std::int32_t label : d.labels()) {
      if (label < 0 || static_cast<std::size_t>(label) >= output_size) {
        throw std::invalid_argument(
            (d.source().empty() ? std::string("dataset") : d.source()) +
            ": label " + std::to_string(label) + " is not a class of this " +
            "model, which outputs " + std::to_string(output_size) + " classes");
      }
    }
  }
  void check_dataset(const data::FloatDataset& d) const {
    if (d.input_size() != input_size || d.target_size() != output_size) {
      throw std::invalid_argument(
          "dataset of inputs of " + std::to_string(d.input_size()) +
          " and targets of " + std::to_string(d.target_size()) +
          " values does not fit the model: Input " + input_shape::to_string() +
          ", output " + output_shape::to_string());
    }
  }
  void check_batch(const Batch& b) const {
    if (b.size == 0) throw std::invalid_argument("train_step: empty batch");
    if (b.inputs.size() != b.size * input_size) {
      throw std::invalid_argument(
          "train_step: " + std::to_string(b.inputs.size()) +
          " input floats for a batch of " + std::to_string(b.size) +
          " inputs of shape " + input_shape::to_string());
    }
    if (Loss::needs_labels || !b.labels.empty()) {
      if (b.labels.size() != b.size) {
        throw std::invalid_argument(
            "train_step: " + std::to_string(b.labels.size()) +
            " labels for a batch of " + std::to_string(b.size));
      }
      for (std::int32_t label : b.labels) {
        if (label < 0 || static_cast<std::size_t>(label) >= output_size) {
          throw std::invalid_argument(
              "train_step: label " + std::to_string(label) +
              " is not a class of this model (" + std::to_string(output_size) +
              " classes)");
        }
      }
    } else if (b.targets.size() != b.size * output_size) {
      throw std::invalid_argument(
          "train_step: " + std::to_string(b.targets.size()) +
          " target floats for a batch of " + std::to_string(b.size) +
          " outputs of shape " + output_shape::to_string());
    }
  }

  std::uint64_t seed_;
  AlignedBuffer params_, grads_, opt_state_;
  // Gradient buffers of the parts of a split batch after the first (whose
  // gradients go to grads_ directly).
  std::vector<AlignedBuffer> part_grads_;
  AlignedBuffer state_;    // running statistics (non-trainable)
  AlignedBuffer derived_;  // inference weights prepared from params_/state_
  bool derived_stale_ = true;
  std::string optimizer_name_;
  int epochs_done_ = 0;
  std::uint64_t fit_seed_ = 0;   // the seed of the run epochs_done_ belongs to
  bool run_seed_known_ = false;  // fit_seed_ is set (by fit or a checkpoint)
  bool resume_pending_ = false;  // load_checkpoint, then no fit yet
  std::vector<std::string> class_names_;
  std::int64_t opt_step_ = 0;
  std::uint64_t train_steps_ = 0;
  AlignedBuffer train_arena_, eval_arena_, infer_arena_;
  std::size_t train_capacity_ = 0, eval_capacity_ = 0, infer_capacity_ = 0;
  AlignedBuffer staging_, staging_targets_;
  std::vector<std::int32_t> predicted_;
};

}  // namespace sequent
