// Accuracy, confusion matrix, precision/recall/F1 and the text report.
#include "sequent/metrics/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace sequent::metrics {
namespace {

double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

void check_same_length(std::size_t predicted, std::size_t truth) {
  if (predicted != truth) {
    throw std::invalid_argument("metrics: " + std::to_string(predicted) +
                                " predictions for " + std::to_string(truth) +
                                " true labels");
  }
}

// Throws when class index v (a true label or a prediction, `what`) at
// sample i is outside [0, classes), naming the caller `who`.
void check_class(const char* who, const char* what, std::int32_t v,
                 std::size_t i, std::size_t classes) {
  if (v < 0 || static_cast<std::size_t>(v) >= classes) {
    throw std::invalid_argument(std::string(who) + ": " + what + " " +
                                std::to_string(v) + " at index " +
                                std::to_string(i) + " is not one of the " +
                                std::to_string(classes) + " classes");
  }
}

std::string format_row(const std::string& name, std::size_t width,
                       const std::string& p, const std::string& r,
                       const std::string& f, const std::string& support) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%*s  %9s %9s %9s %9s\n",
                static_cast<int>(width), name.c_str(), p.c_str(), r.c_str(),
                f.c_str(), support.c_str());
  return buf;
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

std::size_t ConfusionMatrix::total() const {
  std::size_t n = 0;
  for (std::size_t c : counts) n += c;
  return n;
}

ConfusionMatrix confusion_matrix(std::span<const std::int32_t> predicted,
                                 std::span<const std::int32_t> truth,
                                 std::size_t classes) {
  check_same_length(predicted.size(), truth.size());
  ConfusionMatrix m{classes, std::vector<std::size_t>(classes * classes)};
  for (std::size_t i = 0; i < truth.size(); ++i) {
    check_class("confusion_matrix", "true label", truth[i], i, classes);
    check_class("confusion_matrix", "prediction", predicted[i], i, classes);
    ++m.counts[static_cast<std::size_t>(truth[i]) * classes +
               static_cast<std::size_t>(predicted[i])];
  }
  return m;
}

double accuracy(std::span<const std::int32_t> predicted,
                std::span<const std::int32_t> truth) {
  check_same_length(predicted.size(), truth.size());
  std::size_t correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    correct += predicted[i] == truth[i];
  }
  return ratio(static_cast<double>(correct), static_cast<double>(truth.size()));
}

double top_k_accuracy(const Predictions& p, std::span<const std::int32_t> truth,
                      std::size_t k) {
  if (k == 0) throw std::invalid_argument("top_k_accuracy: k must be >= 1");
  check_same_length(p.count, truth.size());
  std::size_t hits = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const std::int32_t label = truth[i];
    check_class("top_k_accuracy", "true label", label, i, p.classes);
    const auto row = p.row(i);
    const float mine = row[static_cast<std::size_t>(label)];
    if (std::isnan(mine)) continue;
    std::size_t above = 0;
    for (const float q : row) above += q > mine;
    hits += above < k;
  }
  return ratio(static_cast<double>(hits), static_cast<double>(truth.size()));
}

Report scores(const ConfusionMatrix& m, std::vector<std::string> class_names) {
  const std::size_t k = m.classes;
  if (class_names.empty()) {
    for (std::size_t c = 0; c < k; ++c)
      class_names.push_back(std::to_string(c));
  }
  if (class_names.size() != k) {
    throw std::invalid_argument(
        "classification report: " + std::to_string(class_names.size()) +
        " class names for " + std::to_string(k) + " classes");
  }
  Report r;
  r.class_names = std::move(class_names);
  r.total = m.total();
  std::size_t correct = 0;
  for (std::size_t c = 0; c < k; ++c) {
    std::size_t predicted = 0, support = 0;
    for (std::size_t o = 0; o < k; ++o) {
      predicted += m.at(o, c);
      support += m.at(c, o);
    }
    const double tp = static_cast<double>(m.at(c, c));
    correct += m.at(c, c);
    ClassScores s;
    s.precision = ratio(tp, static_cast<double>(predicted));
    s.recall = ratio(tp, static_cast<double>(support));
    s.f1 = ratio(2 * s.precision * s.recall, s.precision + s.recall);
    s.support = support;
    r.per_class.push_back(s);
  }
  for (const ClassScores& s : r.per_class) {
    const double w =
        ratio(static_cast<double>(s.support), static_cast<double>(r.total));
    r.macro_avg.precision += s.precision / static_cast<double>(k);
    r.macro_avg.recall += s.recall / static_cast<double>(k);
    r.macro_avg.f1 += s.f1 / static_cast<double>(k);
    r.weighted_avg.precision += s.precision * w;
    r.weighted_avg.recall += s.recall * w;
    r.weighted_avg.f1 += s.f1 * w;
  }
  r.macro_avg.support = r.weighted_avg.support = r.total;
  r.accuracy =
      ratio(static_cast<double>(correct), static_cast<double>(r.total));
  return r;
}

std::string Report::to_string(int digits) const {
  std::size_t width = std::string("weighted avg").size();
  for (const std::string& n : class_names) width = std::max(width, n.size());
  auto row = [&](const std::string& name, const ClassScores& s) {
    return format_row(name, width, fixed(s.precision, digits),
                      fixed(s.recall, digits), fixed(s.f1, digits),
                      std::to_string(s.support));
  };
  std::string out =
      format_row("", width, "precision", "recall", "f1-score", "support") +
      "\n";
  for (std::size_t c = 0; c < per_class.size(); ++c) {
    out += row(class_names[c], per_class[c]);
  }
  out += "\n" + format_row("accuracy", width, "", "", fixed(accuracy, digits),
                           std::to_string(total));
  out += row("macro avg", macro_avg);
  out += row("weighted avg", weighted_avg);
  return out;
}

std::string classification_report(std::span<const std::int32_t> predicted,
                                  std::span<const std::int32_t> truth,
                                  const std::vector<std::string>& class_names,
                                  int digits) {
  std::size_t classes = class_names.size();
  if (classes == 0) {
    // Classes 0 … the largest label seen; negative labels are reported by
    // confusion_matrix below.
    for (auto labels : {truth, predicted}) {
      for (std::int32_t v : labels) {
        if (v >= 0) classes = std::max<std::size_t>(classes, v + 1);
      }
    }
  }
  return scores(confusion_matrix(predicted, truth, classes), class_names)
      .to_string(digits);
}

ConfusionMatrix confusion_matrix(const Predictions& predictions,
                                 std::span<const std::int32_t> truth) {
  return confusion_matrix(predictions.labels, truth, predictions.classes);
}

std::string classification_report(const Predictions& predictions,
                                  std::span<const std::int32_t> truth,
                                  const std::vector<std::string>& class_names,
                                  int digits) {
  return classification_report(predictions.labels, truth, class_names, digits);
}

}  // namespace sequent::metrics
