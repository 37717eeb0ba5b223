// History tables and CSV, and the summary table layout.
#include "sequent/train/history.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>
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

std::vector<double> History::series(const std::string& metric) const {
  double EpochRecord::*field = nullptr;
  if (metric == "loss") field = &EpochRecord::loss;
  if (metric == "accuracy") field = &EpochRecord::accuracy;
  if (metric == "val_loss") field = &EpochRecord::val_loss;
  if (metric == "val_accuracy") field = &EpochRecord::val_accuracy;
  if (metric == "seconds") field = &EpochRecord::seconds;
  if (field == nullptr) {
    throw std::invalid_argument(
        "History has no metric '" + metric +
        "' (loss, accuracy, val_loss, val_accuracy, seconds)");
  }
  std::vector<double> out;
  for (const EpochRecord& e : epochs) out.push_back(e.*field);
  return out;
}

std::string History::to_string() const {
  std::string out =
      "epoch      loss  accuracy  val_loss  val_accuracy  seconds\n";
  for (const EpochRecord& e : epochs) {
    out += pad(std::to_string(e.epoch), 5, true) + "  " +
           pad(fixed(e.loss, 4), 8, true) + "  " +
           pad(fixed(e.accuracy, 4), 8, true) + "  " +
           pad(fixed(e.val_loss, 4), 8, true) + "  " +
           pad(fixed(e.val_accuracy, 4), 12, true) + "  " +
           pad(fixed(e.seconds, 2), 7, true) + "\n";
  }
  return out;
}

std::string History::to_csv() const {
  auto cell = [](double v) { return std::isnan(v) ? std::string() : fixed(v, 6); };
  std::string out = "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n";
  for (const EpochRecord& e : epochs) {
    out += std::to_string(e.epoch) + "," + cell(e.loss) + "," +
           cell(e.accuracy) + "," + cell(e.val_loss) + "," +
           cell(e.val_accuracy) + "," + cell(e.seconds) + "\n";
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
