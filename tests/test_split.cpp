// Tests of choosing samples: select by index, class counts, and
// train_test_split plain and stratified, with and without shuffling.
#define BOOST_TEST_MODULE split
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "error_message.hpp"
#include "sequent/data/split.hpp"

namespace sd = sequent::data;
using sequent::test::message_has;

namespace {

// n samples whose two pixels spell their index (so a copy can be traced back
// to the sample it came from), with labels from `label_of`.
template <class LabelOf>
sd::Dataset numbered(std::size_t n, std::size_t classes, LabelOf label_of) {
  std::vector<std::uint8_t> pixels;
  std::vector<std::int32_t> labels;
  for (std::size_t i = 0; i < n; ++i) {
    pixels.push_back(static_cast<std::uint8_t>(i & 0xFF));
    pixels.push_back(static_cast<std::uint8_t>(i >> 8));
    labels.push_back(static_cast<std::int32_t>(label_of(i)));
  }
  std::vector<std::string> names;
  for (std::size_t c = 0; c < classes; ++c)
    names.push_back("c" + std::to_string(c));
  return {std::move(pixels), {1, 2, 1}, std::move(labels), names, "numbered"};
}

// The original index of each sample of `part`.
std::vector<std::size_t> origins(const sd::Dataset& part) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < part.size(); ++i) {
    const auto px = part.image(i);
    out.push_back(px[0] | (std::size_t{px[1]} << 8));
  }
  return out;
}

