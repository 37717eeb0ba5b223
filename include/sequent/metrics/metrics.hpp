// Classification metrics: accuracy, the confusion matrix, per-class
// precision / recall / F1 with macro and weighted averages, and a report laid
// out like scikit-learn's classification_report.
//
// Zero division is handled as scikit-learn does by default: a precision with
// no predictions of the class, a recall with no true samples of it, or an F1
// with precision + recall = 0 is 0.
//
// Every function that takes both takes the predicted labels first, then the
// true ones — the reverse of scikit-learn's (y_true, y_pred); plot::samples
// does the same. The overloads taking predict()'s Predictions leave no order
// to remember.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sequent/train/options.hpp"

namespace sequent::metrics {

// counts[t·classes + p]: samples of true class t predicted as p.
struct ConfusionMatrix {
  std::size_t classes = 0;
  std::vector<std::size_t> counts;

  std::size_t at(std::size_t truth, std::size_t predicted) const {
    return counts[truth * classes + predicted];
  }
  std::size_t total() const;
  // Counts one sample; both classes must be < classes (not checked: for
  // callers that have validated them, such as fit).
  void add(std::size_t truth, std::size_t predicted) {
    ++counts[truth * classes + predicted];
  }
};

// Requires predicted.size() == truth.size() and every value in
// [0, classes); throws std::invalid_argument naming the first bad one.
ConfusionMatrix confusion_matrix(std::span<const std::int32_t> predicted,
                                 std::span<const std::int32_t> truth,
                                 std::size_t classes);
// The matrix of predict()'s labels, over its classes.
ConfusionMatrix confusion_matrix(const Predictions& predictions,
                                 std::span<const std::int32_t> truth);

double accuracy(std::span<const std::int32_t> predicted,
                std::span<const std::int32_t> truth);

// The share of samples whose true class is among the k most probable of
// predict()'s probabilities (Keras' sparse_top_k_categorical_accuracy).
// Ties count in the sample's favour, as tf.math.in_top_k has them: the true
// class is in the top k when fewer than k classes are strictly more
// probable; a NaN probability for it never is. k >= the class count gives
// 1. std::invalid_argument for k = 0, differing lengths or a label outside
// [0, classes).
double top_k_accuracy(const Predictions& predictions,
                      std::span<const std::int32_t> truth, std::size_t k);

struct ClassScores {
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  std::size_t support = 0;  // true samples of the class
};

struct Report {
  std::vector<std::string> class_names;
  std::vector<ClassScores> per_class;
  ClassScores macro_avg;     // unweighted mean over classes
  ClassScores weighted_avg;  // mean weighted by support
  double accuracy = 0;
  std::size_t total = 0;

  // scikit-learn's layout, `digits` decimals.
  std::string to_string(int digits = 2) const;
};

Report scores(const ConfusionMatrix& matrix,
              std::vector<std::string> class_names);

// The report for predictions against true labels. class_names may be empty
// (classes are then named 0, 1, …) or have one name per class.
std::string classification_report(std::span<const std::int32_t> predicted,
                                  std::span<const std::int32_t> truth,
                                  const std::vector<std::string>& class_names,
                                  int digits = 2);
std::string classification_report(const Predictions& predictions,
                                  std::span<const std::int32_t> truth,
                                  const std::vector<std::string>& class_names,
                                  int digits = 2);

}  // namespace sequent::metrics
