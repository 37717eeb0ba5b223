// The type level: shape propagation, parameter counts and layout, the fusion
// rewrite and the memory plan, mostly checked at compile time.
#define BOOST_TEST_MODULE shapes
#include <boost/test/unit_test.hpp>
#include <sequent/sequent.hpp>
#include <type_traits>

namespace sq = sequent;

using Mlp = sq::Sequential<sq::Input<28, 28, 1>, sq::Flatten, sq::Dense<128>,
                           sq::ReLU, sq::Dense<10>, sq::Softmax>;
using Loss = sq::SparseCategoricalCrossentropy;

// ---- shapes and parameters -------------------------------------------------
static_assert(std::is_same_v<Mlp::input, sq::Shape<28, 28, 1>>);
static_assert(std::is_same_v<Mlp::output, sq::Shape<10>>);
static_assert(Mlp::layer_count == 5);
static_assert(std::is_same_v<sq::at_t<0, Mlp::layers>::output, sq::Shape<784>>);
static_assert(std::is_same_v<sq::at_t<1, Mlp::layers>::output, sq::Shape<128>>);
static_assert(sq::at_t<1, Mlp::layers>::param_count == 784 * 128 + 128);
static_assert(sq::at_t<3, Mlp::layers>::param_count == 128 * 10 + 10);
static_assert(Mlp::param_count == 101770);  // as Keras counts it
// Each layer's block starts on a 64-byte line.
static_assert(sq::at_t<1, Mlp::layers>::param_offset == 0);
static_assert(sq::at_t<3, Mlp::layers>::param_offset % 16 == 0);
static_assert(sq::at_t<3, Mlp::layers>::param_offset >= 100480);
static_assert(Mlp::param_buffer_size >= Mlp::param_count);

// ---- fusion ------------------------------------------------------------------
using TrainPlan = sq::plan_t<Mlp, Loss, sq::PlanKind::kTraining, sq::Fusion::kOn>;
// Flatten, Dense+ReLU, Dense, Softmax-into-loss.
static_assert(TrainPlan::size == 4);
static_assert(std::is_same_v<sq::at_t<1, TrainPlan>::exec,
                             sq::fused::DenseActivation<sq::Dense<128>, sq::ReLU>>);
static_assert(sq::at_t<1, TrainPlan>::first_layer == 1 &&
              sq::at_t<1, TrainPlan>::last_layer == 2);
static_assert(std::is_same_v<sq::at_t<3, TrainPlan>::exec,
                             sq::fused::Absorbed<sq::Softmax>>);
static_assert(sq::outputs_logits<Mlp, Loss, sq::PlanKind::kTraining, sq::Fusion::kOn>);
static_assert(!sq::outputs_logits<Mlp, Loss, sq::PlanKind::kInference, sq::Fusion::kOn>);
// With fusion off every layer runs as written.
using Unfused = sq::plan_t<Mlp, Loss, sq::PlanKind::kTraining, sq::Fusion::kOff>;
static_assert(Unfused::size == 5);
static_assert(std::is_same_v<sq::at_t<4, Unfused>::exec, sq::Softmax>);
// A regression loss does not absorb a Softmax.
static_assert(std::is_same_v<
              sq::at_t<3, sq::plan_t<Mlp, sq::MeanSquaredError,
                                     sq::PlanKind::kTraining, sq::Fusion::kOn>>::exec,
              sq::Softmax>);

// Dropout runs in training and disappears at inference.
using WithDropout = sq::Sequential<sq::Input<8>, sq::Dense<16>, sq::Tanh,
                                   sq::Dropout<0.5>, sq::Dense<3>, sq::Softmax>;
using DropTrain =
    sq::plan_t<WithDropout, Loss, sq::PlanKind::kTraining, sq::Fusion::kOn>;
using DropInfer =
    sq::plan_t<WithDropout, Loss, sq::PlanKind::kInference, sq::Fusion::kOn>;
static_assert(std::is_same_v<sq::at_t<1, DropTrain>::exec, sq::Dropout<0.5>>);
static_assert(std::is_same_v<sq::at_t<1, DropInfer>::exec,
                             sq::fused::Absorbed<sq::Dropout<0.5>>>);

// ---- memory plan -------------------------------------------------------------
using TrainRunner = sq::PlanRunner<TrainPlan>;
// Buffers: input, Dense+ReLU out, Dense out (Flatten and Softmax alias).
static_assert(TrainRunner::buffer_count == 3);
static_assert(TrainRunner::buffer_size[0] == 784 &&
              TrainRunner::buffer_size[1] == 128 &&
              TrainRunner::buffer_size[2] == 10);
// Only steps after the first Dense need an input gradient.
static_assert(!TrainRunner::needs_input_grad[0] &&
              !TrainRunner::needs_input_grad[1] &&
              TrainRunner::needs_input_grad[2]);

BOOST_AUTO_TEST_CASE(layout_is_aligned_and_disjoint) {
  for (std::size_t batch : {1u, 3u, 32u, 100u}) {
    const auto l = TrainRunner::layout(batch, true);
    std::size_t end = 0;
    for (std::size_t b = 0; b < TrainRunner::buffer_count; ++b) {
      BOOST_TEST(l.buffer[b] % 16 == 0);
      BOOST_TEST(l.buffer[b] >= end);
      end = l.buffer[b] + batch * TrainRunner::buffer_size[b];
    }
    BOOST_TEST(l.grad[0] >= end);
    BOOST_TEST(l.grad[1] >= l.grad[0] + batch * 784);
    BOOST_TEST(l.total >= l.grad[1] + batch * 784);
  }
}

BOOST_AUTO_TEST_CASE(shapes_print_like_keras) {
  BOOST_TEST((sq::Shape<28, 28, 1>::to_string() == "(28, 28, 1)"));
  BOOST_TEST(sq::Shape<10>::to_string() == "(10,)");
}

BOOST_AUTO_TEST_CASE(summary_lists_layers_params_and_fusion) {
  const std::string s = sq::Model<Mlp, Loss>::summary();
  BOOST_TEST_MESSAGE(s);
  for (const char* expected :
       {"Flatten", "(784,)", "Dense<128>", "100,480", "ReLU", "Dense<10>",
        "1,290", "Softmax", "(10,)", "Total params: 101,770",
        "Dense<128>+ReLU: GEMM, bias+ReLU epilogue",
        "fused into the loss", "a view of its input"}) {
    BOOST_TEST(s.find(expected) != std::string::npos, "missing: " << expected);
  }
  const std::string off = sq::Model<Mlp, Loss, sq::Fusion::kOff>::summary();
  BOOST_TEST(off.find("fusion off") != std::string::npos);
  BOOST_TEST(off.find("+ReLU") == std::string::npos);
}
