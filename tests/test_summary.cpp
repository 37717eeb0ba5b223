// model.summary()'s inference section: what predict() runs where it differs
// from training (BatchNorm folded into the convolution, Dropout removed,
// Softmax run rather than left to the loss), and the kernels it runs.
#define BOOST_TEST_MODULE summary
#include <boost/test/unit_test.hpp>
#include <sequent/sequent.hpp>
#include <string>

namespace sq = sequent;

namespace {

using Cnn = sq::Sequential<sq::Input<28, 28, 1>, sq::Conv2D<32, 3, sq::Same>,
                           sq::BatchNorm<>, sq::ReLU, sq::MaxPool2D<2>,
                           sq::Flatten, sq::Dense<128>, sq::ReLU,
                           sq::Dropout<0.5>, sq::Dense<10>, sq::Softmax>;
using Loss = sq::SparseCategoricalCrossentropy;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The text from `from` to the end.
std::string tail(const std::string& text, const std::string& from) {
  const auto at = text.find(from);
  return at == std::string::npos ? std::string() : text.substr(at);
}

}  // namespace

BOOST_AUTO_TEST_CASE(inference_section_lists_what_differs) {
  const std::string s = sq::Model<Cnn, Loss>::summary();
  BOOST_TEST_MESSAGE(s);
  // Training: Conv2D+BatchNorm+ReLU unfolded, Dropout masks, Softmax in
  // the loss.
  BOOST_TEST(has(s, "convolution, then batch-norm+ReLU kernel"));
  BOOST_TEST(has(s, "mask kernel (training only)"));
  // Inference: convolution+BN+ReLU+pool, Dense+ReLU, Dense, Softmax.
  const std::string inference = tail(s, "Inference (predict): ");
  BOOST_REQUIRE(!inference.empty());
  BOOST_TEST(
      has(inference, "Inference (predict): 4 kernels; where it differs:"));
  BOOST_TEST(has(inference,
                 "  0-3   Conv2D<32, 3x3, same>+BatchNorm+ReLU+MaxPool2D<2x2>: "
                 "convolution with BatchNorm folded into its weights, ReLU "
                 "epilogue, then a 2x2 max-pool pass"));
  BOOST_TEST(has(inference,
                 "  7     Dropout<0.5>: removed (identity at "
                 "inference)"));
  BOOST_TEST(has(inference, "  9     Softmax: row-wise softmax kernel"));
  // Steps that run alike are not repeated.
  BOOST_TEST(!has(inference, "Dense<128>+ReLU"));
}

BOOST_AUTO_TEST_CASE(pooled_winograd_layer_says_where_it_pools) {
  // 16 input channels: a Winograd layer, which pools in its output
  // transform; one input channel: a convolution, then a pooling pass.
  using Wide =
      sq::Sequential<sq::Input<8, 8, 16>, sq::Conv2D<16, 3, sq::Same>, sq::ReLU,
                     sq::MaxPool2D<2>, sq::Flatten, sq::Dense<2>, sq::Softmax>;
  using Narrow =
      sq::Sequential<sq::Input<8, 8, 1>, sq::Conv2D<16, 3, sq::Same>, sq::ReLU,
                     sq::MaxPool2D<2>, sq::Flatten, sq::Dense<2>, sq::Softmax>;
  BOOST_TEST(has(sq::Model<Wide, Loss>::summary(),
                 "  0-2   Conv2D<16, 3x3, same>+ReLU+MaxPool2D<2x2>: "
                 "convolution, bias+ReLU epilogue, 2x2 max-pool in the "
                 "Winograd output transform"));
  BOOST_TEST(has(sq::Model<Narrow, Loss>::summary(),
                 "  0-2   Conv2D<16, 3x3, same>+ReLU+MaxPool2D<2x2>: "
                 "convolution, bias+ReLU epilogue, then a 2x2 max-pool pass"));
  // Six filters (LeNet's first layer): pooled in the pixel tiles.
  using Few =
      sq::Sequential<sq::Input<12, 12, 3>, sq::Conv2D<6, 5>, sq::ReLU,
                     sq::MaxPool2D<2>, sq::Flatten, sq::Dense<2>, sq::Softmax>;
  BOOST_TEST(has(sq::Model<Few, Loss>::summary(),
                 "  0-2   Conv2D<6, 5x5, valid>+ReLU+MaxPool2D<2x2>: "
                 "convolution, bias+ReLU epilogue, 2x2 max-pool in its pixel "
                 "tiles"));
}

BOOST_AUTO_TEST_CASE(inference_as_in_training_says_so) {
  // No BatchNorm, Dropout or Softmax: nothing changes at inference.
  using Regression =
      sq::Sequential<sq::Input<4>, sq::Dense<8>, sq::Tanh, sq::Dense<1>>;
  const std::string s = sq::Model<Regression, sq::MeanSquaredError>::summary();
  BOOST_TEST(has(s, "Inference (predict): 2 kernels, as in training"));
  BOOST_TEST(!has(s, "where it differs"));
}

BOOST_AUTO_TEST_CASE(inference_without_fusion_only_drops_dropout) {
  const std::string s = sq::Model<Cnn, Loss, sq::Fusion::kOff>::summary();
  const std::string inference = tail(s, "Inference (predict): ");
  // Conv, BatchNorm, ReLU, pool, Dense, ReLU, Dense, Softmax.
  BOOST_TEST(
      has(inference, "Inference (predict): 8 kernels; where it differs:"));
  BOOST_TEST(has(inference, "Dropout<0.5>: removed"));
  BOOST_TEST(!has(inference, "folded"));
  BOOST_TEST(!has(inference, "Softmax"));  // it runs in training too
}
