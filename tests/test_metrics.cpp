// Metrics against hand-computed cases, and the report's layout against the
// one scikit-learn prints for the same data.
#define BOOST_TEST_MODULE metrics
#include <boost/test/unit_test.hpp>
#include <sequent/metrics/metrics.hpp>
#include <string>
#include <vector>

namespace m = sequent::metrics;

BOOST_AUTO_TEST_CASE(confusion_matrix_counts_true_by_predicted) {
  const std::vector<std::int32_t> truth{0, 1, 2, 2, 2}, pred{0, 0, 2, 2, 1};
  const auto cm = m::confusion_matrix(pred, truth, 3);
  const std::vector<std::size_t> expected{1, 0, 0,  //
                                          1, 0, 0,  //
                                          0, 1, 2};
  BOOST_TEST(cm.counts == expected);
  BOOST_TEST(cm.total() == 5u);
  BOOST_TEST(m::accuracy(pred, truth) == 0.6);
  // From predict()'s Predictions: the same matrix, its classes from them.
  sequent::Predictions p;
  p.count = 5;
  p.classes = 3;
  p.labels = pred;
  p.probabilities.assign(15, 1.0f / 3);
  BOOST_TEST(m::confusion_matrix(p, truth).counts == expected);
  BOOST_TEST(m::confusion_matrix(p, truth).classes == 3u);
}

// y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1]: by hand,
// class 0: P = 1/2, R = 1/1, F1 = 2/3; class 1: P = 0/1, R = 0/1, F1 = 0;
// class 2: P = 2/2, R = 2/3, F1 = 0.8.
BOOST_AUTO_TEST_CASE(report_matches_hand_computation_and_sklearn_layout) {
  const std::vector<std::int32_t> truth{0, 1, 2, 2, 2}, pred{0, 0, 2, 2, 1};
  const auto r = m::scores(m::confusion_matrix(pred, truth, 3),
                           {"class 0", "class 1", "class 2"});
  const auto tol = boost::test_tools::tolerance(1e-12);
  BOOST_TEST(r.per_class[0].precision == 0.5, tol);
  BOOST_TEST(r.per_class[0].recall == 1.0, tol);
  BOOST_TEST(r.per_class[0].f1 == 2.0 / 3.0, tol);
  BOOST_TEST(r.per_class[1].f1 == 0.0, tol);
  BOOST_TEST(r.per_class[2].precision == 1.0, tol);
  BOOST_TEST(r.per_class[2].recall == 2.0 / 3.0, tol);
  BOOST_TEST(r.per_class[2].f1 == 0.8, tol);
  BOOST_TEST(r.macro_avg.precision == 0.5, tol);
  BOOST_TEST(r.macro_avg.recall == (1.0 + 0.0 + 2.0 / 3.0) / 3.0, tol);
  BOOST_TEST(r.weighted_avg.precision == (0.5 * 1 + 0 * 1 + 1.0 * 3) / 5, tol);
  BOOST_TEST(r.weighted_avg.f1 == (2.0 / 3.0 + 0 + 0.8 * 3) / 5, tol);
  const std::string expected =
      "              precision    recall  f1-score   support\n"
      "\n"
      "     class 0       0.50      1.00      0.67         1\n"
      "     class 1       0.00      0.00      0.00         1\n"
      "     class 2       1.00      0.67      0.80         3\n"
      "\n"
      "    accuracy                           0.60         5\n"
      "   macro avg       0.50      0.56      0.49         5\n"
      "weighted avg       0.70      0.60      0.61         5\n";
  BOOST_TEST(r.to_string() == expected);
  BOOST_TEST(m::classification_report(
                 pred, truth, {"class 0", "class 1", "class 2"}) == expected);
}

// A class that is never predicted and never present scores 0, not NaN.
BOOST_AUTO_TEST_CASE(zero_division_gives_zero) {
  const std::vector<std::int32_t> truth{0, 0, 1}, pred{0, 1, 1};
  const auto r = m::scores(m::confusion_matrix(pred, truth, 3), {});
  BOOST_TEST(r.per_class[2].precision == 0.0);
  BOOST_TEST(r.per_class[2].recall == 0.0);
  BOOST_TEST(r.per_class[2].f1 == 0.0);
  BOOST_TEST(r.per_class[2].support == 0u);
  BOOST_TEST(r.class_names[2] == "2");
  const auto empty = m::scores(m::confusion_matrix({}, {}, 2), {"a", "b"});
  BOOST_TEST(empty.accuracy == 0.0);
  BOOST_TEST(empty.to_string().find("nan") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_input_is_named) {
  const std::vector<std::int32_t> truth{0, 1}, pred{0, 5}, short_pred{0};
  BOOST_CHECK_EXCEPTION(
      m::confusion_matrix(pred, truth, 3), std::invalid_argument,
      [](const auto& e) {
        return std::string(e.what()).find("prediction 5 at index 1") !=
               std::string::npos;
      });
  BOOST_CHECK_THROW(m::accuracy(short_pred, truth), std::invalid_argument);
  BOOST_CHECK_THROW(m::scores(m::confusion_matrix(truth, truth, 2), {"one"}),
                    std::invalid_argument);
  const std::vector<std::int32_t> negative{-3, 0};
  BOOST_CHECK_THROW(m::classification_report(negative, truth, {}),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(top_k_accuracy_counts_the_true_class_among_the_k_best) {
  sequent::Predictions p;
  p.count = 4;
  p.classes = 4;
  p.probabilities = {0.1f,  0.6f,  0.2f,  0.1f,   // true 2: second best
                     0.4f,  0.3f,  0.2f,  0.1f,   // true 3: last
                     0.25f, 0.25f, 0.25f, 0.25f,  // true 1: tied with all
                     NAN,   0.5f,  0.5f,  0.0f};  // true 0: NaN
  p.labels = {1, 0, 0, 1};
  const std::vector<std::int32_t> truth{2, 3, 1, 0};
  BOOST_TEST(m::top_k_accuracy(p, truth, 1) == 0.25);  // the tie only
  BOOST_TEST(m::top_k_accuracy(p, truth, 2) == 0.5);
  BOOST_TEST(m::top_k_accuracy(p, truth, 3) == 0.5);
  BOOST_TEST(m::top_k_accuracy(p, truth, 4) == 0.75);  // never the NaN
  BOOST_TEST(m::top_k_accuracy(p, truth, 9) == 0.75);
  BOOST_CHECK_THROW(m::top_k_accuracy(p, truth, 0), std::invalid_argument);
  const std::vector<std::int32_t> short_truth{2};
  BOOST_CHECK_THROW(m::top_k_accuracy(p, short_truth, 1),
                    std::invalid_argument);
  const std::vector<std::int32_t> bad{2, 3, 4, 0};
  BOOST_CHECK_EXCEPTION(
      m::top_k_accuracy(p, bad, 1), std::invalid_argument, [](const auto& e) {
        return std::string(e.what()).find("true label 4 at index 2") !=
               std::string::npos;
      });
}
