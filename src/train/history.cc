// History tables and CSV, and the summary table layout.
#include "sequent/train/history.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sequent/summary.hpp"

namespace sequent {
namespace {

std::string fixed(double value, int decimals) {
  if (std::isnan(value)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// `decimals` places, or below 0.001 (where they would show a loss of 8e-14
// as 0) scientific notation with `mantissa_decimals`: format_metric and
// format_csv.
std::string with_decimals(double value, int decimals, int mantissa_decimals) {
  char buf[32];
  if (value != 0 && std::fabs(value) < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.*e", mantissa_decimals, value);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  }
  return buf;
}

// Display width of UTF-8 text: count the bytes that start a code point.
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string pad(const std::string& s, std::size_t w, bool right = false) {
  const std::size_t have = width(s);
  const std::string fill(have < w ? w - have : 0, ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

const char* metric_name(Metric metric) {
  switch (metric) {
    case Metric::kPrecision:
      return "precision";
    case Metric::kRecall:
      return "recall";
    case Metric::kF1:
      return "f1";
  }
  return "?";
}

double EpochRecord::value(const std::string& name) const {
  static const std::pair<const char*, double EpochRecord::*> kFields[] = {
      {"loss", &EpochRecord::loss},
      {"accuracy", &EpochRecord::accuracy},
      {"precision", &EpochRecord::precision},
      {"recall", &EpochRecord::recall},
      {"f1", &EpochRecord::f1},
      {"val_loss", &EpochRecord::val_loss},
      {"val_accuracy", &EpochRecord::val_accuracy},
      {"val_precision", &EpochRecord::val_precision},
      {"val_recall", &EpochRecord::val_recall},
      {"val_f1", &EpochRecord::val_f1},
      {"seconds", &EpochRecord::seconds},
      {"learning_rate", &EpochRecord::learning_rate}};
  for (const auto& [field_name, field] : kFields) {
    if (name == field_name) return this->*field;
  }
  std::string known;
  for (const auto& entry : kFields) {
    known += (known.empty() ? "" : ", ") + std::string(entry.first);
  }
  throw std::invalid_argument("unknown metric '" + name + "' (" + known + ")");
}

std::vector<std::string> metric_columns(const std::vector<Metric>& metrics) {
  std::vector<std::string> out;
  for (const char* prefix : {"", "val_"}) {
    out.push_back(std::string(prefix) + "loss");
    out.push_back(std::string(prefix) + "accuracy");
    for (Metric m : metrics)
      out.push_back(prefix + std::string(metric_name(m)));
  }
  return out;
}

std::vector<double> History::series(const std::string& metric) const {
  EpochRecord{}.value(metric);  // an unknown name throws even when empty
  std::vector<double> out;
  for (const EpochRecord& e : epochs) out.push_back(e.value(metric));
  return out;
}

// Every epoch of one fit measures the same metrics; the first says which.
std::vector<std::string> History::columns() const {
  return metric_columns(epochs.empty() ? std::vector<Metric>{}
                                       : epochs.front().metrics);
}

std::string format_metric(double value) {
  return std::isnan(value) ? "-" : with_decimals(value, 4, 3);
}

std::string History::to_string() const {
  std::vector<std::string> cols;
  for (const std::string& c : columns()) {
    const bool measured = std::any_of(
        epochs.begin(), epochs.end(),
        [&](const EpochRecord& e) { return !std::isnan(e.value(c)); });
    if (measured || epochs.empty()) cols.push_back(c);
  }
  constexpr std::size_t kCell = 9;  // "8.000e-14"
  std::string out = "epoch";
  for (const std::string& c : cols) out += "  " + pad(c, kCell, true);
  out += "  seconds         lr\n";
  for (const EpochRecord& e : epochs) {
    out += pad(std::to_string(e.epoch), 5, true);
    for (const std::string& c : cols) {
      out += "  " + pad(format_metric(e.value(c)),
                        std::max<std::size_t>(kCell, c.size()), true);
    }
    out += "  " + pad(fixed(e.seconds, 2), 7, true) + "  " +
           pad(format_metric(e.learning_rate), 9, true) + "\n";
  }
  return out;
}

std::string format_csv(double value) {
  return std::isnan(value) ? "" : with_decimals(value, 6, 6);
}

std::string History::to_csv() const {
  const auto cell = format_csv;
  const std::vector<std::string> cols = columns();
  std::string out = "epoch";
  for (const std::string& c : cols) out += "," + c;
  out += ",seconds,lr\n";
  for (const EpochRecord& e : epochs) {
    out += std::to_string(e.epoch);
    for (const std::string& c : cols) out += "," + cell(e.value(c));
    out += "," + cell(e.seconds) + "," + cell(e.learning_rate) + "\n";
  }
  return out;
}

namespace detail {

std::string thousands(std::size_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_summary(const std::string& title,
                           const std::vector<SummaryRow>& rows,
                           const std::vector<std::string>& footer) {
  SummaryRow head{"#", "Layer (as written)", "Output shape", "Param #",
                  "Runs as (training, after fusion)"};
  std::size_t w[4] = {width(head.index), width(head.layer), width(head.shape),
                      width(head.params)};
  std::size_t total = 0;
  for (const SummaryRow& r : rows) {
    w[0] = std::max(w[0], width(r.index));
    w[1] = std::max(w[1], width(r.layer));
    w[2] = std::max(w[2], width(r.shape));
    w[3] = std::max(w[3], width(r.params));
  }
  auto line = [&](const SummaryRow& r) {
    std::string s = pad(r.index, w[0], true) + "  " + pad(r.layer, w[1]) +
                    "  " + pad(r.shape, w[2]) + "  " +
                    pad(r.params, w[3], true) + "  " + r.runs_as;
    while (!s.empty() && s.back() == ' ') s.pop_back();
    total = std::max(total, width(s));
    return s + "\n";
  };
  std::string body = line(head);
  std::string table_rows;
  for (const SummaryRow& r : rows) table_rows += line(r);
  const std::string rule(total, '=');
  const std::string thin(total, '-');
  std::string out = title + "\n" + rule + "\n" + body + thin + "\n" +
                    table_rows + rule + "\n";
  for (const std::string& f : footer) out += f + "\n";
  return out;
}

}  // namespace detail
}  // namespace sequent