// Classes 0, 1, 2 with 50, 30 and 20 samples, interleaved.
sd::Dataset three_classes() {
  return numbered(100, 3, [](std::size_t i) {
    const std::size_t r = i % 10;
    return r < 5 ? 0 : r < 8 ? 1 : 2;
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(select_copies_in_the_order_given) {
  const auto data = numbered(10, 2, [](std::size_t i) { return i % 2; });
  const std::vector<std::uint32_t> picks{7, 2, 2, 9};
  const auto part = sd::select(data, picks);
  BOOST_TEST(origins(part) == (std::vector<std::size_t>{7, 2, 2, 9}));
  BOOST_TEST(
      (std::vector<std::int32_t>(part.labels().begin(), part.labels().end()) ==
       std::vector<std::int32_t>{1, 0, 0, 1}));
  BOOST_TEST(part.class_names() == data.class_names());
  BOOST_TEST(part.source() == data.source());
  BOOST_TEST(sd::select(data, {}).size() == 0u);

  const std::vector<std::uint32_t> bad{1, 10};
  BOOST_CHECK_EXCEPTION(
      sd::select(data, bad), std::out_of_range,
      message_has("numbered", "10 samples", "index 10", "position 1"));
}

BOOST_AUTO_TEST_CASE(class_counts_include_empty_classes) {
  const auto data = numbered(7, 4, [](std::size_t i) { return i < 5 ? 0 : 2; });
  BOOST_TEST(sd::class_counts(data) == (std::vector<std::size_t>{5, 0, 2, 0}));
}

BOOST_AUTO_TEST_CASE(unshuffled_split_holds_out_the_tail_as_keras_does) {
  const auto data = numbered(10, 2, [](std::size_t i) { return i % 2; });
  // Keras' validation_split = 0.3 holds out the last 3 of 10.
  const auto split =
      sd::train_test_split(data, {.test_fraction = 0.3, .shuffle = false});
  BOOST_TEST(origins(split.train) ==
             (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6}));
  BOOST_TEST(origins(split.test) == (std::vector<std::size_t>{7, 8, 9}));
  // The float 0.7f is just under 0.7 and still holds out 7, as fit's
  // .validation_split = 0.7f does.
  const auto f = sd::train_test_split(
      data, {.test_fraction = double{0.7f}, .shuffle = false});
  BOOST_TEST(f.test.size() == 7u);
}

BOOST_AUTO_TEST_CASE(shuffled_split_is_a_seeded_partition) {
  const auto data = numbered(1000, 2, [](std::size_t i) { return i % 2; });
  const auto a = sd::train_test_split(data, {.test_fraction = 0.2, .seed = 5});
  BOOST_TEST(a.train.size() == 800u);
  BOOST_TEST(a.test.size() == 200u);
  std::vector<std::size_t> all = origins(a.train);
  const auto test = origins(a.test);
  all.insert(all.end(), test.begin(), test.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i < all.size(); ++i) BOOST_TEST_REQUIRE(all[i] == i);
  // Not the tail, and not in the original order.
  BOOST_TEST(!std::is_sorted(test.begin(), test.end()));
  BOOST_TEST(*std::min_element(test.begin(), test.end()) < 500u);

  const auto same =
      sd::train_test_split(data, {.test_fraction = 0.2, .seed = 5});
  BOOST_TEST(origins(same.test) == test);
  const auto other =
      sd::train_test_split(data, {.test_fraction = 0.2, .seed = 6});
  BOOST_TEST(origins(other.test) != test);
}

BOOST_AUTO_TEST_CASE(stratified_split_keeps_each_class_share) {
  const auto data = three_classes();
  for (const bool shuffle : {true, false}) {
    const auto split = sd::train_test_split(
        data, {.test_fraction = 0.2, .shuffle = shuffle, .stratify = true});
    BOOST_TEST(sd::class_counts(split.test) ==
               (std::vector<std::size_t>{10, 6, 4}));
    BOOST_TEST(sd::class_counts(split.train) ==
               (std::vector<std::size_t>{40, 24, 16}));
    std::vector<std::size_t> all = origins(split.train);
    const auto test = origins(split.test);
    all.insert(all.end(), test.begin(), test.end());
    std::sort(all.begin(), all.end());
    BOOST_TEST((std::adjacent_find(all.begin(), all.end()) == all.end()));
    BOOST_TEST(all.size() == 100u);
    if (!shuffle) {
      // The last samples of each class, in their original order.
      BOOST_TEST(std::is_sorted(test.begin(), test.end()));
      BOOST_TEST(test.front() >= 75u);
    } else {
      // Not grouped by class: labels change along the test part.
      const auto labels = split.test.labels();
      BOOST_TEST(!std::is_sorted(labels.begin(), labels.end()));
    }
  }
}

BOOST_AUTO_TEST_CASE(stratified_leftovers_go_to_the_largest_remainders) {
  // 7 of class 0 and 3 of class 1; a quarter of 10 holds out 3. Exact
  // shares 2.1 and 0.9: class 0 gets 2, class 1's larger remainder gets 1.
  const auto data =
      numbered(10, 2, [](std::size_t i) { return i < 7 ? 0 : 1; });
  const auto split = sd::train_test_split(
      data, {.test_fraction = 0.25, .stratify = true, .seed = 3});
  BOOST_TEST(sd::class_counts(split.test) == (std::vector<std::size_t>{2, 1}));
  // Equal remainders: the lower label gets the extra sample.
  const auto even = numbered(4, 2, [](std::size_t i) { return i % 2; });
  const auto half =
      sd::train_test_split(even, {.test_fraction = 0.25, .stratify = true});
  BOOST_TEST(sd::class_counts(half.test) == (std::vector<std::size_t>{1, 0}));
}

BOOST_AUTO_TEST_CASE(bad_fractions_name_the_dataset) {
  const auto data = numbered(10, 2, [](std::size_t i) { return i % 2; });
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const double f : {0.0, 1.0, -0.5, 1.5, nan}) {
    BOOST_CHECK_EXCEPTION(sd::train_test_split(data, {.test_fraction = f}),
                          std::invalid_argument,
                          message_has("numbered", "test_fraction in (0, 1)"));
  }
  // Any positive share of at least one sample's worth rounds up to one...
  BOOST_TEST(sd::train_test_split(data, {.test_fraction = 0.01}).test.size() ==
             1u);
  // ...but not one too small to move n·(1 − fraction) off n.
  BOOST_CHECK_EXCEPTION(sd::train_test_split(data, {.test_fraction = 1e-20}),
                        std::invalid_argument,
                        message_has("numbered", "1e-20", "no test samples"));
  BOOST_CHECK_EXCEPTION(sd::train_test_split(data, {.test_fraction = 0.99}),
                        std::invalid_argument,
                        message_has("numbered", "no train samples"));
  const sd::Dataset empty({}, {1, 2, 1}, {}, {"a"}, "nothing");
  BOOST_CHECK_EXCEPTION(sd::train_test_split(empty), std::invalid_argument,
                        message_has("nothing", "no test samples"));
}
